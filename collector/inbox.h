/*  inbox - where a school's staff drop CSV files, and how a file is taken
 *
 *  A file is a candidate when its name ends in .csv (any case) and starts with neither a dot
 *  nor "~$"; names ending .tmp or .part are still being written. A workbook (.xlsx, .xlsm,
 *  .xls, .et, .ods) is a candidate too, only to be refused with a sentence saying how to save
 *  it as CSV.
 *
 *  A candidate is taken only once its writer has finished with it:
 *
 *    - renamed into the inbox (IN_MOVED_TO: how careful writers finish, *.tmp → *.csv): at once;
 *    - written in place: after IN_CLOSE_WRITE, once it has not changed (inode, size,
 *      modification time) for settle_ms; a write after the close (IN_MODIFY) starts the wait
 *      again, and while a writer has it open and writes (IN_CREATE, IN_MODIFY with no close
 *      yet) it is not taken at all;
 *    - found by a scan with no event (at start, on a network share, after the event queue
 *      overflowed): once it has not changed for settle_ms since it was first seen, or at once
 *      when its modification time is already settle_ms in the past.
 *
 *  The settle time counts from the last change the collector knows of, never from when it
 *  looked: a file that is already settled is not made to wait. A writer that closes a file and
 *  opens it again to append (a copy over a share, a slow USB stick, a script) must not pause
 *  longer than settle_ms between the two.
 *
 *  Files are taken in the order they arrived: by modification time (nanoseconds), then, for
 *  the same time, in the order their close or rename events came, then by name. A file that is
 *  settling holds back the files younger than it, so a correction never overtakes the file it
 *  corrects; a file still open for writing holds back nobody (its modification time will be
 *  later than theirs when it is done).
 *
 *  Taking a file is atomic with respect to the spool, so that a crash at any moment neither
 *  loses nor doubles a record:
 *
 *    1. choose its take name: F, or F.N when done/, delivered/ or rejected/ know F already
 *    2. rename inbox/F to inbox/.taking/TAG (TAG = "<nanoseconds>+<N>-F", unique); if the file
 *       changed since it was judged settled, it goes back and waits again
 *    3. read it as a stream, appending each good row to the spool as it is read (each record
 *       names the take name as its source file; nothing is present before the commit); write
 *       its bad rows to rejected/<take name>.errors.csv; note its receipt
 *    4. spool_commit(TAG): one fsync makes the records durable, together with the tag
 *    5. rename .taking/TAG to done/<take name>
 *
 *  At start a file left in .taking/ is finished: if the spool's last commit carries its tag the
 *  records are safe and it goes to done/; otherwise nothing of it was committed (the spool
 *  truncated the rest): its errors file and receipt are dropped and it goes back to the inbox
 *  to be taken again.
 *
 *  The file is never held in memory: the CSV reader reads it in chunks, each record goes to the
 *  spool's write buffer as soon as its row is judged, and only the row errors (bounded) wait for
 *  the end. A take of a big file reports its progress (rows read, records spooled) through the
 *  config's progress callback about once a second and in the log every INBOX_PROGRESS_LOG_MS.
 *
 *  A file that cannot be read at all (no header, undecodable, a workbook, too big, a name too
 *  long) goes to rejected/ with its errors beside it. A file that does not fit in the spool's
 *  room now waits in the inbox. A file that changes after it was taken (saved again from
 *  Excel, which writes a new file) is a new file: taken whole again, its rows are corrections.
 */
#ifndef EDU_INBOX_H
#define EDU_INBOX_H

#include "receipts.h"
#include "spool.h"

#include <edu/v1/eduwatch.pb-c.h>
#include <stddef.h>
#include <stdint.h>

#define INBOX_MAX_NAME 200 // bytes of a file name taken (its take name and errors file fit in 255)
#define INBOX_PROGRESS_MS 1000     // how often a take calls the progress callback
#define INBOX_PROGRESS_LOG_MS 5000 // and logs its progress this often

typedef struct inbox_t inbox_t;

/*  Called while a file is taken, every progress_ms (so only for a file that takes that long):
 *  its name in the inbox (borrowed for the call), the data rows read so far and the records
 *  appended to the spool (not committed yet). */
typedef void(inbox_progress_fn)(void *arg, const char *name, uint64_t rows_read, uint64_t records);

typedef struct {
    const char *dir;         // the inbox
    const char *school;      // this collector's school (for the explanations)
    int64_t settle_ms;       // how long a file written in place must stay unchanged
    uint64_t max_file_bytes; // largest file taken; larger ones are refused
    inbox_progress_fn *progress; // called during a long take (NULL: none)
    void *progress_arg;          // its first argument
    int64_t progress_ms;         // how often: INBOX_PROGRESS_MS (0: at every 1024th record)
} inbox_config_t;

/*  Opens the inbox dir (creating done/, rejected/ and .taking/), watches it with inotify (or,
 *  when inotify cannot be had, logs it and relies on scans), and finishes what a previous run
 *  left in .taking/. Borrows spool and receipts; copies config. Returns NULL with err. */
inbox_t *inbox_new(const inbox_config_t *config, spool_t *spool, receipts_t *receipts, char *err,
                   size_t errlen);
void inbox_destroy(inbox_t **self_p);

/*  The inotify descriptor, to poll for readability (-1 when inotify could not be had: the
 *  caller's periodic scans then find every file, and try inotify again). It may change after
 *  inbox_take_ready(). */
int inbox_fd(inbox_t *self);

/*  What the inbox has done since start. */
typedef struct {
    unsigned long long files_taken;     // moved to done/ with their records spooled
    unsigned long long files_rejected;  // unreadable as a whole, moved to rejected/
    unsigned long long records_spooled; // records taken into the spool
    unsigned long long rows_refused;    // rows that could not be parsed
    unsigned long long files_waiting;   // candidates in the inbox at the last scan
} inbox_stats_t;
const inbox_stats_t *inbox_stats(const inbox_t *self);

/*  Reads pending inotify events (now_ms: the monotonic clock). Returns true when one of them
 *  may have made a file ready (a close or a rename), so that a scan is worth it now. */
bool inbox_drain_events(inbox_t *self, int64_t now_ms);

/*  Scans the inbox and takes every file that is ready, in order, while the spool has room.
 *  Returns the number of files taken (or refused into rejected/), or -1 when a file had to be
 *  left for later for want of room or because of an error (the reason is logged). */
int inbox_take_ready(inbox_t *self, int64_t now_ms);

/*  When (monotonic ms) a file now settling will have settled, if no scan since has judged it;
 *  -1 when there is none. */
int64_t inbox_next_ready_ms(const inbox_t *self);

/*  Reports refusals of the county in each file's rejected/<file>.errors.csv (one write per
 *  file), with hints taken from the refused records still in the spool. Borrows them. */
void inbox_report_refusals(inbox_t *self, Edu__V1__Refusal *const *refusals, size_t count);

/*  Reports a record the collector had to skip (code batch_refused or record_too_large, with
 *  detail the county's words or the reason), in its file's errors.csv. */
void inbox_report_skipped(inbox_t *self, const Edu__V1__Record *record, const char *code,
                          const char *detail);

#endif
