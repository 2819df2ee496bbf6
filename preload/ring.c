/* ring.c: bounded MPSC ring of span records (Vyukov-style).
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
 * consumer, which stops at that cell and resumes on a later pop. A full
 * ring is reported at once (-1); push never spins waiting for the
 * consumer.
 *
 * Memory ordering, pairs named as in ck:
 *   [P1] producer's acquire load of cell->seq
 *          pairs with [C2], the consumer's release store after reading,
 *          so the producer's memcpy into the cell cannot overtake the
 *          consumer's memcpy out of the previous lap.
 *   [P3] producer's release store of cell->seq (commit)
 *          pairs with [C1], the consumer's acquire load,
 *          so the consumer sees the whole record the producer wrote.
 *   [P2] the CAS on head is relaxed: it only hands out positions; cell
 *          contents are published through seq alone. */
#include "sw_common.h"

#include "ring.h"

#include <errno.h>
#include <sys/mman.h>

/* Cache-line aligned so that a producer filling one cell and the consumer
 * reading its neighbour never share a line. */
struct sw_ring_cell {
  /* Vyukov sequence minus the cell's index; see the top of the file. */
  _Alignas(SW_CACHELINE) _Atomic uint64_t seq;
  struct sw_span_rec rec;
};

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
  r->tail = 0;
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
  r->tail = 0;
}

/* Claims the next free position. Returns the cell to fill and sets *pos,
 * or NULL when the ring is full. The caller must fill the record and call
 * sw_ring_commit(r, *pos). Split from sw_ring_push so that unit tests can
 * hold a claimed cell uncommitted. */
SW_STATIC struct sw_span_rec *
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
      /* [P2] Relaxed CAS: ownership of position p is all it transfers.
       * On failure p is reloaded with head's current value. */
      if (atomic_compare_exchange_weak_explicit(&r->head, &p, p + 1,
                                                memory_order_relaxed,
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
  struct sw_span_rec *dst;
  uint64_t pos;

  dst = sw_ring_claim(r, &pos);
  if (dst == NULL)
    return -1;
  memcpy(dst, rec, sizeof(*dst));
  sw_ring_commit(r, pos);
  return 0;
}

size_t
sw_ring_pop(struct sw_ring *r, struct sw_span_rec *out, size_t max)
{
  struct sw_ring_cell *cell;
  uint64_t pos, seq;
  size_t n = 0;

  if (SW_UNLIKELY(r->cells == NULL))
    return 0;
  pos = r->tail; /* Only the consumer touches tail. */
  while (n < max) {
    cell = &r->cells[pos & r->mask];
    /* [C1] Acquire, pairs with the producer's release commit [P3]: once
     * seq says committed, the record's bytes are visible to us. */
    seq = atomic_load_explicit(&cell->seq, memory_order_acquire);
    if (seq != seq_store_form(r, pos, pos + 1))
      break; /* Empty, or claimed but not committed yet: stop here. */
    memcpy(&out[n], &cell->rec, sizeof(out[n]));
    /* [C2] Release, pairs with the producer's acquire [P1] one lap on:
     * our copy out is complete before the cell reads free again. */
    atomic_store_explicit(&cell->seq,
                          seq_store_form(r, pos, pos + (uint64_t)r->mask + 1),
                          memory_order_release);
    pos++;
    n++;
  }
  r->tail = pos;
  return n;
}
