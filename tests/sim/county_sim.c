/*  county_sim - county servers for the province's tests and benchmarks
 *
 *    county_sim ENDPOINT CERT_DIR ROWS          serve
 *    county_sim --send ENDPOINT SERVER_CERT FRAME...   send one request, print the answer
 *
 *  Serving, it binds ENDPOINT as a CURVE server with the certificate CERT_DIR/sim_secret (made
 *  if missing; clients are not authenticated) and answers the province's requests for whatever
 *  county is asked, like an aggregator (docs/protocol.md):
 *
 *  - A pull without the version frame (an old county) gets ROWS aggregate rows with versions
 *    1..ROWS and one county-level warning change every 20 rows.
 *  - A pull of version 2 gets each county's history: academic years 2025-2026 (open, never
 *    approved), 2024-2025, 2023-2024, ... back as far as ROWS aggregate rows need (34 rows a
 *    year: 2 stages x 17 indicators). Year j (0 the newest) takes the versions 4j+1..4j+3: a
 *    late change, a case, and for an approved year its approval with the snapshot of its
 *    aggregates and county-level warnings (dispersion, county_balanced) at the approval's
 *    version. Restarted with more ROWS it serves further years as new versions.
 *  - accept and return act on an approved year as the county would; sim-unlock COUNTY PERIOD
 *    REASON (the county unlocks a year: withdrawn at the province) and sim-approve COUNTY
 *    PERIOD (approved again, with corrected figures) are the tests' levers. Their changes take
 *    versions after the generated history and live in memory.
 *
 *  Figures depend on the county code, so counties rank differently. Pages end at a whole
 *  version (a snapshot is never cut). Runs until SIGINT or SIGTERM.
 */
#include "query.h"

#include <czmq.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_LATEST 2025    // first year of the newest academic year
#define S_PER_YEAR 34    // aggregate rows of one year
#define S_SPAN 4         // versions a year takes
#define S_SECTIONS 5     // aggregates, warnings, periods, late changes, cases

static const char *s_indicators[17] = {
    "degree_teachers_per100",  "backbone_teachers_per100", "pe_art_teachers_per100",
    "teaching_area_per_student", "sports_area_per_student", "equipment_value_per_student",
    "multimedia_rooms_per100", "student_teacher_ratio",    "bachelor_teacher_pct",
    "training_hours",          "backbone_rotation_pct",    "fitness_pass_pct",
    "exam_excellent_pct",      "myopia_pct",               "psych_teacher_pct",
    "inquiry_learning_pct",    "parent_satisfaction_pct"};

//  A change made while serving: one row of one section, at a version after the history.
typedef struct {
    unsigned long long version;
    int section;
    char *line; // COPY text after the version, with its newline
} s_entry_t;

//  A county that changed while serving.
typedef struct {
    zlistx_t *entries; // s_entry_t, ascending versions
    zhashx_t *states;  // period -> "open", "approved", "accepted", "returned"
    int revision;      // approvals made while serving (figures change with each)
} s_county_t;

typedef struct {
    long rows;                  // aggregate rows of a county
    unsigned long long next;    // the next version for a change made while serving
    zhashx_t *counties;         // code -> s_county_t
} s_sim_t;

static unsigned s_hash(const char *s, unsigned seed)
{
    unsigned h = 2166136261u ^ seed;
    for (; *s; s++)
        h = (h ^ (unsigned char) *s) * 16777619u;
    return h;
}

static long s_years(const s_sim_t *sim)
{
    return 1 + (sim->rows + S_PER_YEAR - 1) / S_PER_YEAR; // the open year and the approved ones
}

static void s_period(long j, char *buf, size_t size)
{
    snprintf(buf, size, "%ld-%ld", S_LATEST - j, S_LATEST - j + 1);
}

static void s_add(zchunk_t **out, int section, unsigned long long version, const char *fmt, ...)
{
    char head[24];
    int n = snprintf(head, sizeof head, "%llu\t", version);
    zchunk_extend(out[section], head, (size_t) n);
    va_list ap;
    va_start(ap, fmt);
    char *line = zsys_vprintf(fmt, ap); // a reason may be long
    va_end(ap);
    zchunk_extend(out[section], line, strlen(line));
    zstr_free(&line);
}

