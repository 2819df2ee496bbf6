/* ring.c: bounded MPSC ring of span records, packed (sw_span_pack,
 * sw_span.h) back to back in cache lines.
 *
 * The ring is L = mask + 1 lines of 64 bytes. head and tail are line
 * positions that only grow (64 bits: they never wrap); position p is the
 * line p & mask. A producer reserves consecutive lines with one CAS on
 * head, for a record of k lines:
 *   - an 8-byte header word at the start of its first line,
 *   - the packed record right after it (8-aligned, as the struct wants),
 *   - SW_SPAN_PACKED_SLACK bytes after the record's last terminator,
 *     which belong to it: the block reads of its strings go up to 15
 *     bytes past a terminator (sw_span.h, "a packed string's window"),
 * k = ceil((8 + used + slack) / 64) (4 for a served request, at most 23).
 * A record never crosses the end of the buffer, so that it can be read
 * in place as one struct: one that would starts at line 0 instead, and
 * the lines up to the end become a pad, reserved in the same CAS.
 *
 * A header word says what its lines hold:
 *   0               nothing committed (free, or reserved and being filled);
 *   k << 1 | 1      a committed record of k lines;
 *   k << 1          a pad of k lines.
 * The consumer walks the headers from tail: at a record or a pad it jumps
 * k lines on, at 0 it stops (what follows is not committed yet).
 *
 * Why a word the consumer reads as a header is one. Positions from tail
 * to head are split into reservations, in CAS order, one after the
 * other: the walk, which starts at tail and moves by the lengths the
 * headers give, only ever reads the first line of a reservation, or the
 * line at head, the first of the next one. A reservation's first word is
 * written by its producer's header store alone (the record's bytes start
 * 8 bytes in; a pad writes nothing else); the record's bytes land on the
 * first words of its other lines, which the walk jumps over. Those lines
 * come back to a producer only after the consumer has released the
 * record, and release zeroes the first word of every line the record and
 * any pad before it took, before tail moves past them (the mapping starts
 * zeroed, so every free line's first word is 0). A producer reserves only
 * lines below the tail it acquired plus L, so it sees them zeroed: a line
 * that starts its reservation reads 0 until its header is stored, and the
 * data of an earlier lap can never be mistaken for one.
 *
 * Starting from zero pages also lets sw_ring_init leave the mapping
 * untouched (a preloaded process that never traces anything keeps the
 * ring out of its RSS, which is what MAP_NORESERVE is for) and
 * sw_ring_reset in a forked child throw its copy away with
 * madvise(MADV_DONTNEED) instead of copying every page of the parent's
 * ring on write.
 *
 * Producers never wait for one another: a producer stopped between
 * reservation and commit (preempted, or interrupted by a signal whose
 * handler pushes too) only holds back the consumer, which stops at its
 * header and resumes on a later peek. Not enough room between head and
 * tail + L is reported at once (-1); push never spins waiting for the
 * consumer.
 *
 * Memory ordering, pairs named as in ck:
 *   [P1] producer's acquire load of tail
 *          pairs with [C2], the consumer's release store of tail,
 *          so the consumer's reads of the records it released (in place,
 *          or copies out) and its zeroing of their lines' first words
 *          come before the producer's writes into those lines.
 *   [P3] producer's release store of a header (commit)
 *          pairs with [C1], the consumer's acquire load of it,
 *          so the consumer sees the whole record the producer wrote.
 *   [P2] the CAS on head hands out lines; their contents are published
 *          through the headers alone. It is seq_cst only for the
 *          reporter's sleep protocol (reporter_thread.c): a consumer that
 *          announces a sleep and then reads head (sw_ring_used()) sees
 *          every reservation of a producer that missed the announcement.
 *          On x86 a locked cmpxchg is a full barrier anyway. */
#include "sw_common.h"

#include "ring.h"

#include <errno.h>
#include <sys/mman.h>

/* Largest accepted size: 1 GiB, far from overflowing anything. */
#define SW_RING_MAX_LINES (1u << 24)
#define HDR_LEN 8
/* How far ahead of the record it reads the consumer asks for the ring's
 * lines (sw_ring_peek()), in lines: about four served requests' records.
 * 16 and 48 measured the same; none cost the reporter thread about 50 ns
 * more per nginx request (BENCHMARKS.md). */
#define RING_PREFETCH 16

