/* utf8.c: UTF-8 validation and repair (see utf8.h). */
#include "sw_common.h"

#include "utf8.h"

#include <stdlib.h>

size_t
sw_utf8_seq_len(const uint8_t *p)
{
  uint8_t c = p[0];
  uint8_t lo = 0x80, hi = 0xBF;
  size_t n, i;

  if (c < 0x80)
    return 1;
  if (c >= 0xC2 && c <= 0xDF) {
    n = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    n = 3;
    if (c == 0xE0)
      lo = 0xA0; /* overlong below U+0800 */
    else if (c == 0xED)
      hi = 0x9F; /* UTF-16 surrogates */
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4;
    if (c == 0xF0)
      lo = 0x90; /* overlong below U+10000 */
    else if (c == 0xF4)
      hi = 0x8F; /* above U+10FFFF */
  } else {
    return 0;
  }
  if (p[1] < lo || p[1] > hi)
    return 0;
  for (i = 2; i < n; i++)
    if (p[i] < 0x80 || p[i] > 0xBF)
      return 0;
  return n;
}

int
sw_utf8_valid(const char *s)
{
  const uint8_t *p = (const uint8_t *)s;

  /* The common case, plain ASCII, costs one comparison per byte. */
  while (*p) {
    size_t n;

    if (*p < 0x80) {
      p++;
      continue;
    }
    if ((n = sw_utf8_seq_len(p)) == 0)
      return 0;
    p += n;
  }
  return 1;
}

char *
sw_utf8_sanitize(const char *s)
{
  const uint8_t *p = (const uint8_t *)s;
  size_t len = strlen(s);
  char *out, *o;

  if (len > (SIZE_MAX - 1) / 3)
    return NULL;
  out = o = malloc(len * 3 + 1);
  if (!out)
    return NULL;
  while (*p) {
    size_t n = sw_utf8_seq_len(p);

    if (n == 0) {
      memcpy(o, SW_UTF8_REPLACEMENT, 3);
      o += 3;
      p++;
      continue;
    }
    memcpy(o, p, n);
    o += n;
    p += n;
  }
  *o = '\0';
  return out;
}
