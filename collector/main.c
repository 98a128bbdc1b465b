/*  edu-collector - a school's collector: command line, then the actor */
#include "cli.h"
#include "collector.h"

#include <getopt.h>
#include <stdio.h>

static void s_usage(FILE *f)
{
    fprintf(f,
            "usage: edu-collector -c FILE [--check] [-v]\n"
            "\n"
            "A school's collector (学校采集端): takes the CSV files staff drop into the inbox\n"
            "(header school_code,indicator,period,value; UTF-8 or GB18030), keeps every record\n"
            "in a durable spool, and streams it to the county aggregator until the county has\n"
            "stored it. A file is taken once its writer has finished (renamed in: at once;\n"
            "written in place: settle_ms after it was closed). Taken files move to inbox/done/,\n"
            "and appear in inbox/delivered/ once the county has stored them; rows that cannot\n"
            "be read and records the county refuses are listed, in Chinese, in\n"
            "inbox/rejected/<file>.errors.csv; inbox/状态.txt tells staff what waits and whom\n"
            "to call when the county does not answer.\n"
            "\n"
            "  -c, --config FILE  configuration (INI; see below)\n"
            "      --check        check FILE, then exit\n"
            "  -v, --verbose      log debug lines\n"
            "  -h, --help         this text\n"
            "  -V, --version      print the version\n"
            "      --example      print the configuration file, every key at its default\n"
            "\n"
            "Configuration, every key at its default:\n\n");
    config_print_example(f, collector_config_keys);
}

int main(int argc, char **argv)
{
    static const struct option options[] = {CLI_OPTIONS, {NULL, 0, NULL, 0}};
    cli_t cli = {.program = "edu-collector", .keys = collector_config_keys, .usage = s_usage};
    int c, status;
    while ((c = getopt_long(argc, argv, CLI_SHORT, options, NULL)) != -1)
        if (cli_option(&cli, c, optarg, &status) < 0)
            return status;
    const char *path = cli.path;
    bool check = cli.check;
    if (!path || optind != argc) {
        fprintf(stderr, "usage: edu-collector -c FILE [--check] (try --help)\n");
        return 2;
    }
    char err[1024];
    collector_config_t config;
    int rc = collector_config_load(path, &config, err, sizeof err);
    if (rc != 0) {
        fprintf(stderr, "edu-collector: %s\n", err);
    } else if (check) {
        printf("%s: ok\n", path);
    } else {
        collector_t *self = collector_new(&config, err, sizeof err);
        if (!self) {
            fprintf(stderr, "edu-collector: %s\n", err);
            rc = -1;
        } else {
            rc = collector_run(self);
            collector_destroy(&self);
        }
    }
    collector_config_free(&config);
    return rc == 0 ? 0 : 1;
}
