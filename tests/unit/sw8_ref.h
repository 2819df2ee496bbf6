/* sw8_ref.h: the table-free base64 codec that sw8.c used before its
 * tables, kept as a reference for the table-driven one (same results, same
 * bytes, same rejections). Included by tests/unit/test_sw8.c and
 * tests/fuzz/fuzz_sw8.c; static functions, for tests only. */
#ifndef SW_TESTS_SW8_REF_H
#define SW_TESTS_SW8_REF_H

#include <stddef.h>
#include <stdint.h>

static const char ref_alphabet[] =
  "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int
ref_value(unsigned char c)
{
  if (c >= 'A' && c <= 'Z')
    return c - 'A';
  if (c >= 'a' && c <= 'z')
    return c - 'a' + 26;
  if (c >= '0' && c <= '9')
    return c - '0' + 52;
  if (c == '+')
    return 62;
  if (c == '/')
    return 63;
  return -1;
}

static int
ref_b64_encode(char *out, size_t cap, const char *in, size_t n)
{
  const unsigned char *p = (const unsigned char *)in;
  size_t len, i, o = 0;
  uint32_t v;

  if (cap > 0)
    out[0] = '\0';
  if (n > (size_t)INT32_MAX / 4 * 3)
    return -1;
  len = (n + 2) / 3 * 4;
  if (len >= cap)
    return -1;
  for (i = 0; i + 3 <= n; i += 3) {
    v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
    out[o++] = ref_alphabet[v >> 18];
    out[o++] = ref_alphabet[(v >> 12) & 63];
    out[o++] = ref_alphabet[(v >> 6) & 63];
    out[o++] = ref_alphabet[v & 63];
  }
  if (n - i == 1) {
    v = (uint32_t)p[i] << 16;
    out[o++] = ref_alphabet[v >> 18];
    out[o++] = ref_alphabet[(v >> 12) & 63];
    out[o++] = '=';
    out[o++] = '=';
  } else if (n - i == 2) {
    v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
    out[o++] = ref_alphabet[v >> 18];
    out[o++] = ref_alphabet[(v >> 12) & 63];
    out[o++] = ref_alphabet[(v >> 6) & 63];
    out[o++] = '=';
  }
  out[o] = '\0';
  return (int)o;
}

static int
ref_b64_decode(char *out, size_t cap, const char *in, size_t n)
{
  const unsigned char *p = (const unsigned char *)in;
  size_t i, o = 0, len, pad = 0;
  int a, b, c, d;

  if (cap > 0)
    out[0] = '\0';
  if (n % 4 != 0)
    return -1;
  if (n > 0 && p[n - 1] == '=')
    pad = (p[n - 2] == '=') ? 2 : 1;
  len = n / 4 * 3 - pad;
  if (len >= cap || len > INT32_MAX)
    return -1;
  for (i = 0; i < n; i += 4) {
    a = ref_value(p[i]);
    b = ref_value(p[i + 1]);
    if (i + 4 == n && pad == 2) {
      if (a < 0 || b < 0 || (b & 15) != 0)
        goto bad;
      out[o++] = (char)(a << 2 | b >> 4);
      break;
    }
    c = ref_value(p[i + 2]);
    if (i + 4 == n && pad == 1) {
      if (a < 0 || b < 0 || c < 0 || (c & 3) != 0)
        goto bad;
      out[o++] = (char)(a << 2 | b >> 4);
      out[o++] = (char)((b & 15) << 4 | c >> 2);
      break;
    }
    d = ref_value(p[i + 3]);
    if (a < 0 || b < 0 || c < 0 || d < 0)
      goto bad;
    out[o++] = (char)(a << 2 | b >> 4);
    out[o++] = (char)((b & 15) << 4 | c >> 2);
    out[o++] = (char)((c & 3) << 6 | d);
  }
  out[o] = '\0';
  return (int)o;

bad:
  out[0] = '\0';
  return -1;
}

#endif
