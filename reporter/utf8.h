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

/* Strings of known length in fixed arrays.
 *
 * The encoders see the strings of a span record with their lengths
 * (struct sw_span_view, assemble.h), in arrays of at least 16 bytes that
 * may be read in whole blocks up to 15 bytes past the string: a record's
 * field, or a packed string's window (sw_span.h).
 * sw_copy_high() copies such a string in whole 16-byte blocks and tells
 * on the way whether it holds a byte >= 0x80: one pass and no call where
 * memcpy() and the ASCII check would make two. The portable version
 * (_any) is used where there is no SSE2; the unit tests run both. */
#if defined(__SSE2__)
#include <emmintrin.h>
#define SW_ARR_SSE2 1
#endif

/* Copies the n bytes at s to d and returns nonzero when one of them is
 * >= 0x80. */
static inline int
sw_copy_high_any(uint8_t *d, const char *s, size_t n)
{
  memcpy(d, s, n);
  return !sw_utf8_is_ascii(s, n);
}

/* The same for n <= cap, m being n or 1 when n is 0: s[0 .. min(cap,
 * m + 15)) is read and d[0 .. min(cap, m + 15)) may be written, no more
 * (whole blocks, the last one moved back to end at the array's end when
 * it would cross it), so s needs that much readable and d room for
 * n + 16 bytes (or cap). Inlined: cap is a constant. */
static inline __attribute__((always_inline)) int
sw_copy_high(uint8_t *d, const char *s, size_t n, size_t cap)
{
#ifdef SW_ARR_SSE2
  if (cap >= 16) {
    __m128i v = _mm_loadu_si128((const __m128i *)(const void *)s);
    unsigned hi = (unsigned)_mm_movemask_epi8(v);

    /* The first block on its own: most strings end in it. */
    _mm_storeu_si128((__m128i *)(void *)d, v);
    if (__builtin_expect(n <= 16, 1))
      return (hi & ((1u << n) - 1)) != 0;
    for (size_t o = 16; o < n; o += 16) {
      size_t b = o + 16 <= cap ? o : cap - 16;
      unsigned h;

      v = _mm_loadu_si128((const __m128i *)(const void *)(s + b));
      h = (unsigned)_mm_movemask_epi8(v);
      _mm_storeu_si128((__m128i *)(void *)(d + b), v);
      /* Only the string's bytes count, not what follows it. */
      if (n - b < 16)
        h &= (1u << (n - b)) - 1;
      hi |= h;
    }
    return hi != 0;
  }
#endif
  return sw_copy_high_any(d, s, n);
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
