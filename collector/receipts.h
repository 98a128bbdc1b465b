/*  receipts - which file a school dropped holds which records, and when the county has them
 *
 *  `done/` means "safe in the spool"; a file whose every record the county has acknowledged
 *  (stored, accepted or refused) is delivered: it is linked into `inbox/delivered/` (a hard
 *  link, so `done/` keeps every taken file) and 状态.txt lists it with the time.
 *
 *  What is known about each taken file is kept in `inbox/.receipts`, one line per file:
 *
 *    <taken_ms> <first_seq> <last_seq> <records> <rows_refused> <county_refused> <delivered_ms>
 * <name>
 *
 *  (times in milliseconds since the epoch, 0 for "not yet"; the name is the rest of the line).
 *  A take appends its line with one write(); a delivery rewrites the file through a temporary
 *  file renamed over it, keeping every file not yet delivered and the RECEIPTS_KEEP latest
 *  delivered ones. A line torn by a crash is skipped when the file is read; a file that lost
 *  its line stays in done/ (it is safe there all the same).
 */
#ifndef EDU_RECEIPTS_H
#define EDU_RECEIPTS_H

#include <stddef.h>
#include <stdint.h>

#define RECEIPTS_KEEP 200 // delivered files remembered

typedef struct {
    char *name;              // the file's name in done/
    int64_t taken_ms;        // when it was taken (wall clock, ms since the epoch)
    uint64_t first_seq;      // its first record in the spool (0 when it has none)
    uint64_t last_seq;       // its last record in the spool (0 when it has none)
    uint64_t records;        // records spooled from it
    uint64_t rows_refused;   // rows of it the collector could not read
    uint64_t county_refused; // records of it the county refused, or that had to be skipped
    int64_t delivered_ms;    // when the county had all its records (0: not yet)
} receipt_t;

typedef struct receipts_t receipts_t;

/*  Reads inbox_dir/.receipts (if any) and makes inbox_dir/delivered/. Returns NULL with err
 *  when the directory cannot be made. */
receipts_t *receipts_open(const char *inbox_dir, char *err, size_t errlen);
void receipts_destroy(receipts_t **self_p);

/*  Records a taken file (borrows receipt; the name is copied). Returns 0, or -1 with err when
 *  the line could not be written (the file is safe all the same; it is only not tracked). */
int receipts_add(receipts_t *self, const receipt_t *receipt, char *err, size_t errlen);

/*  Forgets a take that was never committed (a crash in the middle of it). */
void receipts_forget(receipts_t *self, const char *name);

/*  The receipt of a file by its name in done/, or NULL. Borrowed. */
const receipt_t *receipts_find(const receipts_t *self, const char *name);

/*  Counts n more records of the named file refused by the county (kept with the next rewrite). */
void receipts_add_refused(receipts_t *self, const char *name, uint64_t n);

/*  Marks delivered every file whose records are all at or below acked, links it into
 *  delivered/, and rewrites .receipts. Returns the number of files delivered. */
size_t receipts_deliver(receipts_t *self, uint64_t acked, int64_t now_ms);

/*  The files known, oldest first. */
size_t receipts_count(const receipts_t *self);
const receipt_t *receipts_get(const receipts_t *self, size_t i);

/*  When the oldest file with records above acked was taken (0 when there is none). */
int64_t receipts_waiting_since(const receipts_t *self, uint64_t acked);

#endif
