/*  page - the province's HTTP page (省级监测窗口) and the JSON it reads
 *
 *  GET /                         the page (deploy/province/index.html, embedded): for a year,
 *                                the counties × indicators heat map of the CV per stage, the
 *                                share of counties meeting the standard (优质均衡达标率), the
 *                                rankings, each county's approval and escalated cases (督办);
 *                                #county=CODE draws one county's indicators over the years
 *  GET /api/periods              the years known, and the latest approved one
 *  GET /api/overview/PERIOD      per county: approval, CV and green share per stage,
 *                                county_balanced, open and escalated cases; the shares
 *  GET /api/heat/PERIOD/STAGE    the heat map's cells (CV, dispersion level, school counts)
 *  GET /api/county/CODE          one county: its years' approval, each indicator's series,
 *                                escalated cases, late changes
 *
 *  PERIOD is YYYY-YYYY, STAGE primary or junior, CODE six digits; anything else is 404. The
 *  JSON is made by PostgreSQL from the province's views; requests are answered in
 *  libmicrohttpd's thread on the page's own database connection.
 */
#ifndef EDU_PAGE_H
#define EDU_PAGE_H

#include <stddef.h>

typedef struct page_t page_t;

/*  Serves on listen ("ADDRESS:PORT"), also answering the Host names in hosts (comma-separated)
 *  and reading the database conninfo. Returns NULL with err. */
page_t *page_new(const char *listen, const char *hosts, const char *conninfo, char *err,
                 size_t errlen);
void page_destroy(page_t **self_p);

/*  The port bound (useful with port 0). */
int page_port(page_t *self);

#endif
