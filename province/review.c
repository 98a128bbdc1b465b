/*  review - the province accepts or returns a county's approved year (省级确认、退回)
 *
 *  One request on the county's `query` endpoint with the province's key, which the county lists
 *  in `[curve] province`: [accept][county][period] or [return][county][period][reason], answered
 *  [ok][text] or [error][why]. The county changes the year's state; the province's tables
 *  follow at its next pull (the change comes back as a period row), so there is one truth, the
 *  county's.
 */
#include "province.h"

#include "keys.h"
#include "period.h"
#include "query.h"
#include "util.h"

#include <czmq.h>
#include <stdlib.h>
#include <string.h>

/*  Checks the request before it leaves. Returns 0, or -1 with err. */
static int s_check(const province_config_t *config, const char *what, const char *county,
                   const char *period, const char *reason, char *err, size_t errlen)
{
    int year;
    if (!province_county(config, county))
        return errorf(err, errlen, "county \"%.16s\" is not configured (no [county.%.16s])",
                      county, county);
    if (period_parse(period, &year) != 0)
        return errorf(err, errlen, "\"%.24s\" is not an academic year (YYYY-YYYY)", period);
    if (strcmp(what, QUERY_RETURN) != 0)
        return 0;
    size_t n = reason ? strlen(reason) : 0;
    if (n == 0)
        return errorf(err, errlen, "a return needs its reason (--reason)");
    if (n > QUERY_MAX_NOTE)
        return errorf(err, errlen, "the reason is %zu bytes, more than %d", n, QUERY_MAX_NOTE);
    if (!utf8_valid(reason, n) || strpbrk(reason, "\r\n\t"))
        return errorf(err, errlen, "the reason must be one line of UTF-8 text");
    return 0;
}

int province_review(const province_config_t *config, const char *what, const char *county,
                    const char *period, const char *reason, char **answer, char *err,
                    size_t errlen)
{
    if (s_check(config, what, county, period, reason, err, errlen) != 0)
        return -1;
    const county_t *c = province_county(config, county);
    zsock_t *dealer = zsock_new(ZMQ_DEALER);
    zmsg_t *reply = NULL;
    char *status = NULL, *text = NULL, inner[512], shown[1024];
    int rc = -1;
    zsock_set_linger(dealer, 0);
    zsock_set_maxmsgsize(dealer, 1024 * 1024);
    zsock_set_rcvtimeo(dealer, (int) config->timeout_ms);
    if (config->curve_enabled &&
        keys_curve_client(dealer, config->curve_secret, c->server, inner, sizeof inner) != 0) {
        errorf(err, errlen, "%s", inner);
        goto cleanup;
    }
    if (zsock_connect(dealer, "%s", c->endpoint) != 0) {
        errorf(err, errlen, "cannot connect to \"%s\"", c->endpoint);
        goto cleanup;
    }
    zmsg_t *request = zmsg_new();
    zmsg_addstr(request, what);
    zmsg_addstr(request, county);
    zmsg_addstr(request, period);
    if (strcmp(what, QUERY_RETURN) == 0)
        zmsg_addstr(request, reason);
    zmsg_send(&request, dealer);
    reply = zmsg_recv(dealer);
    if (!reply) {
        errorf(err, errlen, "no answer from county %s (\"%s\") within %ld ms", county,
               c->endpoint, config->timeout_ms);
        goto cleanup;
    }
    status = zmsg_popstr(reply);
    text = zmsg_popstr(reply);
    str_escape(text ? text : "", shown, sizeof shown);
    if (status && strcmp(status, QUERY_OK) == 0 && zmsg_size(reply) == 0) {
        *answer = xstrdup(shown);
        rc = 0;
    } else if (status && strcmp(status, QUERY_ERROR) == 0) {
        errorf(err, errlen, "county %s refused: %s", county, shown);
    } else {
        errorf(err, errlen, "county %s: malformed answer", county);
    }
cleanup:
    free(status);
    free(text);
    zmsg_destroy(&reply);
    zsock_destroy(&dealer);
    return rc;
}
