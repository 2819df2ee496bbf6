/* utf8_ref.h: a UTF-8 decoder written independently of reporter/utf8.c,
 * the oracle of test_rep_encode (protobuf strings) and test_rep_json
 * (JSON strings). Static, for tests only. */
#ifndef SW_TESTS_UTF8_REF_H
#define SW_TESTS_UTF8_REF_H

#include <stddef.h>
#include <stdint.h>

/* The length (2 to 4) of the well-formed sequence starting at p[i], a
 * byte >= 0x80 of the n bytes at p, or 0 when it does not start one:
 * decodes it and rejects overlong forms, surrogates and code points above
 * U+10FFFF (RFC 3629). */
static size_t
ref_utf8_seq(const uint8_t *p, size_t i, size_t n)
{
  uint8_t c = p[i];
  uint32_t cp, min;
  size_t need, k;

  if ((c & 0xE0) == 0xC0) {
    need = 1, cp = c & 0x1F, min = 0x80;
  } else if ((c & 0xF0) == 0xE0) {
    need = 2, cp = c & 0x0F, min = 0x800;
  } else if ((c & 0xF8) == 0xF0) {
    need = 3, cp = c & 0x07, min = 0x10000;
  } else {
    return 0;
  }
  for (k = 1; k <= need; k++) {
    if (i + k >= n || (p[i + k] & 0xC0) != 0x80)
      return 0;
    cp = cp << 6 | (p[i + k] & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
    return 0;
  return need + 1;
}

#endif
