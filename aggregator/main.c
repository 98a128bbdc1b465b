/*  edu-aggregator - the county's aggregator: command line, then the actor */
#include "aggregator.h"
#include "http.h"
#include "log.h"
#include "migrate.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

static void s_usage(FILE *f)
{
    fprintf(f,
            "usage: edu-aggregator -c FILE [--check] [-v] [migrate]\n"
            "\n"
            "The county's aggregator (县级汇聚): authenticates each school's collector by its\n"
            "CURVE key, validates every record against the registry and the indicator catalog,\n"
            "stores it exactly once in PostgreSQL and acknowledges it. Brings the database\n"
            "schema up to date before it listens. SIGHUP reloads the rules and the registry;\n"
            "SIGTERM stops after the batch in hand.\n"
            "\n"
            "  -c, --config FILE  configuration (INI; see below)\n"
            "      --check        check FILE and the rules and schools files it names, then exit\n"
            "  -v, --verbose      log debug lines\n"
            "  -h, --help         this text\n"
            "  -V, --version      print the version\n"
            "      --example      print the configuration file, every key at its default\n"
            "\n"
            "commands:\n"
            "  migrate            bring the database schema up to date, then exit\n"
            "\n"
            "Configuration, every key at its default:\n\n");
    config_print_example(f, aggregator_config_keys);
}

int main(int argc, char **argv)
{
    static const struct option options[] = {{"config", required_argument, NULL, 'c'},
                                            {"check", no_argument, NULL, 'k'},
                                            {"verbose", no_argument, NULL, 'v'},
                                            {"help", no_argument, NULL, 'h'},
                                            {"version", no_argument, NULL, 'V'},
                                            {"example", no_argument, NULL, 'E'},
                                            {NULL, 0, NULL, 0}};
    const char *path = NULL;
    bool check = false;
    int c;
    while ((c = getopt_long(argc, argv, "c:vhV", options, NULL)) != -1) {
        switch (c) {
        case 'c': path = optarg; break;
        case 'k': check = true; break;
        case 'v': log_set_level(LOG_LEVEL_DEBUG); break;
        case 'h': s_usage(stdout); return 0;
        case 'V': printf("edu-aggregator %s\n", EDU_VERSION); return 0;
        case 'E': config_print_example(stdout, aggregator_config_keys); return 0;
        default: fprintf(stderr, "try: edu-aggregator --help\n"); return 2;
        }
    }
    const char *command = optind < argc ? argv[optind] : NULL;
    if (!path || optind < argc - 1 || (command && strcmp(command, "migrate") != 0)) {
        fprintf(stderr, "usage: edu-aggregator -c FILE [--check] [migrate] (try --help)\n");
        return 2;
    }
    char err[1024];
    aggregator_config_t config;
    if (aggregator_config_load(path, &config, err, sizeof err) != 0) {
        fprintf(stderr, "edu-aggregator: %s\n", err);
        aggregator_config_free(&config);
        return 1;
    }
    int rc = 0;
    if (check && aggregator_config_check_keys(path, &config, err, sizeof err) != 0) {
        fprintf(stderr, "edu-aggregator: %s\n", err);
        rc = -1;
    } else if (check) {
        if (*config.http && !http_is_loopback(config.http))
            fprintf(stderr, "edu-aggregator: warning: %s: http = %s serves the dashboard and "
                    "metrics beyond this machine without a password; put it behind a proxy with "
                    "authentication (docs/operations.md, \"The dashboard\")\n", path, config.http);
        printf("%s: ok\n", path);
    } else if (command) {
        rc = migrate_county(config.owner_database, config.database, config.query_database, err,
                            sizeof err);
        if (rc != 0)
            fprintf(stderr, "edu-aggregator: %s\n", err);
    } else {
        aggregator_t *self = aggregator_new(&config, err, sizeof err);
        if (!self) {
            fprintf(stderr, "edu-aggregator: %s\n", err);
            rc = -1;
        } else {
            rc = aggregator_run(self);
            aggregator_destroy(&self);
        }
    }
    aggregator_config_free(&config);
    return rc == 0 ? 0 : 1;
}