//  A year's aggregates and county-level warnings at version (revision moves the figures).
static int s_snapshot(const s_sim_t *sim, zchunk_t **out, const char *county, long j,
                      unsigned long long version, int revision)
{
    char period[48];
    s_period(j, period, sizeof period);
    int rows = 0;
    for (int k = 0; k < S_PER_YEAR && (j - 1) * S_PER_YEAR + k < sim->rows; k++, rows++) {
        const char *stage = k % 2 ? "junior" : "primary", *indicator = s_indicators[k / 2];
        char key[96];
        snprintf(key, sizeof key, "%s/%s/%s", stage, indicator, period);
        unsigned h = s_hash(key, s_hash(county, (unsigned) revision));
        int schools = 10 + (int) (h % 20), red = (int) (h / 7 % 3), yellow = (int) (h / 11 % 4);
        double cv = 0.15 + (double) (h / 13 % 40) / 100, mean = 50 + (double) (h % 7) + revision;
        s_add(out, 0, version, "%s\t%s\t%s\t%d\t%g\t%g\t%g\t%g\t%d\t%d\t%d\n", stage, indicator,
              period, schools, mean, mean * 0.6, mean * 1.4, cv, red, yellow,
              schools - red - yellow);
        if (cv > 0.45)
            s_add(out, 1, version, "dispersion\t%s\t%s\t%s\t%s\t%g\t差异系数 %.3f\n", stage,
                  indicator, period, cv > 0.5 ? "red" : "yellow", cv, cv);
    }
    for (int s = 0; s < 2; s++) { // 优质均衡达标: the share of schools meeting the standard
        const char *stage = s ? "junior" : "primary";
        double share = 0.6 + (double) (s_hash(county, (unsigned) (s * 31 + j)) % 41) / 100;
        s_add(out, 1, version, "county_balanced\t%s\tcounty_balanced\t%s\t%s\t%g\t达标学校占比 %.0f%%\n",
              stage, period, share >= 0.85 ? "green" : share >= 0.75 ? "yellow" : "red", share,
              share * 100);
    }
    return rows + 2;
}

//  The generated history of one version (nothing for an unused one). Returns the rows added.
static int s_history(const s_sim_t *sim, zchunk_t **out, const char *county,
                     unsigned long long version)
{
    long j = (long) ((version - 1) / S_SPAN), step = (long) ((version - 1) % S_SPAN);
    if (j >= s_years(sim))
        return 0;
    char period[48], school[16];
    s_period(j, period, sizeof period);
    snprintf(school, sizeof school, "21%.2s%06ld", county, j % 30 + 1);
    const char *indicator = s_indicators[(s_hash(county, (unsigned) j) % 17)];
    if (step == 0) {
        s_add(out, 3, version, "%s\t%s\t%s\t%g\t%g\t%ld-11-%02ldT09:30:00+08\tchange\t\\N\n",
              school, indicator, period, 4.0 + (double) (j % 3), 4.5 + (double) (j % 3),
              S_LATEST - j, 1 + j % 28);
        return 1;
    }
    if (step == 1) {
        s_add(out, 4, version, "%ld\tthreshold\t%s\tprimary\t%s\t%s\tred\t%s\t%s\t%ld-12-31\n",
              j + 1, school, indicator, period, j % 2 ? "assigned" : "open",
              j % 3 == 0 ? "t" : "f", S_LATEST - j);
        return 1;
    }
    if (step == 2 && j > 0) {
        s_add(out, 2, version, "%s\tapproved\t%ld-11-15T10:00:00+08\t%ld-11-15T10:00:00+08"
              "\t\\N\t\\N\n", period, S_LATEST - j + 1, S_LATEST - j + 1);
        return 1 + s_snapshot(sim, out, county, j, version, 0);
    }
    return 0;
}

static s_county_t *s_county(s_sim_t *sim, const char *code)
{
    s_county_t *county = zhashx_lookup(sim->counties, code);
    if (!county) {
        county = calloc(1, sizeof *county);
        county->entries = zlistx_new();
        county->states = zhashx_new();
        zhashx_set_destructor(county->states, (zhashx_destructor_fn *) zstr_free);
        zhashx_insert(sim->counties, code, county);
    }
    return county;
}

