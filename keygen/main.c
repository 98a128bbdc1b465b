/*  edu-keygen - writes a CURVE certificate pair in CZMQ's format
 *
 *  edu-keygen --out DIR NAME writes DIR/NAME (public) and DIR/NAME_secret. NAME is what the
 *  peer is known as: a school's 学校标识码, "aggregator", a supervisor's or the province's name.
 */
#include "keys.h"
#include "util.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

static void s_usage(FILE *f)
{
    fprintf(f, "usage: edu-keygen --out DIR [--name PERSON] NAME\n"
               "\n"
               "Writes a CURVE certificate pair in CZMQ's format: DIR/NAME holds the public key\n"
               "(give it to the peer that must recognise NAME: the aggregator's `clients` or\n"
               "`readers` directory, or a collector's `server`), DIR/NAME_secret holds both keys\n"
               "(keep it on NAME's own machine, readable only by its service).\n"
               "A school's NAME is its 10-digit school code; the aggregator binds the key to it.\n"
               "A supervisor's certificate names the person in its `name` metadata, which the\n"
               "county shows as the actor of every act on a case (default: NAME).\n"
               "\n"
               "  -o, --out DIR   directory to write into (created if missing)\n"
               "  -n, --name PERSON  who holds the key, e.g. \"张督学\" (at most 64 bytes of UTF-8)\n"
               "  -f, --force     overwrite an existing pair\n"
               "  -h, --help      this text\n"
               "  -V, --version   print the version\n");
}

int main(int argc, char **argv)
{
    static const struct option options[] = {{"out", required_argument, NULL, 'o'},
                                            {"name", required_argument, NULL, 'n'},
                                            {"force", no_argument, NULL, 'f'},
                                            {"help", no_argument, NULL, 'h'},
                                            {"version", no_argument, NULL, 'V'},
                                            {NULL, 0, NULL, 0}};
    const char *out = NULL, *person = NULL;
    bool force = false;
    int c;
    while ((c = getopt_long(argc, argv, "o:n:fhV", options, NULL)) != -1) {
        switch (c) {
        case 'o': out = optarg; break;
        case 'n': person = optarg; break;
        case 'f': force = true; break;
        case 'h': s_usage(stdout); return 0;
        case 'V': printf("edu-keygen %s\n", EDU_VERSION); return 0;
        default: s_usage(stderr); return 2;
        }
    }
    if (!out || optind != argc - 1) {
        s_usage(stderr);
        return 2;
    }
    const char *name = argv[optind];
    if (!*name || strchr(name, '/') || name[0] == '.' || str_ends_with(name, "_secret")) {
        fprintf(stderr, "edu-keygen: cannot use name \"%s\": it must be a plain file name\n", name);
        return 2;
    }
    if (person && (!*person || strlen(person) > 64 || !utf8_valid(person, strlen(person)) ||
                   strpbrk(person, "\n\r\"\\"))) {
        fprintf(stderr, "edu-keygen: cannot use --name \"%s\": 1 to 64 bytes of UTF-8 on one "
                        "line, without quotes or backslashes\n", person);
        return 2;
    }
    if (mkdir(out, 0755) != 0 && errno != EEXIST) {
        fprintf(stderr, "edu-keygen: could not create \"%s\": %s\n", out, strerror(errno));
        return 1;
    }
    char *path = xasprintf("%s/%s", out, name);
    struct stat st;
    if (!force && stat(path, &st) == 0) {
        fprintf(stderr, "edu-keygen: \"%s\" exists; use --force to replace it\n", path);
        free(path);
        return 1;
    }
    zcert_t *cert = zcert_new();
    zcert_set_meta(cert, "name", "%s", person ? person : name);
    int rc = zcert_save(cert, path);
    if (rc == 0) {
        char *secret = xasprintf("%s_secret", path);
        rc = chmod(secret, 0600);
        free(secret);
    }
    if (rc != 0)
        fprintf(stderr, "edu-keygen: could not write \"%s\": %s\n", path, strerror(errno));
    else
        printf("%s\n", zcert_public_txt(cert));
    zcert_destroy(&cert);
    free(path);
    return rc == 0 ? 0 : 1;
}
