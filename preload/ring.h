/* ring.h: bounded multi-producer single-consumer ring of span records.
 *
 * The ring is L cache lines (L a power of two) and a record takes as
 * many consecutive lines as it needs: an 8-byte header word, the record
 * packed (struct sw_span_packed, sw_span.h: its strings back to back),
 * and SW_SPAN_PACKED_SLACK bytes for the block reads that run past the
 * last terminator (the record is packed on the producer's stack and only
 * its bytes are copied in, so no write runs past them). A served request's record takes 4 lines, the longest
 * 23; the same memory holds several times the records that cells sized
 * for the longest would.
 *
 * Producers reserve lines with one CAS on head and never wait on each
 * other's commit, so a producer interrupted by a signal handler that also
 * pushes cannot deadlock (the handler would see the thread guard anyway).
 * Preallocated with mmap at init; push never allocates, locks or blocks:
 * when the ring is full the record is dropped and counted
 * (spans_dropped_ring).
 *
 * The consumer reads the packed records in place: sw_ring_peek() hands
 * out pointers to a run of committed records, which stay untouched until
 * sw_ring_release() gives their lines back to the producers.
 * sw_ring_pop() (unpacked copies out) is the same thing in one call. */
#ifndef SW_PRELOAD_RING_H
#define SW_PRELOAD_RING_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "sw_span.h"

#define SW_RING_LINE 64
/* Lines per record of the configured capacity
 * (SW_AGENT_TRACE_REPORTER_MAX_BUFFER_SIZE counts records): 512 bytes,
 * room for a record of up to 488 packed bytes, or two served requests. */
#define SW_RING_LINES_PER_REC 8

struct sw_ring {
  /* Producers' reservation counter, in lines, alone on its cache line. */
  _Alignas(64) _Atomic uint64_t head;
  /* Consumer's position, in lines, alone on its cache line. Written by
   * the consumer only; producers read it for room (and the fill level). */
  _Alignas(64) _Atomic uint64_t tail;
  _Alignas(64) uint64_t mask; /* lines - 1 */
  unsigned char *buf;
  size_t map_len;
};

/* lines is rounded up to a power of two, at least SW_RING_MIN_LINES
 * (room for two of the longest records, so that a record and the pad
 * before it always fit in an empty ring). 0 or -ENOMEM. */
#define SW_RING_MIN_LINES 64u
int sw_ring_init(struct sw_ring *r, uint32_t lines);
void sw_ring_destroy(struct sw_ring *r);
/* Drops every record (forked child). Not thread-safe. */
void sw_ring_reset(struct sw_ring *r);

/* Any thread. Packs *rec into the ring (sw_span_pack). 0, or -1 when
 * full (caller counts). rec->ref is packed only when rec->has_ref is set:
 * a consumer must not look at the ref of a record without one. */
int sw_ring_push(struct sw_ring *r, const struct sw_span_rec *rec);

/* Consumer only. Unpacks up to max records into out (sw_span_unpack:
 * out's ref is left alone for a record without one); returns how many. */
size_t sw_ring_pop(struct sw_ring *r, struct sw_span_rec *out, size_t max);

/* Consumer only. The committed records at the tail, in order, packed and
 * read in place: up to max of them, recs[i] pointing at the i-th. A run
 * stops at the first record not committed yet. The records stay valid
 * and unchanged until sw_ring_release(); peeking again before that
 * returns the same run. */
size_t sw_ring_peek(struct sw_ring *r, const struct sw_span_packed **recs,
                    size_t max);
/* Consumer only. Gives the first n records of the last peek (and the
 * pads before them) back to the producers; n no more than that peek
 * returned. */
void sw_ring_release(struct sw_ring *r, size_t n);

/* Lines reserved and not yet released: the fill level. Any thread; an
 * estimate while others push or release. head is read after tail and
 * with seq_cst, so that a consumer that announced it is about to sleep
 * (a seq_cst store) and then calls this sees every reservation made by a
 * producer that did not see the announcement. */
static inline uint64_t
sw_ring_used(struct sw_ring *r)
{
  uint64_t t = atomic_load_explicit(&r->tail, memory_order_relaxed);
  uint64_t h = atomic_load_explicit(&r->head, memory_order_seq_cst);

  return (int64_t)(h - t) > 0 ? h - t : 0;
}

/* The ring's size in lines. */
static inline uint64_t
sw_ring_cap(const struct sw_ring *r)
{
  return r->buf ? r->mask + 1 : 0;
}

#ifdef SW_UNITTESTS
/* sw_ring_push in two halves, so tests can hold a reservation open:
 * claim reserves room for a record of size bytes packed (as
 * sw_span_pack() returns it) and returns where to pack it (NULL when
 * full) and its line position; commit publishes it. */
struct sw_span_packed *sw_ring_claim(struct sw_ring *r, size_t size,
                                     uint64_t *pos);
void sw_ring_commit(struct sw_ring *r, uint64_t pos, size_t size);
#endif

#endif
