/*  redact - secrets taken out of what may reach a log line
 *
 *  A libpq conninfo or an alert destination's URL can carry a credential: a password, a
 *  robot's access_token, a signing key. Whatever names one of them in a message goes through
 *  these first, so that no log line, --check message or metrics label ever shows a secret.
 */
#ifndef EDU_REDACT_H
#define EDU_REDACT_H

#include <stddef.h>

/*  conninfo (libpq's "key=value ..." or "postgresql://..." form) with every secret option
 *  (password, sslpassword) shown as ***. Something libpq cannot parse is shown only by its
 *  length. Into buf (size bytes, always terminated); returns buf. */
const char *redact_conninfo(const char *conninfo, char *buf, size_t size);

/*  url with its password (scheme://user:***@host), the values of query parameters that carry a
 *  credential (access_token, token, key, secret, sign, password) and the path segment after
 *  "/hook/" (Feishu's and others' robot tokens) shown as ***. Into buf (size bytes, always
 *  terminated); returns buf. */
const char *redact_url(const char *url, char *buf, size_t size);

#endif
