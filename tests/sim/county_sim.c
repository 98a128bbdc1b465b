/*  county_sim - a county server for benchmarks: answers the province's pull for any county
 *
 *    county_sim ENDPOINT CERT_DIR ROWS
 *
 *  Binds ENDPOINT as a CURVE server with the certificate CERT_DIR/sim_secret (made if
 *  missing; clients are not authenticated) and serves, for whatever county is asked, ROWS
 *  aggregate rows with versions 1..ROWS and one county-level warning change every 20 rows,
 *  paged like the aggregator (docs/protocol.md). Restarted with more ROWS it serves the extra
 *  rows as new versions, for an incremental pull. Runs until SIGINT or SIGTERM.
 */
#include "query.h"

#include <czmq.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void s_page(zmsg_t *reply, const char *county, unsigned long long from, long limit,
                   long rows)
{
    unsigned long long to = from + (unsigned long long) limit;
    if (to > (unsigned long long) rows)
        to = (unsigned long long) rows;
    if (to < from)
        to = from;
    zchunk_t *aggregates = zchunk_new(NULL, 4096), *warnings = zchunk_new(NULL, 256);
    char line[256];
    for (unsigned long long v = from + 1; v <= to; v++) {
        int n = snprintf(line, sizeof line,
                         "%llu\t%s\tind%llu\t2025-2026\t%llu\t%g\t%g\t%g\t%g\t%llu\t%llu\t%llu\n",
                         v, v % 2 ? "primary" : "junior", v, 10 + v % 20, 50.0 + (double) (v % 7),
                         40.0, 60.0, 0.1 + (double) (v % 5) / 10, v % 3, v % 4, 10 + v % 5);
        zchunk_extend(aggregates, line, (size_t) n);
        if (v % 20 == 0) {
            n = snprintf(line, sizeof line, "%llu\tdispersion\tprimary\tind%llu\t2025-2026\t%s\t%g"
                         "\tsimulated\n", v, v, v % 40 ? "yellow" : "red", 0.35);
            zchunk_extend(warnings, line, (size_t) n);
        }
    }
    char cursor[24];
    snprintf(cursor, sizeof cursor, "%llu", to);
    zmsg_addstr(reply, QUERY_OK);
    zmsg_addstr(reply, county);
    zmsg_addstr(reply, cursor);
    zmsg_addstr(reply, to < (unsigned long long) rows ? "1" : "0");
    zmsg_addmem(reply, zchunk_data(aggregates), zchunk_size(aggregates));
    zmsg_addmem(reply, zchunk_data(warnings), zchunk_size(warnings));
    zchunk_destroy(&aggregates);
    zchunk_destroy(&warnings);
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: county_sim ENDPOINT CERT_DIR ROWS\n");
        return 2;
    }
    long rows = atol(argv[3]);
    char path[1024];
    snprintf(path, sizeof path, "%s/sim_secret", argv[2]);
    zcert_t *cert = zcert_load(path);
    if (!cert) {
        cert = zcert_new();
        snprintf(path, sizeof path, "%s/sim", argv[2]);
        zcert_save(cert, path);
    }
    zsock_t *router = zsock_new(ZMQ_ROUTER);
    zsock_set_linger(router, 0);
    zcert_apply(cert, router);
    zsock_set_curve_server(router, 1);
    if (zsock_bind(router, "%s", argv[1]) < 0) {
        fprintf(stderr, "county_sim: cannot bind %s\n", argv[1]);
        return 1;
    }
    printf("ready\n");
    fflush(stdout);
    while (!zsys_interrupted) {
        zmsg_t *request = zmsg_recv(router);
        if (!request)
            break;
        zframe_t *id = zmsg_pop(request);
        char *what = zmsg_popstr(request), *county = zmsg_popstr(request);
        char *cursor = zmsg_popstr(request), *limit = zmsg_popstr(request);
        zmsg_t *reply = zmsg_new();
        zmsg_append(reply, &id);
        if (what && county && cursor && limit && strcmp(what, QUERY_PULL) == 0)
            s_page(reply, county, strtoull(cursor, NULL, 10), atol(limit), rows);
        else {
            zmsg_addstr(reply, QUERY_ERROR);
            zmsg_addstr(reply, "unknown request");
        }
        zmsg_send(&reply, router);
        free(what), free(county), free(cursor), free(limit);
        zmsg_destroy(&request);
    }
    zsock_destroy(&router);
    zcert_destroy(&cert);
    return 0;
}