static void s_county_destroy(s_county_t **self_p)
{
    s_county_t *self = *self_p;
    for (s_entry_t *e = zlistx_first(self->entries); e; e = zlistx_next(self->entries)) {
        free(e->line);
        free(e);
    }
    zlistx_destroy(&self->entries);
    zhashx_destroy(&self->states);
    free(self);
    *self_p = NULL;
}

/*  Moves the rows in out (one version) to a county's changes; out is left empty. */
static void s_record(s_county_t *county, zchunk_t **out, unsigned long long version)
{
    for (int s = 0; s < S_SECTIONS; s++) {
        const char *data = (const char *) zchunk_data(out[s]);
        size_t size = zchunk_size(out[s]);
        for (size_t at = 0; at < size;) {
            const char *nl = memchr(data + at, '\n', size - at);
            size_t end = nl ? (size_t) (nl - data) + 1 : size;
            const char *tab = memchr(data + at, '\t', end - at); // after the version
            s_entry_t *e = calloc(1, sizeof *e);
            *e = (s_entry_t){version, s, strndup(tab + 1, end - (size_t) (tab + 1 - data))};
            zlistx_add_end(county->entries, e);
            at = end;
        }
        zchunk_destroy(&out[s]);
        out[s] = zchunk_new(NULL, 4096);
    }
}

static const char *s_state(const s_sim_t *sim, s_county_t *county, const char *period)
{
    const char *state = county ? zhashx_lookup(county->states, period) : NULL;
    if (state)
        return state;
    int year = atoi(period);
    return year < S_LATEST && S_LATEST - year < s_years(sim) ? "approved" : "open";
}

static void s_set_state(s_county_t *county, const char *period, const char *state)
{
    zhashx_update(county->states, period, strdup(state));
}

static zchunk_t **s_chunks(void)
{
    zchunk_t **out = calloc(S_SECTIONS, sizeof *out);
    for (int s = 0; s < S_SECTIONS; s++)
        out[s] = zchunk_new(NULL, 4096);
    return out;
}

static void s_chunks_destroy(zchunk_t ***out_p)
{
    for (int s = 0; s < S_SECTIONS; s++)
        zchunk_destroy(&(*out_p)[s]);
    free(*out_p);
    *out_p = NULL;
}

/*  A page of version 2: whole versions after cursor until limit rows. */
static void s_page_v2(s_sim_t *sim, zmsg_t *reply, const char *code, unsigned long long cursor,
                      long limit)
{
    zchunk_t **out = s_chunks();
    s_county_t *county = zhashx_lookup(sim->counties, code);
    unsigned long long last = cursor, history = (unsigned long long) s_years(sim) * S_SPAN;
    long rows = 0;
    bool more = false;
    for (unsigned long long v = cursor + 1; v <= history; v++) {
        if (rows >= limit) {
            more = true;
            break;
        }
        int n = s_history(sim, out, code, v);
        if (n) {
            rows += n;
            last = v;
        }
    }
    for (s_entry_t *e = county ? zlistx_first(county->entries) : NULL; e;
         e = zlistx_next(county->entries)) {
        if (e->version <= cursor)
            continue;
        if (more || (rows >= limit && e->version != last)) {
            more = true;
            break;
        }
        char head[24];
        int n = snprintf(head, sizeof head, "%llu\t", e->version);
        zchunk_extend(out[e->section], head, (size_t) n);
        zchunk_extend(out[e->section], e->line, strlen(e->line));
        rows++;
        last = e->version;
    }
    zmsg_addstr(reply, QUERY_OK);
    zmsg_addstr(reply, code);
    zmsg_addstrf(reply, "%llu", last);
    zmsg_addstr(reply, more ? "1" : "0");
    for (int s = 0; s < S_SECTIONS; s++)
        zmsg_addmem(reply, zchunk_data(out[s]), zchunk_size(out[s]));
    s_chunks_destroy(&out);
}

