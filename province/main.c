/*  edu-province - the province: command line, then the pull loop, a review or a bulletin */
#include "cli.h"
#include "log.h"
#include "province.h"
#include "query.h"
#include "report.h"

#include <czmq.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void s_usage(FILE *f)
{
    fprintf(f,
            "usage: edu-province -c FILE [--check] [-v] COMMAND\n"
            "\n"
            "The province (省级汇聚): pulls every configured county's aggregates per stage x\n"
            "indicator x period of the years the county has approved (县级审核), its county-level\n"
            "warnings, the years' approval, late changes and cases into the province database\n"
            "(province.county_indicator, province.county_period, ...), incrementally from each\n"
            "county's stored cursor, all counties at once; serves the province's page; accepts or\n"
            "returns a county's year; writes the bulletin (通报).\n"
            "\n"
            "Commands:\n"
            "  pull               pull every county every interval_s, for ever (and serve the\n"
            "                     page at [province] http)\n"
            "      --once         pull every county once; exit 0 only if every county succeeded\n"
            "                     (each failure is named on stderr)\n"
            "  migrate            bring the province schema up to date, then exit\n"
            "  accept COUNTY PERIOD\n"
            "                     accept the county's approved year (省级确认)\n"
            "  return COUNTY PERIOD --reason TEXT\n"
            "                     return it to the county (退回; it is open again there); the\n"
            "                     reason is one line of at most %d bytes\n"
            "  report PERIOD --out FILE.xlsx|FILE.csv\n"
            "                     write the bulletin of the year: summary, rankings, red lists,\n"
            "                     late changes, unapproved counties, escalated cases\n"
            "\n"
            "  -c, --config FILE  configuration (INI; see below)\n"
            "      --check        check FILE, then exit\n"
            "  -v, --verbose      log debug lines\n"
            "  -h, --help         this text\n"
            "  -V, --version      print the version\n"
            "      --example      print the configuration file, every key at its default\n"
            "\n"
            "Configuration, every key at its default:\n\n",
            QUERY_MAX_NOTE);
    config_print_example(f, province_config_keys);
}

/*  The commands: name, operands, and the options each allows. */
static const struct {
    const char *name;
    int operands;
    bool once, reason, out; // allowed options
} s_commands[] = {
    {"pull", 0, true, false, false},     {"migrate", 0, false, false, false},
    {"accept", 2, false, false, false},  {"return", 2, false, true, false},
    {"report", 1, false, false, true},
};

int main(int argc, char **argv)
{
    static const struct option options[] = {CLI_OPTIONS,
                                            {"once", no_argument, NULL, 'o'},
                                            {"reason", required_argument, NULL, 'r'},
                                            {"out", required_argument, NULL, 'O'},
                                            {NULL, 0, NULL, 0}};
    cli_t cli = {.program = "edu-province", .keys = province_config_keys, .usage = s_usage};
    const char *reason = NULL, *out = NULL;
    bool once = false;
    int c, status;
    while ((c = getopt_long(argc, argv, CLI_SHORT, options, NULL)) != -1) {
        if (c == 'o')
            once = true;
        else if (c == 'r')
            reason = optarg;
        else if (c == 'O')
            out = optarg;
        else if (cli_option(&cli, c, optarg, &status) < 0)
            return status;
    }
    const char *path = cli.path;
    bool check = cli.check;
    const char *command = optind < argc ? argv[optind] : NULL;
    size_t k = 0, n = sizeof s_commands / sizeof *s_commands;
    while (command && k < n && strcmp(command, s_commands[k].name) != 0)
        k++;
    bool known = command && k < n;
    if (!path || (!check && !known) || (command && !known) ||
        (known && argc - optind - 1 != s_commands[k].operands) ||
        (!known && (once || reason || out)) ||
        (known && ((once && !s_commands[k].once) || (reason && !s_commands[k].reason) ||
                   (out && !s_commands[k].out))) ||
        (known && s_commands[k].reason && !reason) || (known && s_commands[k].out && !out)) {
        fprintf(stderr, "usage: edu-province -c FILE pull [--once] | migrate |"
                        " accept COUNTY PERIOD | return COUNTY PERIOD --reason TEXT |"
                        " report PERIOD --out FILE (try --help)\n");
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
    } else if (strcmp(command, "accept") == 0 || strcmp(command, "return") == 0) {
        char *answer = NULL;
        rc = province_review(&config, strcmp(command, "accept") == 0 ? QUERY_ACCEPT
                                                                     : QUERY_RETURN,
                             argv[optind + 1], argv[optind + 2], reason, &answer, err,
                             sizeof err);
        if (rc == 0)
            printf("%s\n", answer);
        else
            fprintf(stderr, "edu-province: %s\n", err);
        free(answer);
    } else if (strcmp(command, "report") == 0) {
        rc = province_migrate(&config, err, sizeof err) == 0
                 ? report_write(config.database, argv[optind + 1], out, err, sizeof err)
                 : -1;
        if (rc == 0)
            printf("已写出 %s\n", out);
        else
            fprintf(stderr, "edu-province: %s\n", err);
    } else {
        zsys_init(); // SIGINT and SIGTERM end the loop after the page in hand
        rc = province_pull(&config, once);
    }
    province_config_free(&config);
    return rc == 0 ? 0 : 1;
}
