/* sw8.c: the sw8 propagation header and the base64 it is made of.
 *
 * Pure functions over caller buffers: no allocation, no libc state, no
 * locale, so they may run in a hook or a signal handler.
 *
 * Decoding is strict. A value we cannot take exactly as sent is rejected
 * as a whole (the caller then starts a fresh trace), never repaired:
 *   - not exactly 8 '-'-separated fields, or longer than SW8_MAX_LEN;
 *   - a sample flag other than "0" or "1" (both are accepted; like the
 *     Python agent we do not act on it);
 *   - a base64 field that is empty, not a multiple of 4 long, contains a
 *     character outside A-Z a-z 0-9 + /, has '=' anywhere but as one or
 *     two final padding characters, or has non-zero padding bits (RFC 4648
 *     section 3.5: such text is not what any encoder produces);
 *   - a parent span id that is empty, has anything but ASCII digits (so no
 *     sign), or exceeds INT32_MAX. Leading zeros are accepted;
 *   - a decoded field containing a NUL byte, or too long for its struct
 *     sw_ref buffer with the terminating NUL. This applies to every field
 *     alike: ids must never be truncated (a cut trace id would silently
 *     join another trace), and cutting names could split a UTF-8 sequence
 *     and make the OAP reject the whole segment. The buffers hold what
 *     the OAP keeps anyway (SW_NAME_MAX 72, SW_OP_MAX 160, SW_PEER_MAX 96,
 *     ids SW_ID_MAX 64), so only malformed or hostile headers are lost.
 * Decoded text is not checked for UTF-8 validity: it goes back out as the
 * bytes it came in as. */
#include "sw_common.h"

#include "sw8.h"

#include <stdint.h>

static const char b64_alphabet[] =
  "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Value of a base64 character, or -1 for anything else (including '=',
 * which the decoder handles itself). No table, so no locale and nothing
 * to initialise. */
static int
b64_value(unsigned char c)
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

static size_t
b64_encoded_len(size_t n)
{
  return (n + 2) / 3 * 4;
}

int
sw_b64_encode(char *out, size_t cap, const char *in, size_t n)
{
  const unsigned char *p = (const unsigned char *)in;
  size_t len, i, o = 0;
  uint32_t v;

  if (cap > 0)
    out[0] = '\0';
  /* The length must fit the int we return. */
  if (n > (size_t)INT32_MAX / 4 * 3)
    return -1;
  len = b64_encoded_len(n);
  if (len >= cap)
    return -1;
  for (i = 0; i + 3 <= n; i += 3) {
    v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
    out[o++] = b64_alphabet[v >> 18];
    out[o++] = b64_alphabet[(v >> 12) & 63];
    out[o++] = b64_alphabet[(v >> 6) & 63];
    out[o++] = b64_alphabet[v & 63];
  }
  if (n - i == 1) {
    v = (uint32_t)p[i] << 16;
    out[o++] = b64_alphabet[v >> 18];
    out[o++] = b64_alphabet[(v >> 12) & 63];
    out[o++] = '=';
    out[o++] = '=';
  } else if (n - i == 2) {
    v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
    out[o++] = b64_alphabet[v >> 18];
    out[o++] = b64_alphabet[(v >> 12) & 63];
    out[o++] = b64_alphabet[(v >> 6) & 63];
    out[o++] = '=';
  }
  out[o] = '\0';
  return (int)o;
}

int
sw_b64_decode(char *out, size_t cap, const char *in, size_t n)
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
    a = b64_value(p[i]);
    b = b64_value(p[i + 1]);
    /* '=' maps to -1 like any bad character; only the last quantum may
     * end in the padding counted above. */
    if (i + 4 == n && pad == 2) {
      if (a < 0 || b < 0 || (b & 15) != 0)
        goto bad;
      out[o++] = (char)(a << 2 | b >> 4);
      break;
    }
    c = b64_value(p[i + 2]);
    if (i + 4 == n && pad == 1) {
      if (a < 0 || b < 0 || c < 0 || (c & 3) != 0)
        goto bad;
      out[o++] = (char)(a << 2 | b >> 4);
      out[o++] = (char)((b & 15) << 4 | c >> 2);
      break;
    }
    d = b64_value(p[i + 3]);
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

/* Decodes one base64 field of the header into dst (dst_cap bytes with
 * the NUL): non-empty, valid, fits, and no NUL inside. */
static int
decode_text_field(char *dst, size_t dst_cap, const char *src, size_t n)
{
  int len;

  if (n == 0)
    return -1;
  len = sw_b64_decode(dst, dst_cap, src, n);
  if (len <= 0)
    return -1;
  if (memchr(dst, '\0', (size_t)len) != NULL)
    return -1;
  return 0;
}