_Static_assert(SW_RING_MIN_LINES >=
                   2 * ((HDR_LEN + sizeof(struct sw_span_packed) +
                         SW_SPAN_PACKED_SLACK + SW_RING_LINE - 1) /
                        SW_RING_LINE),
               "an empty ring has room for the longest record and a pad");

/* The first word of the line at position pos: a header, when pos starts
 * a reservation. */
static inline _Atomic uint64_t *
word_at(const struct sw_ring *r, uint64_t pos)
{
  return (_Atomic uint64_t *)(void *)(r->buf +
                                      (size_t)(pos & r->mask) * SW_RING_LINE);
}

static inline struct sw_span_packed *
rec_at(const struct sw_ring *r, uint64_t pos)
{
  return (struct sw_span_packed *)(void *)((unsigned char *)word_at(r, pos) +
                                           HDR_LEN);
}

/* The lines a record of size packed bytes takes. */
static inline uint64_t
rec_lines(size_t size)
{
  return (HDR_LEN + size + SW_SPAN_PACKED_SLACK + SW_RING_LINE - 1) /
         SW_RING_LINE;
}

int
sw_ring_init(struct sw_ring *r, uint32_t lines)
{
  uint32_t l = SW_RING_MIN_LINES;
  size_t len;
  void *p;

  memset(r, 0, sizeof(*r));
  if (lines > SW_RING_MAX_LINES)
    return -ENOMEM;
  while (l < lines)
    l <<= 1;
  len = (size_t)l * SW_RING_LINE;
  /* Anonymous memory is zero-filled: every line's first word is 0, i.e.
   * every line is free (head == tail == 0). */
  p = mmap(NULL, len, PROT_READ | PROT_WRITE,
           MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED)
    return -ENOMEM;
  r->buf = p;
  r->map_len = len;
  r->mask = l - 1;
  atomic_init(&r->head, 0);
  atomic_init(&r->tail, 0);
  return 0;
}

void
sw_ring_destroy(struct sw_ring *r)
{
  if (r->buf != NULL)
    munmap(r->buf, r->map_len);
  memset(r, 0, sizeof(*r));
}

void
sw_ring_reset(struct sw_ring *r)
{
  uint64_t i;

  if (r->buf == NULL)
    return;
  /* Only one thread exists (a forked child), so plain relaxed stores are
   * enough; nothing else can observe the ring half reset. Dropping the
   * pages gives zero pages back on next touch: every line free, and the
   * parent's records are not copied into the child. */
  if (madvise(r->buf, r->map_len, MADV_DONTNEED) != 0) {
    for (i = 0; i <= r->mask; i++)
      atomic_store_explicit(word_at(r, i), 0, memory_order_relaxed);
  }
  atomic_store_explicit(&r->head, 0, memory_order_relaxed);
  atomic_store_explicit(&r->tail, 0, memory_order_relaxed);
}

/* Reserves the lines of a record of size packed bytes (and the pad before
 * it when it would cross the end of the buffer). Returns where to pack
 * the record and sets *pos, or NULL when the ring is full. The caller
 * must pack it and call sw_ring_commit(r, *pos, size). Split from
 * sw_ring_push so that unit tests can hold a reservation uncommitted. */
SW_STATIC struct sw_span_packed *
sw_ring_claim(struct sw_ring *r, size_t size, uint64_t *pos)
{
  const uint64_t k = rec_lines(size), cap = r->mask + 1;
  uint64_t h, t, idx, pad;

  if (SW_UNLIKELY(r->buf == NULL))
    return NULL;
  /* [P2] Relaxed: a stale value only costs a failed CAS. */
  h = atomic_load_explicit(&r->head, memory_order_relaxed);
  for (;;) {
    idx = h & r->mask;
    pad = idx + k > cap ? cap - idx : 0;
    /* [P1] Acquire, pairs with the consumer's release of tail [C2]: the
     * lines below t + cap are released and zeroed. Read after h, so that
     * the room is judged at a moment when head was at most h. */
    t = atomic_load_explicit(&r->tail, memory_order_acquire);
    if (h + pad + k > t + cap) {
      /* Full. Never wait for the consumer; the caller drops and
       * counts. */
      return NULL;
    }
    /* [P2] The CAS transfers ownership of the lines, nothing else
     * (seq_cst for the sleep protocol, see the top of the file). On
     * failure h is reloaded with head's current value: another push
     * made progress (lock-free). */
    if (atomic_compare_exchange_weak_explicit(&r->head, &h, h + pad + k,
                                              memory_order_seq_cst,
                                              memory_order_relaxed))
      break;
  }
  if (pad != 0) {
    /* [P3] A header like any other (the pad has nothing else to
     * publish): the consumer jumps to line 0, where our record goes. */
    atomic_store_explicit(word_at(r, h), pad << 1, memory_order_release);
  }
  *pos = h + pad;
  return rec_at(r, h + pad);
}

