/*  cli - the options every program takes (see cli.h) */
#include "cli.h"

#include "log.h"

int cli_option(cli_t *self, int c, const char *arg, int *status)
{
    *status = 0;
    switch (c) {
    case 'c': self->path = arg; return 1;
    case 'k': self->check = true; return 1;
    case 'v': log_set_level(LOG_LEVEL_DEBUG); return 1;
    case 'h': self->usage(stdout); return -1;
    case 'V': printf("%s %s\n", self->program, EDU_VERSION); return -1;
    case 'E': config_print_example(stdout, self->keys); return -1;
    default:
        fprintf(stderr, "try: %s --help\n", self->program);
        *status = 2;
        return -1;
    }
}
