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
    char *endpoint; // its query endpoint
    char *server;   // its aggregator's public certificate
} county_t;

typedef struct {
    char *database;      // libpq conninfo of the province database
    long interval_s;     // between rounds without --once
    long timeout_ms;     // a county that does not answer a page within this fails the round
    long page_rows;      // rows asked per page
    long concurrency;    // counties pulled at once
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

/*  Brings the province schema up to date. Returns 0, or -1 with err. */
int province_migrate(const province_config_t *config, char *err, size_t errlen);

/*  Pulls every county once (once) or for ever. Returns 0 when every county of the last round
 *  succeeded; otherwise 1, each failure named on stderr. */
int province_pull(const province_config_t *config, bool once);

#endif
