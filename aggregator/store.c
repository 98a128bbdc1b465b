/*  store - writes each batch to PostgreSQL exactly once, in one transaction
 *
 *  One batch is, inside the transaction the writer opened (store_begin): read and lock the
 *  spool's mark, and the transaction's now(); COPY the new accepted records straight into
 *  edu.observation_log; COPY the latest accepted record of each key and the refused records
 *  into the session's stage table; one statement moves the stage into edu.current_value,
 *  edu.rejected_log, edu.refusal_overflow, edu.late_change_log and raises the mark. The writer
 *  then judges the warnings and ends the transaction (store_commit or store_rollback). Five
 *  round trips per batch whatever its size, and no per-record index probe. The history is
 *  written once instead of staged first (tests/bench/ingest.sh measures both). Both COPYs are
 *  in COPY's text format, not the binary one: rows of mostly text fields cost PostgreSQL less
 *  so (the binary format copies and checks each field on its own), the numbers and the time
 *  parsed included (latency.sh's 1 000-row batches: 2.2-2.7 ms a COPY, 2.7-3.2 ms binary;
 *  ingest.sh's 3 600-row batches: the same within the noise), and making them here too (0.4-0.6
 *  ms a 1 000-record batch, 0.7-1.0 ms binary).
 *
 *  A refusal beyond the caps (verdict_t.summarized) travels without its detail (NULL in the
 *  stage) and is counted by reason in edu.refusal_overflow instead of stored as a row.
 *
 *  Which record of a batch is the latest of its school x indicator x period is decided here,
 *  with a hash of the batch's keys, and only the latest is staged: PostgreSQL then upserts the
 *  current values without sorting the batch (that sort was a third of its work).
 *
 *  A current value that a record repeats is left as it is: no new row version, no WAL, and its
 *  received_at stays the time the value was first received (edu.current_value is no part of
 *  the contract's views; edu.current_observation does not show it). A value re-sent unchanged
 *  costs only its history row.
 *
 *  The COPY rows are made by store_prepare, which needs no database, so that the aggregator can
 *  prepare the next batch while this one's transaction runs. The stage's rows hold the latest
 *  and the refused records of the whole batch; the statement takes only those above the
 *  spool's mark, read in the transaction (a resend is rare and its rows are cheap). A key's
 *  latest record is the latest of the whole batch: if it lies at or below the mark, so do all
 *  the key's records, and nothing of the key is stored again. The history's rows are prepared
 *  without their first three fields (received_at, sender, spool_id: known in the transaction
 *  only); store_batch sends those above the mark.
 */
#include "store.h"

#include "log.h"
#include "pg.h"
#include "util.h"

#include <czmq.h>
#include <endian.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define S_RECONNECT_MS 2000 // fewest milliseconds between two connection attempts

#define S_STAGE_DELETE_MAX 256 // stage rows emptied by DELETE rather than TRUNCATE

struct store_prepared_t {
    zchunk_t *stage;   // COPY rows of edu_stage: the batch's latest and refused records
    zchunk_t *history; // per accepted record, its last fields of s_history_sql (school_code ...)
    uint64_t *seq;     // per accepted record, its seq (ascending)
    size_t *at;        // per accepted record, where its fields start in history
    size_t accepted;   // accepted records
    size_t staged;     // rows of stage
};

struct store_t {
    char *conninfo;          // libpq connection string
    PGconn *conn;            // NULL while disconnected
    int64_t next_connect_ms; // monotonic time of the next connection attempt
    bool in_txn;             // store_begin opened a transaction not yet ended
    size_t stage_rows;       // rows an earlier batch of the open transaction left in the stage
    size_t stage_dead;       // rows deleted from the stage since it was last truncated
    log_complain_t down;     // "database unavailable", reported once with back-off
};

static const char *s_stage_sql =
    "CREATE TEMP TABLE IF NOT EXISTS edu_stage ("
    "  seq bigint NOT NULL, school_code text NOT NULL, indicator text NOT NULL,"
    "  period text NOT NULL, value double precision, source_file text, source_row integer,"
    "  reason text, column_name text, detail text)"
    " ON COMMIT DELETE ROWS";

/*  The history's columns, in the order of its rows' fields: the first three are the batch's. */
static const char *s_history_sql =
    "COPY edu.observation_log (received_at, sender, spool_id, school_code, indicator, period,"
    " value, seq, source_file, source_row) FROM STDIN";

