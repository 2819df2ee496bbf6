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
  size_t n = strlen(s);

  return sw_utf8_is_ascii(s, n) || sw_utf8_repaired_len(s, n) == n;
}

size_t
sw_utf8_repaired_len(const char *s, size_t n)
{
  const uint8_t *p = (const uint8_t *)s;
  size_t out = n;

  /* Plain ASCII costs one comparison per byte; each invalid byte grows
   * into three. */
  while (*p) {
    size_t k;

    if (*p < 0x80) {
      p++;
      continue;
    }
    if ((k = sw_utf8_seq_len(p)) == 0) {
      out += 2;
      p++;
      continue;
    }
    p += k;
  }
  return out;
}

size_t
sw_utf8_repair(uint8_t *out, const char *s)
{
  const uint8_t *p = (const uint8_t *)s;
  uint8_t *o = out;

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
  return (size_t)(o - out);
}

char *
sw_utf8_sanitize(const char *s)
{
  size_t len = strlen(s), n;
  char *out;

  if (len > (SIZE_MAX - 1) / 3)
    return NULL;
  n = sw_utf8_is_ascii(s, len) ? len : sw_utf8_repaired_len(s, len);
  out = malloc(n + 1);
  if (!out)
    return NULL;
  if (n == len)
    memcpy(out, s, len);
  else
    sw_utf8_repair((uint8_t *)out, s);
  out[n] = '\0';
  return out;
}
