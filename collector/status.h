/*  status - inbox/状态.txt: what a school's staff read about their collector
 *
 *  A short page in Chinese (UTF-8 with a byte-order mark, so Notepad and Excel show it right),
 *  rewritten atomically (a temporary file renamed over it): when the county last acknowledged,
 *  how many records wait and since when, and, once nothing has been acknowledged for stall_s
 *  while records wait, a plain paragraph saying that the county does not answer, what that
 *  usually means (the network, a wrong address, a key the county has not registered; more
 *  precisely when the connection says which), and whom to call. While a big file is being read,
 *  how far the reading has got. Then the latest files: taken when, how many records, delivered
 *  (in delivered/) or waiting (and how many of them the county has confirmed so far), and
 *  where their errors are.
 *
 *  Times are China time (UTC+8) whatever the machine's time zone.
 */
#ifndef EDU_STATUS_H
#define EDU_STATUS_H

#include "receipts.h"
#include "sender.h"

#include <stddef.h>
#include <stdint.h>

#define STATUS_FILE "状态.txt" // in the inbox
#define STATUS_FILES 20        // latest files listed

typedef struct {
    const char *school;          // this school's code
    const char *endpoint;        // the county
    const char *contact;         // whom to call ("" when the config names nobody)
    int64_t now_ms;              // wall clock, ms since the epoch
    int64_t last_ack_ms;         // the county's last acknowledgement (0: none known)
    uint64_t pending;            // records waiting for the county
    int64_t waiting_since_ms;    // since when the oldest of them waits (0: none, or unknown)
    int64_t stalled_ms;          // nothing acknowledged for this long while records wait (0: no
                                 // stall)
    const sender_status_t *link; // what the sender knows of the county
    uint64_t files_waiting;      // files in the inbox not taken yet
    bool spool_full;             // files wait for room in the spool
    const receipts_t *receipts;  // the files taken
    uint64_t acked;              // the county's acknowledged mark (for a file's progress)
    const char *taking;          // the file being read now (NULL: none)
    uint64_t taking_rows;        // its rows read so far
} status_t;

/*  The page (UTF-8 with a byte-order mark). Caller frees. */
char *status_render(const status_t *status);

/*  Writes the page to dir/状态.txt through a temporary file renamed over it. Returns 0, or -1
 *  with err. */
int status_write(const char *dir, const status_t *status, char *err, size_t errlen);

/*  "2026-12-03 15:58:11", China time, into buf. */
void status_format_time(int64_t ms, char *buf, size_t size);

/*  "5 分 10 秒", "2 小时 5 分", "3 天 4 小时" into buf. */
void status_format_duration(int64_t ms, char *buf, size_t size);

/*  "300 000", "1 234 567": digits in groups of three, into buf. */
void status_format_count(uint64_t n, char *buf, size_t size);

#endif
