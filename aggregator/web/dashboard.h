/*  dashboard - the aggregator's HTTP port: Prometheus metrics and a page for supervisors
 *
 *  GET /metrics        the aggregator's metrics (the registry the main loop updates, plus
 *                      warnings by level and kind and alerts pending per destination, read
 *                      from the database when scraped)
 *  GET /               the dashboard page (embedded): the county's schools × indicators as a
 *                      red/yellow/green matrix, the dispersion (差异系数) per indicator and stage
 *                      against target and limit, the schools that have not reported, the latest
 *                      alerts; it refreshes itself
 *  GET /api/summary, /api/matrix, /api/dispersion, /api/missing, /api/alerts
 *                      the JSON the page reads (made by PostgreSQL from edu.* tables and views)
 *
 *  Requests are answered in libmicrohttpd's thread with the dashboard's own read-only use of
 *  its own database connection, so they never touch the main loop's state.
 */
#ifndef EDU_DASHBOARD_H
#define EDU_DASHBOARD_H

#include "metrics.h"

#include <stddef.h>

typedef struct dashboard_t dashboard_t;

/*  Serves on listen ("ADDRESS:PORT"); borrows metrics. Returns NULL with err. */
dashboard_t *dashboard_new(const char *listen, const char *hosts, const char *conninfo,
                           const char *county, metrics_t *metrics, char *err, size_t errlen);
void dashboard_destroy(dashboard_t **self_p);

#endif
