/*  test_sender - batches within max_batch_bytes, and a record the county refuses as INVALID
 *  isolated and skipped so the records after it flow
 *
 *  A fake county (a ROUTER on inproc, no CURVE) answers as the aggregator does: it keeps the
 *  spool's mark, answers GAP when a batch starts beyond it while its floor says the records
 *  before are still held, counts the records a floor declares lost, stores each record once,
 *  and answers INVALID to a batch holding a record whose indicator is "poison" (or to every
 *  batch, when told to). The test drives the sender and the county in one loop until the spool
 *  is empty, with a deadline only so that a broken sender cannot hang the suite.
 */
#include "sender.h"
#include "util.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct {
    zsock_t *router;      // the county's socket
    uint64_t hwm;         // its mark
    int stored[4096];     // times each seq was stored
    uint64_t lost;        // records floors declared lost
    size_t max_message;   // largest message received
    size_t messages;      // messages received
    size_t invalid_alone; // INVALID answers to a batch of one record
    size_t probes;        // empty batches received
    bool refuse_all;      // INVALID to everything
    size_t refuse_over;   // INVALID to a message over this many bytes (0: none), as a county
                          // whose max_batch_bytes is below the collector's
    bool revoked;         // UNAUTHORIZED to everything
    size_t unauthorized;  // UNAUTHORIZED answers
} s_county_t;

typedef struct {
    uint64_t skipped_seq[16];  // records skipped, by seq
    char skipped_code[16][32]; // with their codes
    unsigned skipped_row[16];  // and rows
    size_t skipped;            // how many
    int refused[4096];         // times each seq was reported refused
} s_events_t;

static void s_on_refusals(void *arg, Edu__V1__Refusal *const *refusals, size_t count)
{
    s_events_t *e = arg;
    for (size_t i = 0; i < count; i++)
        e->refused[refusals[i]->seq]++;
}

static void s_on_skipped(void *arg, const Edu__V1__Record *record, const char *code,
                         const char *detail)
{
    s_events_t *e = arg;
    cr_assert_lt(e->skipped, 16);
    cr_assert_not_null(detail);
    e->skipped_seq[e->skipped] = record->seq;
    snprintf(e->skipped_code[e->skipped], 32, "%s", code);
    e->skipped_row[e->skipped] = record->source_row;
    e->skipped++;
}

static void s_county_answer(s_county_t *c)
{
    zmsg_t *msg = zmsg_recv(c->router);
    cr_assert_not_null(msg);
    zframe_t *id = zmsg_pop(msg);
    zframe_t *body = zmsg_pop(msg);
    c->messages++;
    if (zframe_size(body) > c->max_message)
        c->max_message = zframe_size(body);
    Edu__V1__Batch *batch = edu__v1__batch__unpack(NULL, zframe_size(body), zframe_data(body));
    cr_assert_not_null(batch);
    Edu__V1__Ack ack = EDU__V1__ACK__INIT;
    ack.spool_id = batch->spool_id;
    size_t n = batch->n_records;
    bool poison = c->refuse_all;
    Edu__V1__Refusal **refusals = xcalloc(n + 1, sizeof *refusals);
    for (size_t i = 0; i < n; i++)
        poison = poison || strcmp(batch->records[i]->indicator, "poison") == 0;
    if (n == 0)
        c->probes++;
    if (c->revoked) {
        ack.status = EDU__V1__ACK__STATUS__UNAUTHORIZED;
        ack.spool_id = ""; // the county answers before it looks at the batch
        ack.detail = "this school's key is no longer allowed";
        c->unauthorized++;
    } else if (c->refuse_over && zframe_size(body) > c->refuse_over) {
        ack.status = EDU__V1__ACK__STATUS__INVALID;
        ack.detail = "batch exceeds max_batch_bytes: send smaller batches";
    } else if (poison) {
        ack.status = EDU__V1__ACK__STATUS__INVALID;
        ack.detail = "record has a malformed field";
        c->invalid_alone += n == 1;
    } else if (n == 0 || batch->records[n - 1]->seq <= c->hwm) {
        ack.acked_through = c->hwm;
    } else if (batch->records[0]->seq > c->hwm + 1 && batch->floor < batch->records[0]->seq) {
        ack.status = EDU__V1__ACK__STATUS__GAP;
        ack.acked_through = c->hwm;
    } else {
        if (batch->records[0]->seq > c->hwm + 1)
            c->lost += batch->records[0]->seq - c->hwm - 1;
        for (size_t i = 0; i < n; i++) {
            const Edu__V1__Record *r = batch->records[i];
            if (r->seq <= c->hwm)
                continue;
            c->stored[r->seq]++;
            if (strcmp(r->indicator, "refuse_me") == 0) {
                Edu__V1__Refusal *f = xcalloc(1, sizeof *f);
                *f = (Edu__V1__Refusal) EDU__V1__REFUSAL__INIT;
                f->seq = r->seq;
                f->reason = "unknown_indicator";
                refusals[ack.n_refusals++] = f;
            }
        }
        c->hwm = batch->records[n - 1]->seq;
        ack.acked_through = c->hwm;
    }
    ack.refusals = refusals;
    size_t size = edu__v1__ack__get_packed_size(&ack);
    uint8_t *buf = xmalloc(size + 1);
    edu__v1__ack__pack(&ack, buf);
    zmsg_t *reply = zmsg_new();
    zmsg_append(reply, &id);
    zmsg_addmem(reply, buf, size);
    zmsg_send(&reply, c->router);
    for (size_t i = 0; i < ack.n_refusals; i++)
        free(refusals[i]);
    free(refusals);
    free(buf);
    zframe_destroy(&body);
    zmsg_destroy(&msg);
    edu__v1__batch__free_unpacked(batch, NULL);
}

