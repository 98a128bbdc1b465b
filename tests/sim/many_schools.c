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
    // one zmq_poll over the schools still waiting, every answer it reports taken at once
    // (zpoller hands back one socket a call, and each call polls all of them: with thousands
    // waiting the simulator, not the aggregator, would be what the figure measures)
    zmq_pollitem_t *items = calloc((size_t) n, sizeof *items);
    for (int i = 0; i < n; i++)
        items[i] = (zmq_pollitem_t){.socket = zsock_resolve(socks[i]), .events = ZMQ_POLLIN};
    int waiting = n, answered = 0;
    int64_t first = -1, half = -1; // when the first answer came, and half of them
    while (waiting > 0 && !zsys_interrupted) {
        int ready = zmq_poll(items, waiting, 60000);
        if (ready <= 0)
            break;
        for (int i = 0; i < waiting;) {
            zmq_msg_t ack;
            zmq_msg_init(&ack);
            if ((items[i].revents & ZMQ_POLLIN) &&
                zmq_msg_recv(&ack, items[i].socket, ZMQ_DONTWAIT) >= 0) {
                answered++;
                if (answered == 1)
                    first = zclock_mono() - t0;
                if (answered == (n + 1) / 2)
                    half = zclock_mono() - t0;
                items[i] = items[--waiting]; // answered: out of the poll
            } else {
                i++;
            }
            zmq_msg_close(&ack);
        }
    }
    free(items);
    printf("%d schools connected, %d answered in %lld ms\n", n, answered,
           (long long) (zclock_mono() - t0));
    printf("first answer after %lld ms, half of them after %lld ms\n", (long long) first,
           (long long) half);
    fflush(stdout);
    char line[16];
    while (fgets(line, sizeof line, stdin)) // hold the connections until told
        ;
    for (int i = 0; i < n; i++)
        zsock_destroy(&socks[i]);
    free(socks);
    zcert_destroy(&server);
    return answered == n ? 0 : 1;
}