/* ASCII digits only, 0 <= value <= INT32_MAX. */
static int
decode_span_id(int32_t *out, const char *s, size_t n)
{
  uint64_t v = 0;
  size_t i;

  if (n == 0)
    return -1;
  for (i = 0; i < n; i++) {
    if (s[i] < '0' || s[i] > '9')
      return -1;
    /* v <= INT32_MAX here, so v * 10 + 9 cannot wrap a uint64_t, and any
     * number of leading zeros is fine. */
    v = v * 10 + (uint64_t)(s[i] - '0');
    if (v > INT32_MAX)
      return -1;
  }
  *out = (int32_t)v;
  return 0;
}

int
sw8_decode(const char *value, size_t len, struct sw_ref *ref)
{
  const char *field[8];
  size_t flen[8];
  size_t i, start = 0;
  int nf = 0;

  memset(ref, 0, sizeof(*ref));
  if (value == NULL || len == 0 || len > SW8_MAX_LEN)
    return -1;
  /* Split on '-' (absent from the base64 alphabet and its padding). */
  for (i = 0; i <= len; i++) {
    if (i == len || value[i] == '-') {
      if (nf == 8)
        goto bad; /* a ninth field */
      field[nf] = value + start;
      flen[nf] = i - start;
      nf++;
      start = i + 1;
    }
  }
  if (nf != 8)
    goto bad;
  if (flen[0] != 1 || (field[0][0] != '0' && field[0][0] != '1'))
    goto bad;
  if (decode_text_field(ref->trace_id, sizeof(ref->trace_id), field[1],
                        flen[1]) != 0 ||
      decode_text_field(ref->parent_segment_id,
                        sizeof(ref->parent_segment_id), field[2],
                        flen[2]) != 0 ||
      decode_span_id(&ref->parent_span_id, field[3], flen[3]) != 0 ||
      decode_text_field(ref->parent_service, sizeof(ref->parent_service),
                        field[4], flen[4]) != 0 ||
      decode_text_field(ref->parent_instance, sizeof(ref->parent_instance),
                        field[5], flen[5]) != 0 ||
      decode_text_field(ref->parent_endpoint, sizeof(ref->parent_endpoint),
                        field[6], flen[6]) != 0 ||
      decode_text_field(ref->peer, sizeof(ref->peer), field[7],
                        flen[7]) != 0)
    goto bad;
  return 0;

bad:
  memset(ref, 0, sizeof(*ref));
  return -1;
}

/* Appends base64(s) and, unless last, a '-' at out + *o. An empty or
 * missing s is refused: see sw8_encode. */
static int
put_b64(char *out, size_t cap, size_t *o, const char *s, int last)
{
  int n;

  if (s == NULL || s[0] == '\0')
    return -1;
  n = sw_b64_encode(out + *o, cap - *o, s, strlen(s));
  if (n < 0)
    return -1;
  *o += (size_t)n;
  if (!last) {
    if (*o + 1 >= cap)
      return -1;
    out[(*o)++] = '-';
  }
  return 0;
}

/* Besides a too small cap, refuses (-1, out empty) a negative span id and
 * an empty or NULL string: every agent rejects an sw8 value with an empty
 * field, and the Python agent then suppresses tracing of the request
 * altogether, so sending none is better than sending that. */
int
sw8_encode(char *out, size_t cap, const char *trace_id,
           const char *segment_id, int span_id, const char *service,
           const char *instance, const char *endpoint, const char *peer)
{
  char digits[12];
  size_t o = 0, nd = 0;
  unsigned v;

  if (cap == 0)
    return -1;
  out[0] = '\0';
  if (span_id < 0 || cap < 3)
    return -1;
  out[o++] = '1';
  out[o++] = '-';
  if (put_b64(out, cap, &o, trace_id, 0) != 0 ||
      put_b64(out, cap, &o, segment_id, 0) != 0)
    goto fail;
  v = (unsigned)span_id;
  do {
    digits[nd++] = (char)('0' + v % 10);
    v /= 10;
  } while (v != 0);
  if (o + nd + 1 >= cap)
    goto fail;
  while (nd > 0)
    out[o++] = digits[--nd];
  out[o++] = '-';
  if (put_b64(out, cap, &o, service, 0) != 0 ||
      put_b64(out, cap, &o, instance, 0) != 0 ||
      put_b64(out, cap, &o, endpoint, 0) != 0 ||
      put_b64(out, cap, &o, peer, 1) != 0)
    goto fail;
  out[o] = '\0';
  return (int)o;

fail:
  out[0] = '\0';
  return -1;
}
