/*  many_schools - thousands of schools connected to one aggregator at once
 *
 *    many_schools ENDPOINT SERVER_CERT CLIENTS_DIR N
 *
 *  Makes N CURVE certificates (public halves into CLIENTS_DIR, named by school code
 *  2100000001…), opens N DEALER sockets to the aggregator at ENDPOINT, each sends one batch of
 *  one record for its own school, and waits for every acknowledgement. Prints how long the
 *  connections and the answers took, then keeps the connections open until stdin closes, so
 *  the aggregator's file descriptors and memory can be read meanwhile.
 */
#include <edu/v1/eduwatch.pb-c.h>

#include <czmq.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: many_schools ENDPOINT SERVER_CERT CLIENTS_DIR N\n");
        return 2;
    }
    int n = atoi(argv[4]);
    zsys_set_max_sockets(0); // as many as the system allows
    zsys_init();
    zcert_t *server = zcert_load(argv[2]);
    if (!server) {
        fprintf(stderr, "many_schools: cannot load %s\n", argv[2]);
        return 1;
    }
    zsock_t **socks = calloc((size_t) n, sizeof *socks);
    char code[16], path[1024];
    for (int i = 0; i < n; i++) {
        snprintf(code, sizeof code, "21%08d", i + 1);
        zcert_t *cert = zcert_new();
        snprintf(path, sizeof path, "%s/%s", argv[3], code);
        zcert_save_public(cert, path);
        socks[i] = zsock_new(ZMQ_DEALER);
        zsock_set_linger(socks[i], 0);
        zcert_apply(cert, socks[i]);
        zsock_set_curve_serverkey(socks[i], zcert_public_txt(server));
        zcert_destroy(&cert);
    }
    int64_t t0 = zclock_mono();
    for (int i = 0; i < n; i++)
        zsock_connect(socks[i], "%s", argv[1]);
    for (int i = 0; i < n; i++) {
        snprintf(code, sizeof code, "21%08d", i + 1);
        Edu__V1__Record r = EDU__V1__RECORD__INIT;
        r.seq = 1, r.school_code = code, r.indicator = "training_hours", r.period = "2025-2026";
        r.value = 80 + i % 10, r.source_file = "x.csv", r.source_row = 2;
        Edu__V1__Record *records[] = {&r};
        char spool[33];
        snprintf(spool, sizeof spool, "%032x", i + 1);
        Edu__V1__Batch b = EDU__V1__BATCH__INIT;
        b.spool_id = spool, b.floor = 1, b.n_records = 1, b.records = records;
        size_t size = edu__v1__batch__get_packed_size(&b);
        uint8_t *buf = malloc(size);
        edu__v1__batch__pack(&b, buf);
        zmq_send(zsock_resolve(socks[i]), buf, size, 0);
        free(buf);
    }
    zpoller_t *poller = zpoller_new(NULL);
    for (int i = 0; i < n; i++)
        zpoller_add(poller, socks[i]);
    int answered = 0;
    while (answered < n && !zsys_interrupted) {
        zsock_t *which = zpoller_wait(poller, 60000);
        if (!which)
            break;
        zframe_t *ack = zframe_recv(which);
        zframe_destroy(&ack);
        answered++;
    }
    printf("%d schools connected, %d answered in %lld ms\n", n, answered,
           (long long) (zclock_mono() - t0));
    fflush(stdout);
    char line[16];
    while (fgets(line, sizeof line, stdin)) // hold the connections until told
        ;
    zpoller_destroy(&poller);
    for (int i = 0; i < n; i++)
        zsock_destroy(&socks[i]);
    free(socks);
    zcert_destroy(&server);
    return answered == n ? 0 : 1;
}
