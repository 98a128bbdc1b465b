/*  inbox - where a school's staff drop CSV files, and how a file is taken
 *
 *  A file is ready when its name ends in .csv (any case) and does not start with a dot; names
 *  ending .tmp or .part are still being written. Taking a file is atomic with respect to the
 *  spool, so that a crash at any moment neither loses nor doubles a record:
 *
 *    1. rename inbox/F to inbox/.taking/TAG (TAG = "<nanoseconds>-F", unique)
 *    2. parse it; append its good rows to the spool; write its bad rows to rejected/F.errors.csv
 *    3. spool_commit(TAG): one fsync makes the records durable, together with the tag
 *    4. rename .taking/TAG to done/F (done/F.<n> when a file of that name was taken before)
 *
 *  At start a file left in .taking/ is finished: if the spool's last commit carries its tag the
 *  records are safe and it goes to done/; otherwise nothing of it was committed (the spool
 *  truncated the rest) and it goes back to the inbox to be taken again.
 *
 *  A file that cannot be read at all (no header, undecodable) goes to rejected/F with its
 *  errors beside it. A file too big for the spool's room waits in the inbox.
 */
#ifndef EDU_INBOX_H
#define EDU_INBOX_H

#include "spool.h"

#include <edu/v1/eduwatch.pb-c.h>
#include <stddef.h>

typedef struct inbox_t inbox_t;

/*  Opens the inbox dir (creating done/, rejected/ and .taking/), watches it with inotify, and
 *  finishes what a previous run left in .taking/. Borrows spool. Returns NULL with err. */
inbox_t *inbox_new(const char *dir, spool_t *spool, char *err, size_t errlen);
void inbox_destroy(inbox_t **self_p);

/*  The inotify descriptor, to poll for readability. */
int inbox_fd(inbox_t *self);

/*  What the inbox has done since start. */
typedef struct {
    unsigned long long files_taken;     // moved to done/ with their records spooled
    unsigned long long files_rejected;  // unreadable as a whole, moved to rejected/
    unsigned long long records_spooled; // records taken into the spool
    unsigned long long rows_refused;    // rows that could not be parsed
} inbox_stats_t;
const inbox_stats_t *inbox_stats(const inbox_t *self);

/*  Drains pending inotify events. */
void inbox_drain_events(inbox_t *self);

/*  Takes every ready file, oldest first, while the spool has room. Returns the number of files
 *  taken, or -1 when a file had to be left for later (the reason is logged). */
int inbox_take_ready(inbox_t *self);

/*  Reports a record the aggregator refused, in rejected/<file>.errors.csv. */
void inbox_report_refusal(inbox_t *self, const Edu__V1__Refusal *refusal);

#endif
