/* utf8.h: UTF-8 validation for the encoders.
 *
 * Whatever the application put on the wire ends up in span strings, and
 * both wire formats want valid UTF-8: a proto3 string field that is not
 * makes the backend's parser reject the whole message (and with it a
 * whole gRPC call of up to a thousand segments), and JSON must be valid
 * UTF-8 too. So every byte that does not belong to a valid sequence
 * (RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF)
 * is replaced with U+FFFD, one per byte.
 *
 * Almost every string is plain ASCII: sw_utf8_is_ascii() tells so eight
 * bytes at a time, and only a string with a byte >= 0x80 goes through
 * the sequence-by-sequence logic. */
#ifndef SW_REPORTER_UTF8_H
#define SW_REPORTER_UTF8_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define SW_UTF8_REPLACEMENT "\xef\xbf\xbd"

#define SW_UTF8_ONES 0x0101010101010101ULL
#define SW_UTF8_HIGH 0x8080808080808080ULL

/* 1 when none of the n bytes at p is >= 0x80 (then they are valid UTF-8
 * as they are). Reads exactly those n bytes, eight at a time. */
static inline int
sw_utf8_is_ascii(const void *p, size_t n)
{
  const uint8_t *s = (const uint8_t *)p;
  uint64_t acc = 0, w;
  uint32_t h;

  if (n >= 8) {
    const uint8_t *last = s + n - 8;

    for (; s < last; s += 8) {
      memcpy(&w, s, 8);
      acc |= w;
    }
    /* The last word, overlapping the one before when n % 8 != 0. */
    memcpy(&w, last, 8);
    return ((acc | w) & SW_UTF8_HIGH) == 0;
  }
  if (n >= 4) {
    memcpy(&h, s, 4);
    acc = h;
    memcpy(&h, s + n - 4, 4);
    return ((acc | h) & 0x80808080U) == 0;
  }
  while (n--)
    acc |= *s++;
  return (acc & 0x80) == 0;
}

/* Strings in fixed arrays.
 *
 * The strings of a span record (sw_span.h) are NUL-terminated in arrays
 * whose size is a multiple of eight. sw_arr_copy_ascii() copies such a
 * string in whole blocks (16 bytes with SSE2, else 8) up to the block
 * that holds its terminator, finding the terminator and checking that
 * the string is ASCII on the way: one pass and no call where strlen(),
 * the ASCII check and memcpy() would make three passes. The portable
 * version (_w8) is used where there is no SSE2, and for the tail of an
 * array whose size is not a multiple of 16; the unit tests run both. */
#if defined(__SSE2__)
#include <emmintrin.h>
#define SW_ARR_SSE2 1
#endif

/* The 8-byte word at p, and its zero bytes flagged: nonzero exactly when
 * it holds one (a borrow can only flag a byte above a real zero, so the
 * lowest flagged byte is the first zero on a little-endian machine). */
static inline uint64_t
sw_arr_load(const void *p)
{
  uint64_t w;

  memcpy(&w, p, 8);
  return w;
}

static inline uint64_t
sw_arr_zeros(uint64_t w)
{
  return (w - SW_UTF8_ONES) & ~w & SW_UTF8_HIGH;
}

/* Copies the string of the array f of cap bytes (a multiple of 8) to d,
 * which has room for cap bytes, and returns its length; or -1 when it
 * holds a byte >= 0x80 or has no terminator in the array (what was
 * copied is then of no use). Nothing beyond the array is read, but up to
 * cap bytes are written: the terminator's whole block, what follows the
 * terminator in it included. The portable version starts at byte i (a
 * multiple of 8), hi holding the bytes before i OR-ed together. */
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
static inline __attribute__((always_inline)) long
sw_arr_copy_ascii_w8(uint8_t *d, const char *f, size_t cap, size_t i,
                     uint64_t hi)
{
  for (; i < cap; i += 8) {
    uint64_t w = sw_arr_load(f + i), z;

    memcpy(d + i, &w, 8);
    z = sw_arr_zeros(w);
    if (z) {
      /* The lowest flagged byte is the first zero. */
      unsigned nb = (unsigned)__builtin_ctzll(z) >> 3;

      hi |= w & ((1ULL << (nb * 8)) - 1);
      return hi & SW_UTF8_HIGH ? -1 : (long)(i + nb);
    }
    hi |= w;
  }
  return -1;
}
#else
/* Big-endian: a borrow can flag a byte before the first zero, so the
 * caller takes its general way every time. */
static inline long
sw_arr_copy_ascii_w8(uint8_t *d, const char *f, size_t cap, size_t i,
                     uint64_t hi)
{
  (void)d;
  (void)f;
  (void)cap;
  (void)i;
  (void)hi;
  return -1;
}
#endif

static inline __attribute__((always_inline)) long
sw_arr_copy_ascii(uint8_t *d, const char *f, size_t cap)
{
  size_t i = 0;

#ifdef SW_ARR_SSE2
  const __m128i zero = _mm_setzero_si128();
  unsigned hi = 0;

  for (; i + 16 <= cap; i += 16) {
    __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(f + i));
    unsigned z = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, zero));
    unsigned h = (unsigned)_mm_movemask_epi8(v);

    _mm_storeu_si128((__m128i *)(void *)(d + i), v);
    if (z) {
      unsigned nb = (unsigned)__builtin_ctz(z);

      return (hi | (h & ((1u << nb) - 1))) ? -1 : (long)(i + nb);
    }
    hi |= h;
  }
  if (hi)
    return -1;
#endif
  return sw_arr_copy_ascii_w8(d, f, cap, i, 0);
}

/* The length of the valid sequence starting at p (1 to 4), or 0 when the
 * byte at p does not start one. p is NUL-terminated: the terminator is
 * never a continuation byte, so a sequence cut short is invalid. */
size_t sw_utf8_seq_len(const uint8_t *p);

/* 1 when the NUL-terminated s is valid UTF-8. */
int sw_utf8_valid(const char *s);

/* For the NUL-terminated s of length n (strlen): the length of s once
 * repaired, n exactly when s is valid UTF-8. */
size_t sw_utf8_repaired_len(const char *s, size_t n);

/* Writes s repaired (every invalid byte replaced by U+FFFD, no
 * terminator) to out, which has room for sw_utf8_repaired_len() bytes,
 * and returns that length. */
size_t sw_utf8_repair(uint8_t *out, const char *s);

/* A malloc()ed copy of s with every invalid byte replaced by U+FFFD, or
 * NULL when out of memory. */
char *sw_utf8_sanitize(const char *s);

#endif
