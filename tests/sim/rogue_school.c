/*  rogue_school - a school's valid key used against its county, for tests/integration/hostile_key.sh
 *
 *    rogue_school ENDPOINT SERVER_CERT SECRET_CERT SCHOOL MODE [COUNT]
 *
 *  Connects to the aggregator at ENDPOINT with the school's secret certificate and sends what
 *  MODE says, then prints one line per answer: the Ack's status and detail ("OK 5", "INVALID
 *  batch of ...", "UNAUTHORIZED ...", or "NONE" when no answer came within 10 s):
 *
 *    far-periods   one batch of COUNT records for the years 2100 onwards (one each)
 *    oversize      one batch a little over 64 KiB (the test's max_batch_bytes)
 *    empty-records a message of COUNT records with nothing in them
 *    huge-seq      one record with seq 2^63
 *    newline-spool a spool id with a newline and a forged log line in it
 *    flood         COUNT batches of about 60 KiB back to back, without waiting for answers,
 *                  then collects the answers
 *    mismatch      COUNT batches of 500 records naming another school (school_mismatch)
 *    steady        one valid batch every 500 ms, COUNT times (to be revoked meanwhile)
 *    random-keys   COUNT handshakes with fresh random keys (SECRET_CERT unused), 3 s, then gone
 */
#include <edu/v1/eduwatch.pb-c.h>

#include <czmq.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static zsock_t *s_sock;
static uint64_t s_seq = 0;

static void s_send(Edu__V1__Batch *b)
{
    size_t size = edu__v1__batch__get_packed_size(b);
    uint8_t *buf = malloc(size);
    edu__v1__batch__pack(b, buf);
    zmq_send(zsock_resolve(s_sock), buf, size, 0);
    free(buf);
}

/*  Prints the next answer; returns 0, or -1 when none came in time. */
static int s_answer(void)
{
    zsock_set_rcvtimeo(s_sock, 10000);
    zframe_t *f = zframe_recv(s_sock);
    if (!f) {
        printf("NONE\n");
        fflush(stdout);
        return -1;
    }
    Edu__V1__Ack *ack = edu__v1__ack__unpack(NULL, zframe_size(f), zframe_data(f));
    if (!ack) {
        printf("UNDECODABLE\n");
    } else {
        const char *names[] = {"OK", "RETRY", "GAP", "INVALID", "UNAUTHORIZED"};
        printf("%s %" PRIu64 " %zu %s\n",
               ack->status < 5 ? names[ack->status] : "UNKNOWN", ack->acked_through,
               ack->n_refusals, ack->detail ? ack->detail : "");
        edu__v1__ack__free_unpacked(ack, NULL);
    }
    fflush(stdout);
    zframe_destroy(&f);
    return 0;
}

/*  A batch of n records for school (or, when other is set, naming other), the period of
 *  record i being year + i (year 0: 2025-2026), each carrying pad bytes of source file name. */
static void s_batch(const char *spool, const char *school, size_t n, int year, size_t pad)
{
    Edu__V1__Record *rs = calloc(n, sizeof *rs);
    Edu__V1__Record **ptrs = calloc(n, sizeof *ptrs);
    char (*periods)[32] = calloc(n, 32);
    char *file = calloc(1, pad + 8);
    memset(file, 'f', pad);
    strcat(file, ".csv");
    for (size_t i = 0; i < n; i++) {
        edu__v1__record__init(&rs[i]);
        rs[i].seq = ++s_seq;
        rs[i].school_code = (char *) school;
        rs[i].indicator = "training_hours";
        int y = year ? year + (int) i : 2025;
        snprintf(periods[i], 32, "%d-%d", y, y + 1);
        rs[i].period = periods[i];
        rs[i].value = 80;
        rs[i].source_file = file;
        rs[i].source_row = (uint32_t) i + 2;
        ptrs[i] = &rs[i];
    }
    Edu__V1__Batch b = EDU__V1__BATCH__INIT;
    b.spool_id = (char *) spool;
    b.floor = rs[0].seq;
    b.n_records = n;
    b.records = ptrs;
    s_send(&b);
    free(rs), free(ptrs), free(periods), free(file);
}

