/* ring.c: bounded MPSC ring of span records (Vyukov-style), each cell
 * holding one record packed (sw_span_pack, sw_span.h).
 *
 * Every cell carries a sequence number that says whose turn it is. With
 * cap = mask + 1 and pos the cell's absolute position (head or tail
 * counter value), the cell at index i = pos & mask is, in Vyukov's terms:
 *   seq == pos            free: the producer claiming pos may write it;
 *   seq == pos + 1        committed: the consumer at tail == pos may read it;
 *   seq == pos + cap      consumed: free again for the producer of pos + cap.
 *
 * We store seq relative to the cell's index (stored = seq - i), so that an
 * all-zero cell means "free for lap 0". That lets sw_ring_init use the
 * zero pages mmap hands out without writing every cell (a preloaded
 * process that never traces anything keeps the ring untouched and out of
 * its RSS, which is what MAP_NORESERVE is for), and lets sw_ring_reset in
 * a forked child throw its copy away with madvise(MADV_DONTNEED) instead
 * of copying every page of the parent's ring on write.
 *
 * Producers claim a position with a CAS on head and never wait for one
 * another: a producer stopped between claim and commit (preempted, or
 * interrupted by a signal whose handler pushes too) only holds back the
 * consumer, which stops at that cell and resumes on a later peek. A full
 * ring is reported at once (-1); push never spins waiting for the
 * consumer.
 *
 * Memory ordering, pairs named as in ck:
 *   [P1] producer's acquire load of cell->seq
 *          pairs with [C2], the consumer's release store after reading,
 *          so the producer's memcpy into the cell cannot overtake the
 *          consumer's reads of the previous lap (in place, or a copy
 *          out).
 *   [P3] producer's release store of cell->seq (commit)
 *          pairs with [C1], the consumer's acquire load,
 *          so the consumer sees the whole record the producer wrote.
 *   [P2] the CAS on head hands out positions; cell contents are
 *          published through seq alone. It is seq_cst only for the
 *          reporter's sleep protocol (reporter_thread.c): a consumer that
 *          announces a sleep and then reads head (sw_ring_used()) sees
 *          every claim of a producer that missed the announcement. On
 *          x86 a locked cmpxchg is a full barrier anyway.
 *
 * The consumer reads records in place (sw_ring_peek) and hands the cells
 * back afterwards (sw_ring_release); until then a producer of the next lap
 * finds the cell still committed, i.e. the ring full. Within one lap the
 * stored forms of "committed at pos" and "consumed at pos" are the same
 * for every cell (pos + 1 - index and pos + cap - index, with index and
 * pos advancing together), which keeps the scan to one compare per cell. */
#include "sw_common.h"

#include "ring.h"

#include <errno.h>
#include <sys/mman.h>

/* Largest accepted capacity: keeps cap, mask and the mapping size far
 * from overflow (2^31 cells would be terabytes of address space). */
#define SW_RING_MAX_CAP (1u << 24)

static uint32_t
round_cap(uint32_t cap)
{
  uint32_t c = 2;

  while (c < cap)
    c <<= 1;
  return c;
}

/* The stored form of Vyukov's sequence number s for the cell at pos. */
static inline uint64_t
seq_store_form(const struct sw_ring *r, uint64_t pos, uint64_t s)
{
  return s - (pos & r->mask);
}

int
sw_ring_init(struct sw_ring *r, uint32_t cap)
{
  size_t len;
  void *p;

  memset(r, 0, sizeof(*r));
  if (cap > SW_RING_MAX_CAP)
    return -ENOMEM;
  cap = round_cap(cap);
  len = (size_t)cap * sizeof(struct sw_ring_cell);
  /* Anonymous memory is zero-filled: every stored seq is 0, i.e. every
   * cell is free for lap 0 (head == tail == 0). */
  p = mmap(NULL, len, PROT_READ | PROT_WRITE,
           MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED)
    return -ENOMEM;
  r->cells = p;
  r->map_len = len;
  r->mask = cap - 1;
  atomic_init(&r->head, 0);
  atomic_init(&r->tail, 0);
  return 0;
}

void
sw_ring_destroy(struct sw_ring *r)
{
  if (r->cells != NULL)
    munmap(r->cells, r->map_len);
  memset(r, 0, sizeof(*r));
}

void
sw_ring_reset(struct sw_ring *r)
{
  size_t i;

  if (r->cells == NULL)
    return;
  /* Only one thread exists (a forked child), so plain relaxed stores are
   * enough; nothing else can observe the ring half reset. Dropping the
   * pages gives zero pages back on next touch: every cell free for lap 0,
   * and the parent's records are not copied into the child. */
  if (madvise(r->cells, r->map_len, MADV_DONTNEED) != 0) {
    for (i = 0; i <= r->mask; i++)
      atomic_store_explicit(&r->cells[i].seq, 0, memory_order_relaxed);
  }
  atomic_store_explicit(&r->head, 0, memory_order_relaxed);
  atomic_store_explicit(&r->tail, 0, memory_order_relaxed);
}