/*  A page of an old county: rows versions 1..ROWS, a warning change every 20. */
static void s_page_v1(const s_sim_t *sim, zmsg_t *reply, const char *county,
                      unsigned long long from, long limit)
{
    unsigned long long to = from + (unsigned long long) limit;
    if (to > (unsigned long long) sim->rows)
        to = (unsigned long long) sim->rows;
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
    zmsg_addstr(reply, QUERY_OK);
    zmsg_addstr(reply, county);
    zmsg_addstrf(reply, "%llu", to);
    zmsg_addstr(reply, to < (unsigned long long) sim->rows ? "1" : "0");
    zmsg_addmem(reply, zchunk_data(aggregates), zchunk_size(aggregates));
    zmsg_addmem(reply, zchunk_data(warnings), zchunk_size(warnings));
    zchunk_destroy(&aggregates);
    zchunk_destroy(&warnings);
}

/*  accept, return, sim-unlock, sim-approve: the year's state moves, with its rows. Returns the
 *  text of the answer, or NULL with err. */
static char *s_act(s_sim_t *sim, const char *what, const char *code, const char *period,
                   const char *reason, char *err, size_t errlen)
{
    int year = period ? atoi(period) : 0;
    long j = S_LATEST - year;
    char check[48];
    s_period(j, check, sizeof check);
    if (!code || strlen(code) != 6 || !period || strcmp(check, period) != 0 || j < 0 ||
        j >= s_years(sim)) {
        snprintf(err, errlen, "没有这个学年：%s", period ? period : "");
        return NULL;
    }
    s_county_t *county = s_county(sim, code);
    const char *state = s_state(sim, county, period);
    zchunk_t **out = s_chunks();
    unsigned long long v = sim->next++;
    char *text = NULL;
    if (strcmp(what, QUERY_ACCEPT) == 0) {
        if (strcmp(state, "approved") == 0) {
            s_add(out, 2, v, "%s\taccepted\t2026-01-05T10:00:00+08\t2025-11-15T10:00:00+08"
                  "\t2026-01-05T10:00:00+08\t\\N\n", period);
            s_set_state(county, period, "accepted");
            text = strdup("已确认");
        }
    } else if (strcmp(what, QUERY_RETURN) == 0) {
        if (strcmp(state, "approved") == 0 || strcmp(state, "accepted") == 0) {
            s_add(out, 2, v, "%s\treturned\t2026-01-05T10:00:00+08\t\\N\t\\N\t%s\n", period,
                  reason ? reason : "");
            s_set_state(county, period, "returned");
            text = strdup("已退回");
        }
    } else if (strcmp(what, "sim-unlock") == 0) {
        if (strcmp(state, "approved") == 0 || strcmp(state, "accepted") == 0) {
            s_add(out, 2, v, "%s\topen\t2026-01-06T10:00:00+08\t\\N\t\\N\t%s\n", period,
                  reason ? reason : "");
            s_record(county, out, v);
            v = sim->next++;
            s_add(out, 3, v, "%s\t\\N\t%s\t\\N\t\\N\t2026-01-06T10:00:00+08\tunlock\t%s\n", code,
                  period, reason ? reason : "");
            s_set_state(county, period, "open");
            text = strdup("已解锁");
        }
    } else if (strcmp(what, "sim-approve") == 0) {
        if (strcmp(state, "open") == 0 || strcmp(state, "returned") == 0) {
            county->revision++;
            s_add(out, 2, v, "%s\tapproved\t2026-01-07T10:00:00+08\t2026-01-07T10:00:00+08\t\\N"
                  "\t\\N\n", period);
            s_snapshot(sim, out, code, j, v, county->revision);
            s_set_state(county, period, "approved");
            text = strdup("已审核");
        }
    }
    if (text)
        s_record(county, out, v);
    else
        snprintf(err, errlen, "学年 %s 的状态是 %s，不能%s", period, state, what);
    s_chunks_destroy(&out);
    return text;
}

