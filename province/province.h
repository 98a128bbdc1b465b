/*  province - the province's puller: every county's aggregates, incrementally and resumably
 *
 *  One round pulls every configured county concurrently (at most `concurrency` at a time):
 *  a DEALER per county (CURVE, the province's key among the county's readers) asks the county's
 *  `query` endpoint for a page of what changed after the county's cursor, and each page is
 *  stored in one transaction together with the county's new cursor. So a puller killed at any
 *  moment resumes from the stored cursor with nothing missing or doubled. A county that does not
 *  answer within `timeout_ms` fails the round with a message naming it and holds up nobody.
 *  docs/protocol.md describes the exchange.
 */
#ifndef EDU_PROVINCE_H
#define EDU_PROVINCE_H

#include "config.h"

#include <stdbool.h>
#include <stddef.h>

typedef struct {
    char *code;     // 6-digit county code
    char *name;     // its name for people (the code when not given)
    char *endpoint; // its query endpoint
    char *server;   // its aggregator's public certificate
} county_t;

typedef struct {
    char *database;      // libpq conninfo of the province database
    long interval_s;     // between rounds without --once
    long timeout_ms;     // a county that does not answer a page within this fails the round
    long page_rows;      // rows asked per page
    long concurrency;    // counties pulled at once
    char *http;          // ADDRESS:PORT of the province's page (empty: none)
    char *http_hosts;    // further Host header values the page answers, comma-separated
    bool curve_enabled;  // CURVE on
    char *curve_secret;  // the province's secret certificate
    county_t *counties;  // [county.CODE] sections, in file order
    size_t county_count; // how many
} province_config_t;

extern const config_key_t province_config_keys[];

/*  Loads and checks path (every county section needs endpoint and server, certificates must
 *  load). Returns 0, or -1 with err naming the file, line and problem. */
int province_config_load(const char *path, province_config_t *config, char *err, size_t errlen);
void province_config_free(province_config_t *config);

/*  The county section of code, or NULL. Borrowed. */
const county_t *province_county(const province_config_t *config, const char *code);

/*  Brings the province schema up to date (province/schema.c). Returns 0, or -1 with err. */
int province_migrate(const province_config_t *config, char *err, size_t errlen);

/*  Pulls every county once (once) or for ever, serving the province's page meanwhile when
 *  `http` is set (without once). Returns 0 when every county of the last round succeeded;
 *  otherwise 1, each failure named on stderr. */
int province_pull(const province_config_t *config, bool once);

/*  Asks county to accept (QUERY_ACCEPT) or return (QUERY_RETURN, with reason) its year period,
 *  with the province's key (province/review.c). On the county's yes, returns 0 with its text
 *  in answer (malloc'd, the caller frees it; control characters escaped); otherwise -1 with
 *  err (the county's no, or why it could not be asked). The province's tables follow at the
 *  next pull. */
int province_review(const province_config_t *config, const char *what, const char *county,
                    const char *period, const char *reason, char **answer, char *err,
                    size_t errlen);

#endif
