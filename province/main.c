/*  edu-province - the province's puller: command line, then the pull loop */
#include "log.h"
#include "province.h"

#include <czmq.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

static void s_usage(FILE *f)
{
    fprintf(f,
            "usage: edu-province -c FILE [--check] [-v] pull [--once] | migrate\n"
            "\n"
            "The province's puller (省级汇聚): pulls every configured county's aggregates per\n"
            "stage x indicator x period and its county-level warnings into the province\n"
            "database (province.county_indicator, province.county_warning), incrementally from\n"
            "each county's stored cursor, all counties at once.\n"
            "\n"
            "  pull               pull every county every interval_s, for ever\n"
            "      --once         pull every county once; exit 0 only if every county succeeded\n"
            "                     (each failure is named on stderr)\n"
            "  migrate            bring the province schema up to date, then exit\n"
            "\n"
            "  -c, --config FILE  configuration (INI; see below)\n"
            "      --check        check FILE, then exit\n"
            "  -v, --verbose      log debug lines\n"
            "  -h, --help         this text\n"
            "  -V, --version      print the version\n"
            "      --example      print the configuration file, every key at its default\n"
            "\n"
            "Configuration, every key at its default:\n\n");
    config_print_example(f, province_config_keys);
}

int main(int argc, char **argv)
{
    static const struct option options[] = {{"config", required_argument, NULL, 'c'},
                                            {"check", no_argument, NULL, 'k'},
                                            {"once", no_argument, NULL, 'o'},
                                            {"verbose", no_argument, NULL, 'v'},
                                            {"help", no_argument, NULL, 'h'},
                                            {"version", no_argument, NULL, 'V'},
                                            {"example", no_argument, NULL, 'E'},
                                            {NULL, 0, NULL, 0}};
    const char *path = NULL;
    bool check = false, once = false;
    int c;
    while ((c = getopt_long(argc, argv, "c:vhV", options, NULL)) != -1) {
        switch (c) {
        case 'c': path = optarg; break;
        case 'k': check = true; break;
        case 'o': once = true; break;
        case 'v': log_set_level(LOG_LEVEL_DEBUG); break;
        case 'h': s_usage(stdout); return 0;
        case 'V': printf("edu-province %s\n", EDU_VERSION); return 0;
        case 'E': config_print_example(stdout, province_config_keys); return 0;
        default: fprintf(stderr, "try: edu-province --help\n"); return 2;
        }
    }
    const char *command = optind < argc ? argv[optind] : NULL;
    bool known = command && (strcmp(command, "pull") == 0 || strcmp(command, "migrate") == 0);
    if (!path || optind < argc - 1 || (!check && !known) || (command && !known) ||
        (once && (!command || strcmp(command, "pull") != 0))) {
        fprintf(stderr, "usage: edu-province -c FILE pull [--once] | migrate (try --help)\n");
        return 2;
    }
    char err[1024];
    province_config_t config;
    int rc = province_config_load(path, &config, err, sizeof err);
    if (rc != 0) {
        fprintf(stderr, "edu-province: %s\n", err);
        rc = 1;
    } else if (check) {
        printf("%s: ok (%zu counties)\n", path, config.county_count);
    } else if (strcmp(command, "migrate") == 0) {
        rc = province_migrate(&config, err, sizeof err);
        if (rc != 0)
            fprintf(stderr, "edu-province: %s\n", err);
    } else {
        zsys_init(); // SIGINT and SIGTERM end the loop after the page in hand
        rc = province_pull(&config, once);
    }
    province_config_free(&config);
    return rc == 0 ? 0 : 1;
}