static int s_serve(const char *endpoint, const char *dir, long rows)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/sim_secret", dir);
    zcert_t *cert = zcert_load(path);
    if (!cert) {
        cert = zcert_new();
        snprintf(path, sizeof path, "%s/sim", dir);
        zcert_save(cert, path);
    }
    zsock_t *router = zsock_new(ZMQ_ROUTER);
    zsock_set_linger(router, 0);
    zcert_apply(cert, router);
    zsock_set_curve_server(router, 1);
    if (zsock_bind(router, "%s", endpoint) < 0) {
        fprintf(stderr, "county_sim: cannot bind %s\n", endpoint);
        zsock_destroy(&router);
        zcert_destroy(&cert);
        return 1;
    }
    s_sim_t sim = {.rows = rows, .counties = zhashx_new()};
    sim.next = (unsigned long long) s_years(&sim) * S_SPAN + 1;
    zhashx_set_destructor(sim.counties, (zhashx_destructor_fn *) s_county_destroy);
    printf("ready\n");
    fflush(stdout);
    while (!zsys_interrupted) {
        zmsg_t *request = zmsg_recv(router);
        if (!request)
            break;
        zframe_t *id = zmsg_pop(request);
        char *arg[6] = {NULL};
        size_t n = zmsg_size(request);
        for (size_t i = 0; i < 6 && i < n; i++)
            arg[i] = zmsg_popstr(request);
        zmsg_t *reply = zmsg_new();
        zmsg_append(reply, &id);
        char err[256] = "unknown request", *text = NULL;
        if (arg[0] && strcmp(arg[0], QUERY_PULL) == 0 && (n == 4 || n == 5) && arg[3]) {
            if (n == 5 && strcmp(arg[4], QUERY_PULL_VERSION) == 0)
                s_page_v2(&sim, reply, arg[1], strtoull(arg[2], NULL, 10), atol(arg[3]));
            else
                s_page_v1(&sim, reply, arg[1], strtoull(arg[2], NULL, 10), atol(arg[3]));
        } else if (arg[0] && n >= 3 && n <= 4 &&
                   (strcmp(arg[0], QUERY_ACCEPT) == 0 || strcmp(arg[0], QUERY_RETURN) == 0 ||
                    strcmp(arg[0], "sim-unlock") == 0 || strcmp(arg[0], "sim-approve") == 0) &&
                   (text = s_act(&sim, arg[0], arg[1], arg[2], arg[3], err, sizeof err))) {
            zmsg_addstr(reply, QUERY_OK);
            zmsg_addstrf(reply, "%s：%s %s", text, arg[1], arg[2]);
        } else {
            zmsg_addstr(reply, QUERY_ERROR);
            zmsg_addstr(reply, err);
        }
        zmsg_send(&reply, router);
        free(text);
        for (size_t i = 0; i < 6; i++)
            free(arg[i]);
        zmsg_destroy(&request);
    }
    zhashx_destroy(&sim.counties);
    zsock_destroy(&router);
    zcert_destroy(&cert);
    return 0;
}

static int s_send(const char *endpoint, const char *server_path, int argc, char **argv)
{
    zcert_t *server = zcert_load(server_path), *client = zcert_new();
    if (!server) {
        fprintf(stderr, "county_sim: cannot load %s\n", server_path);
        zcert_destroy(&client);
        return 1;
    }
    zsock_t *dealer = zsock_new(ZMQ_DEALER);
    zsock_set_linger(dealer, 0);
    zsock_set_rcvtimeo(dealer, 10000);
    zcert_apply(client, dealer);
    zsock_set_curve_serverkey(dealer, zcert_public_txt(server));
    zsock_connect(dealer, "%s", endpoint);
    zmsg_t *request = zmsg_new();
    for (int i = 0; i < argc; i++)
        zmsg_addstr(request, argv[i]);
    zmsg_send(&request, dealer);
    zmsg_t *reply = zmsg_recv(dealer);
    int rc = 1;
    if (reply) {
        char *status = zmsg_popstr(reply), *text = zmsg_popstr(reply);
        printf("%s %s\n", status ? status : "", text ? text : "");
        rc = status && strcmp(status, QUERY_OK) == 0 ? 0 : 1;
        free(status), free(text);
    }
    zmsg_destroy(&reply);
    zsock_destroy(&dealer);
    zcert_destroy(&server);
    zcert_destroy(&client);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc >= 5 && strcmp(argv[1], "--send") == 0)
        return s_send(argv[2], argv[3], argc - 4, argv + 4);
    if (argc != 4 || atol(argv[3]) < 1) {
        fprintf(stderr, "usage: county_sim ENDPOINT CERT_DIR ROWS\n"
                        "       county_sim --send ENDPOINT SERVER_CERT FRAME...\n");
        return 2;
    }
    return s_serve(argv[1], argv[2], atol(argv[3]));
}