SW_STATIC void
sw_ring_commit(struct sw_ring *r, uint64_t pos, size_t size)
{
  /* [P3] Release, pairs with the consumer's acquire [C1]: the record
   * written after the header is visible before the header is. */
  atomic_store_explicit(word_at(r, pos), rec_lines(size) << 1 | 1,
                        memory_order_release);
}

/* The record is packed on the stack first: its size, which the
 * reservation needs, comes out of the packing, and the block stores of
 * the packing (up to a string's field size past its start) stay in a
 * whole struct. Then only the bytes used are copied into the ring. Cheaper
 * than measuring every string before packing into the ring (callgrind,
 * nginx: 261 instructions per request with memcpy vs 319). */
int
sw_ring_push(struct sw_ring *r, const struct sw_span_rec *rec)
{
  struct sw_span_packed tmp, *dst;
  uint64_t pos;
  size_t size;

  size = sw_span_pack(&tmp, rec);
  dst = sw_ring_claim(r, size, &pos);
  if (SW_UNLIKELY(dst == NULL))
    return -1;
  memcpy(dst, &tmp, size);
  sw_ring_commit(r, pos, size);
  return 0;
}

size_t
sw_ring_peek(struct sw_ring *r, const struct sw_span_packed **recs,
             size_t max)
{
  uint64_t pos, end, w;
  size_t n = 0;

  if (SW_UNLIKELY(r->buf == NULL))
    return 0;
  /* Only the consumer writes tail. A ring full of committed records
   * ends at tail + L, which is tail's line again: stop there. */
  pos = atomic_load_explicit(&r->tail, memory_order_relaxed);
  end = pos + r->mask + 1;
  while (n < max && pos < end) {
    /* [C1] Acquire, pairs with the producer's release [P3]: once the
     * header is there, the record's bytes are visible to us. */
    w = atomic_load_explicit(word_at(r, pos), memory_order_acquire);
    if (w == 0)
      break; /* Free, or reserved but not committed yet: stop here. */
    if (w & 1)
      recs[n++] = rec_at(r, pos);
    /* A header is found only by reading the one before it, so each would
     * be a cache miss of its own (the ring is long out of cache when the
     * reporter comes round): ask for the lines ahead, as many as this
     * record spans, so the stream keeps RING_PREFETCH lines in flight.
     * They may be unwritten or a producer's: a prefetch changes nothing
     * the program can see. */
    for (uint64_t i = 0; i < w >> 1; i++)
      __builtin_prefetch(word_at(r, pos + RING_PREFETCH + i));
    pos += w >> 1;
  }
  return n;
}

void
sw_ring_release(struct sw_ring *r, size_t n)
{
  uint64_t pos, w, i;

  if (n == 0)
    return;
  pos = atomic_load_explicit(&r->tail, memory_order_relaxed);
  while (n > 0) {
    /* Read with acquire by the peek that handed the record out. */
    w = atomic_load_explicit(word_at(r, pos), memory_order_relaxed);
    if (w & 1) {
      /* A record: every line's first word may hold its bytes. */
      for (i = 0; i < w >> 1; i++)
        atomic_store_explicit(word_at(r, pos + i), 0, memory_order_relaxed);
      n--;
    } else {
      /* A pad writes its header only: its other lines' words are 0. */
      atomic_store_explicit(word_at(r, pos), 0, memory_order_relaxed);
    }
    pos += w >> 1;
  }
  /* [C2] Release, pairs with the producers' acquire [P1]: our reads of
   * the records and the zeroed words come before their next writes. */
  atomic_store_explicit(&r->tail, pos, memory_order_release);
}

size_t
sw_ring_pop(struct sw_ring *r, struct sw_span_rec *out, size_t max)
{
  const struct sw_span_packed *recs[64];
  size_t n = 0, k, i, want;

  for (; n < max; n += k) {
    want = max - n < SW_ARRAY_LEN(recs) ? max - n : SW_ARRAY_LEN(recs);
    if ((k = sw_ring_peek(r, recs, want)) == 0)
      break;
    for (i = 0; i < k; i++)
      sw_span_unpack(&out[n + i], recs[i]);
    sw_ring_release(r, k);
  }
  return n;
}