/*  Each batch's two statements are parsed once per connection (pg_exec_statement) rather than
 *  once per batch: parsing and planning them was half of PostgreSQL's time for one-record
 *  batches. */

/*  The spool's mark, locked, and the transaction's now(), in binary: the mark as bigint, now()
 *  as timestamptz (µs since 2000-01-01 UTC). */
static const pg_statement_t s_mark = {
    "edu_store_mark",
    "SELECT (SELECT hwm FROM edu.spool_state WHERE sender = $1 AND spool_id = $2 FOR UPDATE),"
    " now()",
    2, true};

/*  The stage holds the latest accepted record of each key (reason NULL) and the refused ones;
 *  the accepted records are in the history already. */
static const pg_statement_t s_move = {
    "edu_store_move",
    "WITH late AS ("  // a value changed after its year's deadline ($6 month, $7 day, China)
    "  INSERT INTO edu.late_change_log (school_code, indicator, period, old_value, new_value,"
    "                                   received_at, kind)"
    "  SELECT s.school_code, s.indicator, s.period, c.value, s.value, $5::timestamptz, 'change'"
    "  FROM edu_stage s JOIN edu.current_value c USING (school_code, indicator, period)"
    "  WHERE s.reason IS NULL AND s.seq > $4::bigint AND c.value <> s.value"
    "    AND $5::timestamptz > make_timestamptz(left(s.period, 4)::int, $6::int, $7::int,"
    "                                           23, 59, 59.999, 'Asia/Shanghai')),"
    " latest AS ("
    "  INSERT INTO edu.current_value AS c (school_code, indicator, period, value, received_at)"
    "  SELECT school_code, indicator, period, value, now() FROM edu_stage"
    "  WHERE reason IS NULL AND seq > $4::bigint"
    "  ON CONFLICT (school_code, indicator, period)"
    "  DO UPDATE SET value = EXCLUDED.value, received_at = EXCLUDED.received_at"
    "  WHERE c.value IS DISTINCT FROM EXCLUDED.value),"
    " refused AS ("
    "  INSERT INTO edu.rejected_log (school_code, indicator, period, value, reason, column_name,"
    "                                detail, received_at, sender, spool_id, seq, source_file,"
    "                                source_row)"
    "  SELECT school_code, indicator, period, value, reason, column_name, detail, now(), $1, $2,"
    "         seq, source_file, source_row"
    "  FROM edu_stage WHERE reason IS NOT NULL AND detail IS NOT NULL AND seq > $4::bigint),"
    " summarized AS ("
    "  INSERT INTO edu.refusal_overflow (sender, spool_id, reason, records, first_seq, last_seq,"
    "                                    received_at)"
    "  SELECT $1, $2, reason, count(*), min(seq), max(seq), now()"
    "  FROM edu_stage WHERE reason IS NOT NULL AND detail IS NULL AND seq > $4::bigint"
    "  GROUP BY reason)"
    " INSERT INTO edu.spool_state (sender, spool_id, hwm) VALUES ($1, $2, $3::bigint)"
    " ON CONFLICT (sender, spool_id) DO UPDATE SET hwm = EXCLUDED.hwm, updated_at = now()",
    7, false};

store_t *store_new(const char *conninfo)
{
    store_t *self = xcalloc(1, sizeof *self);
    self->conninfo = xstrdup(conninfo);
    return self;
}

void store_destroy(store_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    store_t *self = *self_p;
    if (self->conn)
        PQfinish(self->conn);
    free(self->conninfo);
    free(self);
    *self_p = NULL;
}

PGconn *store_conn(store_t *self)
{
    return self->conn;
}

static void s_disconnect(store_t *self)
{
    if (self->conn)
        PQfinish(self->conn);
    self->conn = NULL;
}

int store_connect(store_t *self, char *err, size_t errlen)
{
    if (self->conn && PQstatus(self->conn) == CONNECTION_OK)
        return 0;
    s_disconnect(self);
    PGconn *conn = pg_connect(self->conninfo, "edu-aggregator", err, errlen);
    if (!conn)
        return -1;
    const char *integer = PQparameterStatus(conn, "integer_datetimes");
    if (!integer || strcmp(integer, "on") != 0) { // every PostgreSQL since 10
        errorf(err, errlen, "the server does not keep timestamps as integers");
        PQfinish(conn);
        return -1;
    }
    PGresult *res = PQexec(conn, s_stage_sql);
    bool ok = PQresultStatus(res) == PGRES_COMMAND_OK;
    if (!ok)
        errorf(err, errlen, "could not create the stage table: %s", PQresultErrorMessage(res));
    PQclear(res);
    if (!ok) {
        PQfinish(conn);
        return -1;
    }
    self->conn = conn;
    return 0;
}