int main(int argc, char **argv)
{
    if (argc < 6) {
        fprintf(stderr, "usage: rogue_school ENDPOINT SERVER_CERT SECRET_CERT SCHOOL MODE [COUNT]\n");
        return 2;
    }
    const char *endpoint = argv[1], *school = argv[4], *mode = argv[5];
    int count = argc > 6 ? atoi(argv[6]) : 1;
    zcert_t *server = zcert_load(argv[2]), *mine = zcert_load(argv[3]);
    if (!server || !mine) {
        fprintf(stderr, "rogue_school: cannot load the certificates\n");
        return 1;
    }
    s_sock = zsock_new(ZMQ_DEALER);
    zsock_set_linger(s_sock, 0);
    zsock_set_sndhwm(s_sock, 100000);
    zcert_apply(mine, s_sock);
    zsock_set_curve_serverkey(s_sock, zcert_public_txt(server));
    zsock_connect(s_sock, "%s", endpoint);
    char spool[33];
    snprintf(spool, sizeof spool, "%08x%024x", (unsigned) zclock_time() & 0xffffffffu, 0x5eed);
    int rc = 0;
    if (strcmp(mode, "far-periods") == 0) {
        s_batch(spool, school, (size_t) count, 2100, 1);
        rc = s_answer();
    } else if (strcmp(mode, "oversize") == 0) {
        s_batch(spool, school, 1, 0, 70000);
        rc = s_answer();
    } else if (strcmp(mode, "empty-records") == 0) {
        // field 3, length 0, 60 000 times: a valid batch of empty records
        size_t n = (size_t) count;
        uint8_t *buf = malloc(2 * n + 64);
        size_t used = 0;
        buf[used++] = 0x0a; // field 1 (spool_id), length-delimited
        buf[used++] = 32;
        memcpy(buf + used, spool, 32);
        used += 32;
        for (size_t i = 0; i < n; i++)
            buf[used++] = 0x1a, buf[used++] = 0;
        zmq_send(zsock_resolve(s_sock), buf, used, 0);
        free(buf);
        rc = s_answer();
    } else if (strcmp(mode, "huge-seq") == 0) {
        s_seq = (1ULL << 63) - 1; // the next is 2^63
        s_batch(spool, school, 1, 0, 1);
        rc = s_answer();
    } else if (strcmp(mode, "newline-spool") == 0) {
        s_batch("abcdef01\n2026-01-01T00:00:00Z error aggregator: forged", school, 1, 0, 1);
        rc = s_answer();
    } else if (strcmp(mode, "flood") == 0) {
        for (int i = 0; i < count; i++)
            s_batch(spool, school, 500, 0, 60); // about 60 KiB each
        for (int i = 0; i < count && rc == 0; i++)
            rc = s_answer();
    } else if (strcmp(mode, "mismatch") == 0) {
        for (int i = 0; i < count && rc == 0; i++) {
            s_batch(spool, "2143004059", 500, 0, 1);
            rc = s_answer();
        }
    } else if (strcmp(mode, "random-keys") == 0) {
        zsock_t **socks = calloc((size_t) count, sizeof *socks);
        for (int i = 0; i < count; i++) {
            zcert_t *cert = zcert_new();
            socks[i] = zsock_new(ZMQ_DEALER);
            zsock_set_linger(socks[i], 0);
            zcert_apply(cert, socks[i]);
            zsock_set_curve_serverkey(socks[i], zcert_public_txt(server));
            zsock_connect(socks[i], "%s", endpoint);
            zcert_destroy(&cert);
        }
        zclock_sleep(3000);
        for (int i = 0; i < count; i++)
            zsock_destroy(&socks[i]);
        free(socks);
        printf("DONE %d\n", count);
    } else if (strcmp(mode, "steady") == 0) {
        for (int i = 0; i < count; i++) {
            s_batch(spool, school, 1, 0, 1);
            s_answer();
            zclock_sleep(500);
        }
    } else {
        fprintf(stderr, "rogue_school: unknown mode %s\n", mode);
        rc = 2;
    }
    zsock_destroy(&s_sock);
    zcert_destroy(&server);
    zcert_destroy(&mine);
    return rc == 0 ? 0 : 1;
}
