/* assemble.h: turns span records (in ring order) into whole segments.
 *
 * A segment is the set of records sharing a segment_id. Its root record
 * (span_id 0) carries nspans, the number of span ids the segment
 * allocated, and usually arrives last because the entry span ends after
 * its children. A segment is finished when its root is there and nspans
 * records have arrived, or, with spans missing, when a short grace timer
 * started by the root runs out (counted in segments_partial). Records
 * whose root never comes are useless to the backend (it needs span 0) and
 * are dropped after a longer grace (counted in segments_dropped).
 *
 * A record that is a whole segment by itself (the root, announcing one
 * span: what a served request without outgoing calls makes) is finished
 * on arrival without going through the table, in a segment that holds
 * its one record inline and is recycled through a free list.
 *
 * Finished segments wait in a FIFO queue for the transport. Memory is
 * bounded everywhere: open segments (the oldest is evicted when the table
 * is full), spans per segment, and the queue by count and by bytes (the
 * oldest is dropped when it is full). Not thread-safe: the reporter
 * thread owns it. */
#ifndef SW_REPORTER_ASSEMBLE_H
#define SW_REPORTER_ASSEMBLE_H

#include <stddef.h>
#include <stdint.h>

#include "sw_span.h"
#include "sw_stats.h"

struct sw_asm_limits {
  uint32_t max_open;       /* segments being assembled */
  uint32_t max_queued;     /* finished segments waiting to be sent */
  size_t max_queued_bytes; /* memory of those, records included */
  uint32_t max_spans;      /* records kept per segment */
  int grace_ms;            /* root arrived, children missing */
  int orphan_ms;           /* children arrived, no root */
  /* Tests only: every record through the table, no one-span shortcut, so
   * that the two paths can be compared. 0 in the defaults. */
  int general_only;
};

/* One segment. While open it lives in the hash table and the open list;
 * once finished, in the queue. The consumer of sw_asm_pop() owns it. */
struct sw_seg {
  struct sw_seg *hnext;        /* hash chain while open */
  struct sw_seg *prev, *next;  /* open list, then the queue (next only) */
  uint32_t hash;
  int64_t first_ms;            /* arrival of the first record */
  int64_t deadline_ms;         /* the grace timer of whichever kind */
  int32_t nspans;              /* announced by the root; 0 before it */
  uint8_t has_root;
  uint8_t partial;             /* finished by the timer, spans missing */
  uint8_t size_limited;        /* records beyond max_spans were dropped */
  uint8_t inline_spans;        /* spans is the one record right after this
                                * struct, in the same allocation */
  uint32_t seen;               /* records that arrived, kept or not */
  uint32_t n, cap;
  /* Sorted by span_id once finished. A record's ref is meaningful only
   * when its has_ref is set (it is not copied otherwise). */
  struct sw_span_rec *spans;
};

/* Segments with an inline record kept for reuse, at most. */
#define SW_ASM_FREE_MAX 1024

struct sw_asm {
  struct sw_asm_limits lim;
  struct sw_stats *stats;      /* may be NULL (nothing is counted) */
  struct sw_seg **buckets;
  uint32_t mask;
  struct sw_seg *open_head, *open_tail;
  uint32_t nopen;
  struct sw_seg *q_head, *q_tail;
  uint32_t nqueued;
  size_t qbytes;
  int64_t next_deadline;       /* earliest open deadline, INT64_MAX if none */
  struct sw_seg *free_list;    /* inline-record segments for reuse */
  uint32_t nfree;
  /* Why segments were dropped here (each also counts in
   * stats->segments_dropped): the queue was full (the oldest goes), the
   * root never came, or memory ran out. */
  uint64_t dropped_full, dropped_noroot, dropped_nomem;
};

/* The defaults: 4096 open, 10000 queued within 32 MB, 1024 spans per
 * segment, 2 s partial grace, 60 s orphan grace. */
void sw_asm_limits_default(struct sw_asm_limits *lim);

/* 0, or -ENOMEM / -EINVAL. */
int sw_asm_init(struct sw_asm *a, const struct sw_asm_limits *lim,
                struct sw_stats *stats);
void sw_asm_destroy(struct sw_asm *a);

/* Adds one record that arrived at now_ms. */
void sw_asm_add(struct sw_asm *a, const struct sw_span_rec *r, int64_t now_ms);
/* Runs the grace timers: cheap when nothing is due. */
void sw_asm_expire(struct sw_asm *a, int64_t now_ms);
/* At exit: finishes every open segment that has a root (as partial when
 * spans are missing) and drops the others. */
void sw_asm_close_all(struct sw_asm *a);

/* The oldest finished segment, or NULL. Give it back with
 * sw_asm_recycle(), or free it with sw_seg_free(). */
struct sw_seg *sw_asm_pop(struct sw_asm *a);
/* Frees a segment that came from a's sw_asm_pop(), keeping its memory
 * for a later segment when it can. */
void sw_asm_recycle(struct sw_asm *a, struct sw_seg *s);
/* Bytes a finished segment accounts for in the queue budget. */
size_t sw_seg_bytes(const struct sw_seg *s);
void sw_seg_free(struct sw_seg *s);

static inline uint32_t
sw_asm_queued(const struct sw_asm *a)
{
  return a->nqueued;
}

static inline uint32_t
sw_asm_open(const struct sw_asm *a)
{
  return a->nopen;
}

/* When sw_asm_expire() next has work to do (INT64_MAX: never). */
static inline int64_t
sw_asm_next_deadline(const struct sw_asm *a)
{
  return a->next_deadline;
}

#endif