/*  RETRY for what may pass (connection lost, shutdown, resources, serialization, locks, a
 *  prepared statement lost), ERROR for the rest. */
static store_status_t s_classify(store_t *self, const PGresult *res)
{
    if (PQstatus(self->conn) != CONNECTION_OK)
        return STORE_RETRY;
    const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    if (!state)
        return STORE_RETRY;
    static const char *passing[] = {"08", "57", "53", "40", "55", "58"};
    for (size_t i = 0; i < sizeof passing / sizeof *passing; i++)
        if (strncmp(state, passing[i], 2) == 0)
            return STORE_RETRY;
    // a prepared statement the server lost, or one it had already: prepared right next time
    if (strcmp(state, "26000") == 0 || strcmp(state, "42P05") == 0)
        return STORE_RETRY;
    return STORE_ERROR;
}

static uint64_t s_get64(const char *p)
{
    uint64_t be;
    memcpy(&be, p, sizeof be);
    return be64toh(be);
}

/*  COPY's text format: each field followed by a tab, the row's last by a newline instead
 *  (s_end_row); NULL as \N; a backslash, tab, newline or carriage return in a text escaped. */

static void s_put_chars(zchunk_t *buf, const char *s, size_t n)
{
    zchunk_extend(buf, s, n);
    zchunk_extend(buf, "\t", 1);
}

static void s_end_row(zchunk_t *buf)
{
    zchunk_data(buf)[zchunk_size(buf) - 1] = '\n';
}

static void s_put_null(zchunk_t *buf)
{
    s_put_chars(buf, "\\N", 2);
}

static void s_put_bigint(zchunk_t *buf, int64_t v)
{
    char text[24];
    s_put_chars(buf, text, (size_t) snprintf(text, sizeof text, "%" PRId64, v));
}

/*  float8's text, exactly: PostgreSQL reads back the double that was written. */
static void s_put_double(zchunk_t *buf, double v)
{
    char text[32];
    int n;
    if (isnan(v))
        n = snprintf(text, sizeof text, "NaN");
    else if (isinf(v))
        n = snprintf(text, sizeof text, v > 0 ? "Infinity" : "-Infinity");
    else if (fabs(v) < 1e15 && v == (double) (int64_t) v && !(v == 0 && signbit(v)))
        n = snprintf(text, sizeof text, "%" PRId64, (int64_t) v); // most values: whole numbers
    else
        n = snprintf(text, sizeof text, "%.17g", v);
    s_put_chars(buf, text, (size_t) n);
}

/*  timestamptz µs since 2000-01-01 UTC (what the mark's statement answers in binary), as ISO
 *  8601 in UTC, which PostgreSQL reads the same whatever the session's DateStyle. */
static void s_put_timestamp(zchunk_t *buf, int64_t us)
{
    int64_t secs = us / 1000000, frac = us % 1000000;
    if (frac < 0)
        secs--, frac += 1000000;
    time_t t = (time_t) (secs + 946684800); // 2000-01-01 in Unix time
    struct tm tm;
    gmtime_r(&t, &tm);
    char text[48];
    int n = snprintf(text, sizeof text, "%04d-%02d-%02d %02d:%02d:%02d.%06d+00",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                     tm.tm_sec, (int) frac);
    s_put_chars(buf, text, (size_t) n);
}

/*  A text field: at most limit bytes of s, each byte that is not part of well-formed UTF-8
 *  as '?' (PostgreSQL refuses invalid text), COPY's special characters escaped. */
static void s_put_text(zchunk_t *buf, const char *s, size_t limit)
{
    size_t n = strnlen(s, limit);
    size_t plain = 0;
    while (plain < n && s[plain] != '\\' && s[plain] != '\t' && s[plain] != '\n' &&
           s[plain] != '\r')
        plain++;
    if (plain == n && utf8_valid(s, n)) { // nearly always: codes, names and refusal details
        s_put_chars(buf, s, n);
        return;
    }
    for (size_t i = 0; i < n;) {
        size_t len = utf8_sequence_length(s + i, n - i);
        char c = s[i];
        if (len == 1 && (c == '\\' || c == '\t' || c == '\n' || c == '\r')) {
            char escaped[2] = {'\\', c == '\\' ? '\\' : c == '\t' ? 't' : c == '\n' ? 'n' : 'r'};
            zchunk_extend(buf, escaped, 2);
        } else {
            zchunk_extend(buf, len ? s + i : "?", len ? len : 1);
        }
        i += len ? len : 1;
    }
    zchunk_extend(buf, "\t", 1);
}