typedef struct {
    char *dir;      // the spool's directory
    spool_t *spool; // the spool
    sender_t *sender;
    s_county_t county;
    s_events_t events;
    char endpoint[64];
} s_rig_t;

static int s_rig_count = 0;

//  Spools count records; indicator(i) names the indicator of record i (1-based).
static void s_rig_new(s_rig_t *rig, size_t count, const char *(*indicator)(size_t),
                      size_t max_batch_bytes, size_t big_record)
{
    *rig = (s_rig_t){.dir = xstrdup("/tmp/test_sender.XXXXXX")};
    cr_assert_not_null(mkdtemp(rig->dir));
    char err[256];
    rig->spool = spool_open(rig->dir, 0, err, sizeof err);
    cr_assert_not_null(rig->spool, "%s", err);
    char name[201];
    memset(name, 'f', 196);
    strcpy(name + 196, ".csv"); // the longest file name a record may carry
    for (size_t i = 1; i <= count; i++) {
        Edu__V1__Record rec = EDU__V1__RECORD__INIT;
        rec.school_code = "2143004052";
        rec.indicator = (char *) (indicator ? indicator(i) : "training_hours");
        char *fat = NULL;
        if (i == big_record) {
            fat = xmalloc(max_batch_bytes + 1);
            memset(fat, 'x', max_batch_bytes);
            fat[max_batch_bytes] = '\0';
            rec.indicator = fat;
        }
        rec.period = "2025-2026";
        rec.value = (double) i;
        rec.source_file = name;
        rec.source_row = (uint32_t) i + 1;
        size_t size = edu__v1__record__get_packed_size(&rec);
        uint8_t *buf = xmalloc(size);
        edu__v1__record__pack(&rec, buf);
        uint64_t seq;
        cr_assert_eq(spool_append(rig->spool, buf, size, &seq, err, sizeof err), 0);
        cr_assert_eq(seq, i);
        free(buf);
        free(fat);
    }
    cr_assert_eq(spool_commit(rig->spool, "test", err, sizeof err), 0);
    snprintf(rig->endpoint, sizeof rig->endpoint, "inproc://county-%d-%d", getpid(), s_rig_count++);
    rig->county.router = zsock_new_router(rig->endpoint);
    cr_assert_not_null(rig->county.router);
    sender_config_t config = {.endpoint = rig->endpoint,
                              .curve = false,
                              .batch_records = 50,
                              .max_batch_bytes = max_batch_bytes,
                              .window_records = 400,
                              .ack_timeout_ms = 5000,
                              .max_backoff_ms = 40};
    sender_events_t events = {s_on_refusals, s_on_skipped, &rig->events};
    rig->sender = sender_new(&config, rig->spool, &events, err, sizeof err);
    cr_assert_not_null(rig->sender, "%s", err);
}