/* Claims the next free position. Returns the cell's record to fill and
 * sets *pos, or NULL when the ring is full. The caller must pack the
 * record into it and call sw_ring_commit(r, *pos). Split from
 * sw_ring_push so that unit tests can hold a claimed cell uncommitted. */
SW_STATIC struct sw_span_packed *
sw_ring_claim(struct sw_ring *r, uint64_t *pos)
{
  struct sw_ring_cell *cell;
  uint64_t p, seq;
  int64_t diff;

  if (SW_UNLIKELY(r->cells == NULL))
    return NULL;
  /* [P2] Relaxed: a stale value only costs a retry, seq decides. */
  p = atomic_load_explicit(&r->head, memory_order_relaxed);
  for (;;) {
    cell = &r->cells[p & r->mask];
    /* [P1] Acquire, pairs with the consumer's release [C2]: if the cell
     * is free for us, the consumer has finished copying it out. */
    seq = atomic_load_explicit(&cell->seq, memory_order_acquire);
    diff = (int64_t)(seq + (p & r->mask) - p);
    if (diff == 0) {
      /* [P2] The CAS transfers ownership of position p, nothing else
       * (seq_cst for the sleep protocol, see the top of the file). On
       * failure p is reloaded with head's current value. */
      if (atomic_compare_exchange_weak_explicit(&r->head, &p, p + 1,
                                                memory_order_seq_cst,
                                                memory_order_relaxed))
        break;
    } else if (diff < 0) {
      /* The cell still holds (or is being filled with) the record from
       * the previous lap that the consumer has not taken: full. Never
       * wait for the consumer; the caller drops and counts. */
      return NULL;
    } else {
      /* Another producer claimed p since we read head: move on. Each
       * retry means some other push made progress (lock-free). */
      p = atomic_load_explicit(&r->head, memory_order_relaxed);
    }
  }
  *pos = p;
  return &cell->rec;
}

SW_STATIC void
sw_ring_commit(struct sw_ring *r, uint64_t pos)
{
  struct sw_ring_cell *cell = &r->cells[pos & r->mask];

  /* [P3] Release, pairs with the consumer's acquire [C1]: the record
   * written into the cell is visible before the cell reads committed. */
  atomic_store_explicit(&cell->seq, seq_store_form(r, pos, pos + 1),
                        memory_order_release);
}

int
sw_ring_push(struct sw_ring *r, const struct sw_span_rec *rec)
{
  struct sw_span_packed *dst;
  uint64_t pos;

  dst = sw_ring_claim(r, &pos);
  if (SW_UNLIKELY(dst == NULL))
    return -1;
  (void)sw_span_pack(dst, rec);
  sw_ring_commit(r, pos);
  return 0;
}

size_t
sw_ring_peek(struct sw_ring *r, const struct sw_span_packed **first,
             size_t max)
{
  struct sw_ring_cell *cell;
  uint64_t pos, committed;
  size_t idx, lim, n;

  if (SW_UNLIKELY(r->cells == NULL)) {
    *first = NULL;
    return 0;
  }
  /* Only the consumer writes tail. */
  pos = atomic_load_explicit(&r->tail, memory_order_relaxed);
  idx = (size_t)(pos & r->mask);
  lim = (size_t)r->mask + 1 - idx; /* not past the end of the cells */
  if (lim > max)
    lim = max;
  cell = &r->cells[idx];
  *first = &cell->rec;
  committed = seq_store_form(r, pos, pos + 1);
  for (n = 0; n < lim; n++) {
    /* [C1] Acquire, pairs with the producer's release commit [P3]: once
     * seq says committed, the record's bytes are visible to us. */
    if (atomic_load_explicit(&cell[n].seq, memory_order_acquire) !=
        committed)
      break; /* Empty, or claimed but not committed yet: stop here. */
  }
  return n;
}

void
sw_ring_release(struct sw_ring *r, size_t n)
{
  struct sw_ring_cell *cell;
  uint64_t pos, consumed;
  size_t i;

  if (n == 0)
    return;
  pos = atomic_load_explicit(&r->tail, memory_order_relaxed);
  cell = &r->cells[pos & r->mask];
  consumed = seq_store_form(r, pos, pos + (uint64_t)r->mask + 1);
  for (i = 0; i < n; i++) {
    /* [C2] Release, pairs with the producer's acquire [P1] one lap on:
     * our reads of the record are complete before the cell reads free
     * again. */
    atomic_store_explicit(&cell[i].seq, consumed, memory_order_release);
  }
  atomic_store_explicit(&r->tail, pos + n, memory_order_relaxed);
}

size_t
sw_ring_pop(struct sw_ring *r, struct sw_span_rec *out, size_t max)
{
  const struct sw_span_packed *p;
  size_t n = 0, k, i;

  while (n < max && (k = sw_ring_peek(r, &p, max - n)) > 0) {
    for (i = 0; i < k; i++)
      sw_span_unpack(&out[n + i],
                     (const struct sw_span_packed *)((const char *)p +
                                                     i * SW_RING_STRIDE));
    sw_ring_release(r, k);
    n += k;
  }
  return n;
}