static void s_put_row_number(zchunk_t *buf, unsigned row)
{
    if (row <= INT32_MAX)
        s_put_bigint(buf, row);
    else
        s_put_null(buf); // beyond integer: not stored
}

/*  A latest or refused record's row of edu_stage. seq beyond bigint is refused by store_batch. */
static void s_stage_row(zchunk_t *buf, const Edu__V1__Record *r, const verdict_t *v)
{
    s_put_bigint(buf, (int64_t) r->seq);
    s_put_text(buf, r->school_code, 64);
    s_put_text(buf, r->indicator, 128);
    s_put_text(buf, r->period, 64);
    s_put_double(buf, r->value);
    s_put_text(buf, r->source_file, 255);
    s_put_row_number(buf, r->source_row);
    if (v->reason == REFUSE_NONE) {
        s_put_null(buf), s_put_null(buf), s_put_null(buf);
    } else {
        s_put_text(buf, refusal_name(v->reason), SIZE_MAX);
        s_put_text(buf, v->column, SIZE_MAX);
        if (v->summarized)
            s_put_null(buf); // no detail: counted in edu.refusal_overflow
        else
            s_put_text(buf, v->detail, sizeof v->detail);
    }
    s_end_row(buf);
}

/*  An accepted record's last fields of its history row (s_history_sql: school_code ...), with
 *  its newline. */
static void s_history_tail(zchunk_t *buf, const Edu__V1__Record *r)
{
    s_put_text(buf, r->school_code, 64);
    s_put_text(buf, r->indicator, 128);
    s_put_text(buf, r->period, 64);
    s_put_double(buf, r->value);
    s_put_bigint(buf, (int64_t) r->seq);
    s_put_text(buf, r->source_file, 255);
    s_put_row_number(buf, r->source_row);
    s_end_row(buf);
}

/*  latest[i] = whether record i is the last accepted one of its school x indicator x period
 *  in the batch. Accepted keys are registry and catalog codes, so byte equality here is
 *  PostgreSQL's text equality. Returns the array (caller frees). */
static bool *s_latest(const Edu__V1__Batch *batch, const verdict_t *verdicts)
{
    size_t n = batch->n_records;
    bool *latest = xcalloc(n ? n : 1, sizeof *latest);
    zhashx_t *seen = zhashx_new(); // key -> its latest record's flag (not owned)
    char buf[256];
    for (size_t i = n; i-- > 0;) { // ascending seq: the last occurrence is the latest
        const Edu__V1__Record *r = batch->records[i];
        if (verdicts[i].reason != REFUSE_NONE)
            continue;
        // the store does not count on validation's limits: a key too long for buf is allocated
        int len = snprintf(buf, sizeof buf, "%s\x1f%s\x1f%s", r->school_code, r->indicator,
                           r->period);
        char *key = (size_t) len < sizeof buf
                        ? buf
                        : xasprintf("%s\x1f%s\x1f%s", r->school_code, r->indicator, r->period);
        if (!zhashx_lookup(seen, key)) {
            zhashx_insert(seen, key, latest + i);
            latest[i] = true;
        }
        if (key != buf)
            free(key);
    }
    zhashx_destroy(&seen);
    return latest;
}

store_prepared_t *store_prepare(const Edu__V1__Batch *batch, const verdict_t *verdicts)
{
    store_prepared_t *self = xcalloc(1, sizeof *self);
    size_t n = batch->n_records;
    self->stage = zchunk_new(NULL, 64);
    self->history = zchunk_new(NULL, 80 * n + 64);
    self->seq = xcalloc(n ? n : 1, sizeof *self->seq);
    self->at = xcalloc(n ? n : 1, sizeof *self->at);
    bool *latest = s_latest(batch, verdicts);
    for (size_t i = 0; i < n; i++) {
        const Edu__V1__Record *r = batch->records[i];
        if (verdicts[i].reason != REFUSE_NONE || latest[i]) {
            s_stage_row(self->stage, r, &verdicts[i]);
            self->staged++;
        }
        if (verdicts[i].reason == REFUSE_NONE) {
            self->seq[self->accepted] = r->seq;
            self->at[self->accepted++] = zchunk_size(self->history);
            s_history_tail(self->history, r);
        }
    }
    free(latest);
    return self;
}

