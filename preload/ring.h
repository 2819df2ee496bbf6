/* ring.h: bounded multi-producer single-consumer ring of span records.
 *
 * Vyukov-style: every cell carries a sequence number, so producers never
 * wait on each other's commit and a producer interrupted by a signal
 * handler that also pushes cannot deadlock (the handler would see the
 * thread guard anyway). Preallocated with mmap at init; push never
 * allocates, locks or blocks: when the ring is full the record is dropped
 * and counted (spans_dropped_ring). */
#ifndef SW_PRELOAD_RING_H
#define SW_PRELOAD_RING_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "sw_span.h"

struct sw_ring_cell;

struct sw_ring {
  /* Producers' claim counter, alone on its cache line. */
  _Alignas(64) _Atomic uint64_t head;
  /* Consumer's position, alone on its cache line. */
  _Alignas(64) uint64_t tail;
  _Alignas(64) uint32_t mask;
  struct sw_ring_cell *cells;
  size_t map_len;
};

/* cap is rounded up to a power of two (min 2). 0 or -ENOMEM. */
int sw_ring_init(struct sw_ring *r, uint32_t cap);
void sw_ring_destroy(struct sw_ring *r);
/* Drops every record (forked child). Not thread-safe. */
void sw_ring_reset(struct sw_ring *r);

/* Any thread. Copies *rec in. 0, or -1 when full (caller counts). */
int sw_ring_push(struct sw_ring *r, const struct sw_span_rec *rec);

/* Consumer only. Copies up to max records out; returns how many. */
size_t sw_ring_pop(struct sw_ring *r, struct sw_span_rec *out, size_t max);

#ifdef SW_UNITTESTS
/* sw_ring_push in two halves, so tests can hold a claimed cell open:
 * claim returns the record to fill (NULL when full) and its position. */
struct sw_span_rec *sw_ring_claim(struct sw_ring *r, uint64_t *pos);
void sw_ring_commit(struct sw_ring *r, uint64_t pos);
#endif

#endif
