/*  cli - the options every program takes: -c FILE, --check, -v, --help, --version, --example
 *
 *  Each program lists CLI_OPTIONS among its long options, passes CLI_SHORT to getopt_long,
 *  handles its own options first and hands every other one to cli_option:
 *
 *      cli_t cli = {.program = "edu-collector", .keys = collector_config_keys, .usage = s_usage};
 *      while ((c = getopt_long(argc, argv, CLI_SHORT, options, NULL)) != -1)
 *          if (cli_option(&cli, c, optarg, &status) < 0)
 *              return status;
 */
#ifndef EDU_CLI_H
#define EDU_CLI_H

#include "config.h"

#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>

#define CLI_SHORT "c:vhV"
#define CLI_OPTIONS                                                                              \
    {"config", required_argument, NULL, 'c'}, {"check", no_argument, NULL, 'k'},                \
        {"verbose", no_argument, NULL, 'v'}, {"help", no_argument, NULL, 'h'},                   \
        {"version", no_argument, NULL, 'V'}, {"example", no_argument, NULL, 'E'}

typedef struct {
    const char *program;      // "edu-collector": its name in messages
    const config_key_t *keys; // its configuration's table, for --example
    void (*usage)(FILE *f);   // prints its --help
    const char *path;         // -c FILE (NULL until given)
    bool check;               // --check
} cli_t;

/*  Handles the option getopt_long returned (c, with its argument arg). Returns 1 when it was one
 *  of the common options and parsing goes on; -1 when the program ends now with *status (0
 *  after --help, --version or --example; 2 after an option it does not know, with a hint on
 *  stderr). */
int cli_option(cli_t *self, int c, const char *arg, int *status);

#endif