const char *store_prepared_stage(const store_prepared_t *self, size_t *size)
{
    *size = zchunk_size(self->stage);
    return (const char *) zchunk_data(self->stage);
}

zchunk_t *store_prepared_history(const store_prepared_t *self, uint64_t hwm, int64_t received,
                                 const char *sender, const char *spool)
{
    size_t from = 0;
    while (from < self->accepted && self->seq[from] <= hwm)
        from++;
    if (from == self->accepted)
        return NULL;
    zchunk_t *head = zchunk_new(NULL, 64);
    s_put_timestamp(head, received);
    s_put_text(head, sender, SIZE_MAX);
    s_put_text(head, spool, SIZE_MAX);
    size_t head_size = zchunk_size(head), end = zchunk_size(self->history);
    zchunk_t *copy =
        zchunk_new(NULL, (self->accepted - from) * head_size + end - self->at[from]);
    for (size_t i = from; i < self->accepted; i++) {
        size_t stop = i + 1 < self->accepted ? self->at[i + 1] : end;
        zchunk_extend(copy, zchunk_data(head), head_size);
        zchunk_extend(copy, zchunk_data(self->history) + self->at[i], stop - self->at[i]);
    }
    zchunk_destroy(&head);
    return copy;
}

void store_prepared_destroy(store_prepared_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    store_prepared_t *self = *self_p;
    zchunk_destroy(&self->stage);
    zchunk_destroy(&self->history);
    free(self->seq);
    free(self->at);
    free(self);
    *self_p = NULL;
}

static Edu__V1__Refusal *s_refusal(uint64_t seq, const char *reason, const char *column,
                                   const char *detail, const char *file, unsigned row)
{
    Edu__V1__Refusal *r = xmalloc(sizeof *r);
    edu__v1__refusal__init(r);
    r->seq = seq;
    r->reason = xstrdup(reason);
    r->column = xstrdup(column);
    r->detail = xstrdup(detail);
    r->source_file = xstrdup(file);
    r->source_row = row;
    return r;
}

static void s_add_refusal(store_outcome_t *out, Edu__V1__Refusal *r)
{
    out->refusals = xrealloc(out->refusals, (out->refusal_count + 1) * sizeof *out->refusals);
    out->refusals[out->refusal_count++] = r;
}

void store_outcome_clear(store_outcome_t *out)
{
    for (size_t i = 0; i < out->refusal_count; i++) {
        Edu__V1__Refusal *r = out->refusals[i];
        free(r->reason), free(r->column), free(r->detail), free(r->source_file), free(r);
    }
    free(out->refusals);
    *out = (store_outcome_t){0};
}

/*  The refusals already stored for resent records seq in [from, to]. */
static store_status_t s_stored_refusals(store_t *self, const char *sender, const char *spool,
                                        uint64_t from, uint64_t to, store_outcome_t *out,
                                        char *err, size_t errlen)
{
    char lo[24], hi[24];
    snprintf(lo, sizeof lo, "%" PRIu64, from);
    snprintf(hi, sizeof hi, "%" PRIu64, to);
    const char *params[] = {sender, spool, lo, hi};
    PGresult *res = PQexecParams(
        self->conn,
        "SELECT seq, reason, column_name, detail, coalesce(source_file, ''),"
        "       coalesce(source_row, 0) FROM edu.rejected_log"
        " WHERE sender = $1 AND spool_id = $2 AND seq BETWEEN $3::bigint AND $4::bigint"
        " ORDER BY seq",
        4, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        errorf(err, errlen, "could not read stored refusals: %s", PQresultErrorMessage(res));
        store_status_t st = s_classify(self, res);
        PQclear(res);
        return st;
    }
    for (int i = 0; i < PQntuples(res); i++)
        s_add_refusal(out, s_refusal(strtoull(PQgetvalue(res, i, 0), NULL, 10),
                                     PQgetvalue(res, i, 1), PQgetvalue(res, i, 2),
                                     PQgetvalue(res, i, 3), PQgetvalue(res, i, 4),
                                     (unsigned) atoi(PQgetvalue(res, i, 5))));
    PQclear(res);
    return STORE_OK;
}