//  Runs sender and county until the spool is empty, or until stop() says so. Returns the turns.
static int s_rig_run(s_rig_t *rig, bool (*stop)(const s_rig_t *))
{
    int64_t deadline = clock_mono_ms() + 60000; // a guard against a hang, not a measure
    int turns = 0;
    while (spool_pending(rig->spool) > 0 && !(stop && stop(rig))) {
        cr_assert_lt(clock_mono_ms(), deadline, "the sender did not finish");
        sender_pump(rig->sender);
        int wait = sender_wait_ms(rig->sender);
        zmq_pollitem_t items[] = {
            {zsock_resolve(rig->county.router), 0, ZMQ_POLLIN, 0},
            {zsock_resolve(sender_socket(rig->sender)), 0, ZMQ_POLLIN, 0},
        };
        zmq_poll(items, 2, wait < 0 || wait > 50 ? 50 : wait);
        while (zsock_events(rig->county.router) & ZMQ_POLLIN)
            s_county_answer(&rig->county);
        sender_handle_socket(rig->sender);
        turns++;
    }
    return turns;
}

static void s_rig_destroy(s_rig_t *rig)
{
    sender_destroy(&rig->sender);
    cr_assert_null(rig->sender);
    zsock_destroy(&rig->county.router);
    spool_destroy(&rig->spool);
    char *cmd = xasprintf("rm -rf '%s'", rig->dir);
    cr_expect_eq(system(cmd), 0);
    free(cmd);
    free(rig->dir);
}

//  Every seq in 1..count stored once, except those in skip.
static void s_expect_stored_once(const s_rig_t *rig, size_t count, const uint64_t *skip,
                                 size_t nskip)
{
    for (size_t seq = 1; seq <= count; seq++) {
        int want = 1;
        for (size_t k = 0; k < nskip; k++)
            want = want && skip[k] != seq;
        cr_expect_eq(rig->county.stored[seq], want, "seq %zu stored %d times", seq,
                     rig->county.stored[seq]);
    }
}

//  No message is larger than max_batch_bytes once encrypted, records of the longest file name
//  included.
Test(sender, batches_within_max_batch_bytes)
{
    static const size_t bounds[] = {4096, 8192, 65536};
    for (size_t b = 0; b < 3; b++) {
        s_rig_t rig;
        s_rig_new(&rig, 1000, NULL, bounds[b], 0);
        s_rig_run(&rig, NULL);
        // CURVE adds 33 bytes on the wire, which the county's ZMQ_MAXMSGSIZE counts
        cr_expect_leq(rig.county.max_message + 33, bounds[b],
                      "max_batch_bytes %zu: a message of %zu", bounds[b], rig.county.max_message);
        if (bounds[b] < 50 * 250) // else batch_records (50 here) fills a batch first
            cr_expect_gt(rig.county.max_message, bounds[b] * 9 / 10, "batches are filled");
        s_expect_stored_once(&rig, 1000, NULL, 0);
        cr_expect_eq(rig.events.skipped, 0);
        s_rig_destroy(&rig);
    }
}

static const char *s_poison_137(size_t i)
{
    return i == 137 ? "poison" : "training_hours";
}

static const char *s_poison_edges(size_t i)
{
    return i == 1 || i == 50 || i == 51 || i == 300 ? "poison" : "training_hours";
}

//  A record refused as INVALID is isolated (the batch is split until it is alone), refused
//  alone SENDER_STRIKES times, then skipped after a probe: reported with its row, and the
//  county sees the floor pass it (one record declared lost). Everything else is stored once.
Test(sender, invalid_record_isolated_and_skipped)
{
    s_rig_t rig;
    s_rig_new(&rig, 300, s_poison_137, 1u << 20, 0);
    s_rig_run(&rig, NULL);
    cr_assert_eq(rig.events.skipped, 1);
    cr_expect_eq(rig.events.skipped_seq[0], 137);
    cr_expect_str_eq(rig.events.skipped_code[0], "batch_refused");
    cr_expect_eq(rig.events.skipped_row[0], 138);
    cr_expect_geq(rig.county.invalid_alone, SENDER_STRIKES);
    cr_expect_geq(rig.county.probes, 1);
    cr_expect_eq(rig.county.lost, 1, "the county sees the skip as one record lost");
    uint64_t skip[] = {137};
    s_expect_stored_once(&rig, 300, skip, 1);
    cr_expect_eq(sender_status(rig.sender)->skipped, 1);
    cr_expect_not(sender_status(rig.sender)->isolating, "back to full batches");
    cr_expect_eq(spool_acked(rig.spool), 300);
    s_rig_destroy(&rig);
}

