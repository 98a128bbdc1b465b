/*  spool - the collector's durable, append-only queue of records waiting for the county
 *
 *  A record enters the spool when a CSV file is taken and leaves it only when the aggregator
 *  has acknowledged it after its commit. Everything in between survives kill -9 and power loss.
 *
 *  On disk, in the spool directory:
 *    id                  the spool's identity: 32 lowercase hex digits, made once at creation
 *    acked               the highest acknowledged seq, as decimal text
 *    seg-<20-digit first seq>.log   segment files, appended to in order
 *    quarantine/         segments found corrupt, moved aside (never deleted)
 *
 *  A segment is a sequence of frames: u32 payload length (little-endian), u32 CRC-32 (zlib crc32()) of type
 *  byte + payload, u8 type, payload. Type 1 is a record (payload: u64 seq little-endian, then
 *  the caller's bytes); type 2 is a commit marker (payload: the tag given to spool_commit).
 *  Records count as present only once a commit marker follows them: spool_commit() appends the
 *  marker and fsyncs (group commit: one fsync for a whole file's records). Segments are rotated
 *  only right after a commit, so every segment but the last ends with a marker.
 *
 *  Opening the spool rebuilds its state by scanning the segments: a torn or uncommitted tail of
 *  the last segment is truncated back to its last commit marker; a segment with a bad CRC
 *  anywhere else is moved to quarantine/ and its records are skipped (they are counted in
 *  spool_quarantined()). Only a small index (first seq, last seq, bytes per segment) is kept in
 *  memory, never the records themselves.
 *
 *  Sequence numbers start at 1, increase by one per record and are never reused, even after
 *  every segment was acknowledged and deleted (the acked file keeps the high-water mark, and
 *  it is fsynced before a segment is deleted).
 *
 *  The spool has a size cap: spool_has_room() tells whether a file of a given size may be
 *  taken; the caller leaves files in the inbox while it says no. Nothing is ever dropped.
 */
#ifndef EDU_SPOOL_H
#define EDU_SPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct spool_t spool_t;

/*  Called by spool_read() for each record: seq and the caller's bytes (borrowed for the call).
 *  Return 0 to go on, non-zero to stop early. */
typedef int(spool_record_fn)(void *arg, uint64_t seq, const void *data, size_t size);

/*  Opens (creating if needed) the spool in dir with a cap of cap_bytes of segment data, and
 *  recovers as described above. Returns NULL and fills err when the directory cannot be made
 *  or read. What recovery did is logged (module "spool"). */
spool_t *spool_open(const char *dir, uint64_t cap_bytes, char *err, size_t errlen);

/*  Closes the spool (uncommitted appends are lost, as after a crash). Accepts NULL, nulls the
 *  caller's pointer. */
void spool_destroy(spool_t **self_p);

/*  The spool's identity (borrowed). */
const char *spool_id(const spool_t *self);

/*  Appends one record; *seq gets its sequence number. The record is not present (not readable,
 *  not durable) until spool_commit(). Returns 0, or -1 with err (e.g. disk full) in which case
 *  the caller should spool_abort(). */
int spool_append(spool_t *self, const void *data, size_t size, uint64_t *seq, char *err,
                 size_t errlen);

/*  Appends a commit marker carrying tag (a short string, e.g. the name the taken file had) and
 *  fsyncs the segment (and the directory when a segment was created). On success every record
 *  appended since the last commit is present. Returns 0, or -1 with err. */
int spool_commit(spool_t *self, const char *tag, char *err, size_t errlen);

/*  Discards the records appended since the last commit (truncates the segment back). Their
 *  sequence numbers are reused by the next append. */
void spool_abort(spool_t *self);

/*  The tag of the last commit marker in the spool (found at open or written since), or NULL
 *  when there is none. Borrowed. */
const char *spool_last_tag(const spool_t *self);

/*  Highest acknowledged seq (0 when none). */
uint64_t spool_acked(const spool_t *self);
/*  When the acknowledged mark last moved: wall clock, milliseconds since the epoch (from the
 *  "acked" file's modification time after a restart); 0 when it never did. */
int64_t spool_acked_at_ms(const spool_t *self);
/*  Highest present (committed) seq, or spool_acked() when nothing newer is present. */
uint64_t spool_last_seq(const spool_t *self);
/*  Lowest present seq above spool_acked() (the oldest unacknowledged record), or
 *  spool_last_seq() + 1 when there is none. */
uint64_t spool_floor(const spool_t *self);
/*  Number of present records above spool_acked(). */
uint64_t spool_pending(const spool_t *self);
/*  Bytes of segment data on disk. */
uint64_t spool_bytes(const spool_t *self);
/*  True when bytes more would still fit under the cap. */
bool spool_has_room(const spool_t *self, uint64_t bytes);
/*  Records skipped because their segment was quarantined (since open). */
uint64_t spool_quarantined(const spool_t *self);

/*  Records that everything up to seq is acknowledged (seq below the current mark is ignored;
 *  above spool_last_seq() is an error). Persists the mark, deletes segments whose records are
 *  all acknowledged (fsyncing the mark first). Returns 0, or -1 with err. */
int spool_ack(spool_t *self, uint64_t seq, char *err, size_t errlen);

/*  Calls fn for up to max present records with seq >= from, in order (acknowledged ones
 *  included if still on disk). Returns the number of records visited, or -1 with err when a
 *  segment cannot be read. Sequential reads are cheap: the position of the last read is kept. */
int spool_read(spool_t *self, uint64_t from, size_t max, spool_record_fn *fn, void *arg,
               char *err, size_t errlen);

#endif