/*  Runs a command that returns no rows; on failure fills err and classifies. */
static store_status_t s_command(store_t *self, const char *what, PGresult *res, char *err,
                                size_t errlen)
{
    ExecStatusType st = PQresultStatus(res);
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
        PQclear(res);
        return STORE_OK;
    }
    errorf(err, errlen, "could not %s: %s", what, PQresultErrorMessage(res));
    store_status_t rc = s_classify(self, res);
    PQclear(res);
    return rc;
}

/*  COPY sql FROM STDIN: sends data, size bytes, for `what`. */
static store_status_t s_copy(store_t *self, const char *what, const char *sql, const void *data,
                             size_t size, char *err, size_t errlen)
{
    PGresult *res = PQexec(self->conn, sql);
    if (PQresultStatus(res) != PGRES_COPY_IN) {
        store_status_t rc = s_command(self, "start COPY", res, err, errlen);
        if (rc == STORE_OK) { // a statement that succeeded without asking for data
            errorf(err, errlen, "could not start COPY: the server did not ask for data");
            rc = STORE_ERROR;
        }
        return rc;
    }
    PQclear(res);
    if (size > INT_MAX || PQputCopyData(self->conn, data, (int) size) != 1 ||
        PQputCopyEnd(self->conn, NULL) != 1) {
        errorf(err, errlen, "could not send %s: %s", what, PQerrorMessage(self->conn));
        return STORE_RETRY;
    }
    char why[64];
    snprintf(why, sizeof why, "copy %s", what);
    store_status_t rc = s_command(self, why, PQgetResult(self->conn), err, errlen);
    while ((res = PQgetResult(self->conn)))
        PQclear(res);
    return rc;
}

/*  After a failure: a connection that is gone is reported (with back-off) and dropped, so the
 *  next transaction connects again. */
static void s_check_connection(store_t *self, const char *why)
{
    if (self->conn && PQstatus(self->conn) != CONNECTION_OK) {
        log_complain(&self->down, LOG_LEVEL_WARN, "store", "database unavailable: %s", why);
        s_disconnect(self);
    }
}

store_status_t store_begin(store_t *self, char *err, size_t errlen)
{
    int64_t now = clock_mono_ms();
    if (!self->conn || PQstatus(self->conn) != CONNECTION_OK) {
        if (now < self->next_connect_ms)
            return errorf(err, errlen, "database unavailable"), STORE_RETRY;
        self->next_connect_ms = now + S_RECONNECT_MS;
        if (store_connect(self, err, errlen) != 0) {
            log_complain(&self->down, LOG_LEVEL_WARN, "store", "database unavailable: %s", err);
            return STORE_RETRY;
        }
    }
    store_status_t rc =
        s_command(self, "begin a transaction", PQexec(self->conn, "BEGIN"), err, errlen);
    if (rc == STORE_OK)
        self->in_txn = true;
    else
        s_check_connection(self, err);
    return rc;
}