//  Refused records first, at a batch's edges, side by side, and last.
Test(sender, invalid_records_at_the_edges)
{
    s_rig_t rig;
    s_rig_new(&rig, 300, s_poison_edges, 1u << 20, 0);
    s_rig_run(&rig, NULL);
    cr_assert_eq(rig.events.skipped, 4);
    uint64_t skip[] = {1, 50, 51, 300};
    for (size_t i = 0; i < 4; i++)
        cr_expect_eq(rig.events.skipped_seq[i], skip[i]);
    cr_expect_eq(rig.county.lost, 3, "the last one is never declared: nothing follows it");
    s_expect_stored_once(&rig, 300, skip, 4);
    s_rig_destroy(&rig);
}

static bool s_probed_twice(const s_rig_t *rig)
{
    return rig->county.probes >= 2;
}

//  A county that refuses even an empty batch refuses everything: nothing is skipped.
Test(sender, county_refusing_everything_skips_nothing)
{
    s_rig_t rig;
    s_rig_new(&rig, 120, NULL, 1u << 20, 0);
    rig.county.refuse_all = true;
    s_rig_run(&rig, s_probed_twice);
    cr_expect_eq(rig.events.skipped, 0);
    cr_expect_eq(spool_pending(rig.spool), 120);
    cr_expect_eq(spool_acked(rig.spool), 0);
    cr_expect(sender_status(rig.sender)->isolating);
    cr_expect_str_eq(sender_status(rig.sender)->detail, "record has a malformed field");
    // and once the county accepts again, everything flows
    rig.county.refuse_all = false;
    s_rig_run(&rig, NULL);
    s_expect_stored_once(&rig, 120, NULL, 0);
    s_rig_destroy(&rig);
}

//  A record larger than any batch (from a spool written before records were bounded) is
//  skipped when it is the oldest, as record_too_large.
Test(sender, record_too_large_skipped)
{
    s_rig_t rig;
    s_rig_new(&rig, 200, NULL, 4096, 77);
    s_rig_run(&rig, NULL);
    cr_assert_eq(rig.events.skipped, 1);
    cr_expect_eq(rig.events.skipped_seq[0], 77);
    cr_expect_str_eq(rig.events.skipped_code[0], "record_too_large");
    cr_expect_leq(rig.county.max_message + 33, 4096);
    uint64_t skip[] = {77};
    s_expect_stored_once(&rig, 200, skip, 1);
    s_rig_destroy(&rig);
}

static const char *s_refuse_some(size_t i)
{
    return i % 40 == 3 ? "refuse_me" : "training_hours";
}

//  Refusals are handed over once each, before the mark moves past them.
Test(sender, refusals_reported_once)
{
    s_rig_t rig;
    s_rig_new(&rig, 400, s_refuse_some, 1u << 20, 0);
    s_rig_run(&rig, NULL);
    for (size_t seq = 1; seq <= 400; seq++)
        cr_expect_eq(rig.events.refused[seq], seq % 40 == 3 ? 1 : 0, "seq %zu", seq);
    s_rig_destroy(&rig);
}

static bool s_refused_key_thrice(const s_rig_t *rig)
{
    return rig->county.unauthorized >= 3;
}

//  UNAUTHORIZED (the county no longer allows the key) stores nothing: nothing is skipped, the
//  records stay, the link says the key is refused; once allowed again, everything flows.
Test(sender, unauthorized_keeps_everything)
{
    s_rig_t rig;
    s_rig_new(&rig, 120, NULL, 1u << 20, 0);
    rig.county.revoked = true;
    s_rig_run(&rig, s_refused_key_thrice);
    cr_expect_eq(rig.events.skipped, 0);
    cr_expect_eq(spool_pending(rig.spool), 120);
    cr_expect_eq(sender_status(rig.sender)->link, SENDER_LINK_KEY_REFUSED);
    cr_expect_not(sender_status(rig.sender)->isolating, "no record is suspected");
    cr_expect_str_eq(sender_status(rig.sender)->detail, "this school\'s key is no longer allowed");
    rig.county.revoked = false;
    s_rig_run(&rig, NULL);
    s_expect_stored_once(&rig, 120, NULL, 0);
    s_rig_destroy(&rig);
}

//  A county whose max_batch_bytes is below the collector's answers INVALID to the big batches:
//  they are halved until they fit, nothing is skipped, everything is stored once.
Test(sender, county_limit_below_ours)
{
    s_rig_t rig;
    s_rig_new(&rig, 1000, NULL, 65536, 0);
    rig.county.refuse_over = 5000; // about 18 records of the longest file name
    s_rig_run(&rig, NULL);
    cr_expect_eq(rig.events.skipped, 0);
    s_expect_stored_once(&rig, 1000, NULL, 0);
    s_rig_destroy(&rig);
}