store_status_t store_batch(store_t *self, const char *sender, const Edu__V1__Batch *batch,
                           const verdict_t *verdicts, const store_prepared_t *prepared,
                           const store_clock_t *clock, store_outcome_t *out, char *err,
                           size_t errlen)
{
    *out = (store_outcome_t){0};
    const char *spool = batch->spool_id;
    const char *key[] = {sender, spool};
    PGresult *res = pg_exec_statement(self->conn, &s_mark, key);
    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1 ||
        (!PQgetisnull(res, 0, 0) && PQgetlength(res, 0, 0) != 8) || PQgetlength(res, 0, 1) != 8) {
        errorf(err, errlen, "could not read the spool's mark: %s", PQresultErrorMessage(res));
        store_status_t st = PQresultStatus(res) == PGRES_TUPLES_OK ? STORE_ERROR
                                                                   : s_classify(self, res);
        PQclear(res);
        return st;
    }
    uint64_t hwm = PQgetisnull(res, 0, 0) ? 0 : s_get64(PQgetvalue(res, 0, 0));
    int64_t received = (int64_t) s_get64(PQgetvalue(res, 0, 1));
    PQclear(res);
    out->acked_through = hwm;
    out->stored_from = hwm;
    out->through = hwm;

    size_t n = batch->n_records;
    uint64_t first = n ? batch->records[0]->seq : 0, last = n ? batch->records[n - 1]->seq : 0;
    if (n == 0 || last <= hwm) // a probe, or a resend of what is committed: its stored refusals
        return n ? s_stored_refusals(self, sender, spool, first, last, out, err, errlen)
                 : STORE_OK;
    if (last > INT64_MAX) // bigint's bound: what the mark and the logs hold
        return errorf(err, errlen, "sequence number %" PRIu64 " out of range", last),
               STORE_ERROR;
    if (first > hwm + 1 && batch->floor < first) {
        out->gap = true;
        return STORE_OK;
    }
    if (first > hwm + 1)
        log_warn("store", "school %s spool %s declares records %" PRIu64 "..%" PRIu64
                 " lost (quarantined at the school)", sender, spool, hwm + 1, first - 1);
    store_status_t rc = STORE_OK;
    if (first <= hwm && (rc = s_stored_refusals(self, sender, spool, first, hwm, out, err,
                                                errlen)) != STORE_OK)
        return rc;
    for (size_t i = 0; i < n; i++) {
        const Edu__V1__Record *r = batch->records[i];
        if (r->seq > hwm && verdicts[i].reason != REFUSE_NONE)
            s_add_refusal(out, s_refusal(r->seq, refusal_name(verdicts[i].reason),
                                         verdicts[i].column, verdicts[i].detail, r->source_file,
                                         r->source_row));
    }
    if (self->stage_rows) { // an earlier batch of the same transaction (a group)
        // TRUNCATE makes a new file for the table, which costs more than deleting a few
        // rows (it was a third of PostgreSQL's time for a rush of one-record batches); the
        // deleted rows stay in the table until the next TRUNCATE, so only a few
        bool few = self->stage_rows + self->stage_dead <= S_STAGE_DELETE_MAX;
        rc = s_command(self, "empty the stage",
                       PQexec(self->conn, few ? "DELETE FROM edu_stage" : "TRUNCATE edu_stage"),
                       err, errlen);
        if (rc != STORE_OK)
            return rc;
        self->stage_dead = few ? self->stage_dead + self->stage_rows : 0;
        self->stage_rows = 0;
    }
    zchunk_t *history = store_prepared_history(prepared, hwm, received, sender, spool);
    if (history) {
        rc = s_copy(self, "the history", s_history_sql, zchunk_data(history),
                    zchunk_size(history), err, errlen);
        zchunk_destroy(&history);
        if (rc != STORE_OK)
            return rc;
    }
    self->stage_rows = prepared->staged;
    rc = s_copy(self, "the stage",
                "COPY edu_stage (seq, school_code, indicator, period, value, source_file,"
                " source_row, reason, column_name, detail) FROM STDIN",
                zchunk_data(prepared->stage), zchunk_size(prepared->stage), err, errlen);
    if (rc != STORE_OK)
        return rc;

    char mark[24], below[24], at[32], month[8], day[8];
    snprintf(mark, sizeof mark, "%" PRIu64, last);
    snprintf(below, sizeof below, "%" PRIu64, hwm);
    struct tm tm;
    gmtime_r(&clock->now, &tm);
    strftime(at, sizeof at, "%Y-%m-%dT%H:%M:%SZ", &tm);
    snprintf(month, sizeof month, "%d", clock->deadline_month);
    snprintf(day, sizeof day, "%d", clock->deadline_day);
    const char *params[] = {sender, spool, mark, below, at, month, day};
    rc = s_command(self, "store the batch",
                   pg_exec_statement(self->conn, &s_move, params), err, errlen);
    if (rc == STORE_OK)
        out->through = last;
    return rc;
}

store_status_t store_commit(store_t *self, char *err, size_t errlen)
{
    if (!self->in_txn)
        return errorf(err, errlen, "no transaction to commit"), STORE_ERROR;
    self->in_txn = false;
    self->stage_rows = self->stage_dead = 0; // ON COMMIT DELETE ROWS truncates it
    store_status_t rc =
        s_command(self, "commit the transaction", PQexec(self->conn, "COMMIT"), err, errlen);
    if (rc == STORE_OK)
        log_release(&self->down, "store", "database available again");
    else
        s_check_connection(self, err);
    return rc;
}

void store_rollback(store_t *self, const char *why)
{
    if (self->in_txn) {
        // a failed transaction must be ended before the connection can be used again
        PQclear(PQexec(self->conn, "ROLLBACK"));
        self->in_txn = false;
    }
    self->stage_rows = self->stage_dead = 0; // the rollback empties it
    s_check_connection(self, why);
}
