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

/* The two base64 characters of every 12-bit value: b64_pairs[2 * v] is
 * b64_alphabet[v >> 6], b64_pairs[2 * v + 1] is b64_alphabet[v & 63]. A
 * group of 3 bytes is 2 table loads. */
#define P(c)                                                                \
  c "A" c "B" c "C" c "D" c "E" c "F" c "G" c "H" c "I" c "J" c "K" c "L"   \
  c "M" c "N" c "O" c "P" c "Q" c "R" c "S" c "T" c "U" c "V" c "W" c "X"   \
  c "Y" c "Z" c "a" c "b" c "c" c "d" c "e" c "f" c "g" c "h" c "i" c "j"   \
  c "k" c "l" c "m" c "n" c "o" c "p" c "q" c "r" c "s" c "t" c "u" c "v"   \
  c "w" c "x" c "y" c "z" c "0" c "1" c "2" c "3" c "4" c "5" c "6" c "7"   \
  c "8" c "9" c "+" c "/"
static const char b64_pairs[2 * 4096 + 1] =
  P("A") P("B") P("C") P("D")
  P("E") P("F") P("G") P("H")
  P("I") P("J") P("K") P("L")
  P("M") P("N") P("O") P("P")
  P("Q") P("R") P("S") P("T")
  P("U") P("V") P("W") P("X")
  P("Y") P("Z") P("a") P("b")
  P("c") P("d") P("e") P("f")
  P("g") P("h") P("i") P("j")
  P("k") P("l") P("m") P("n")
  P("o") P("p") P("q") P("r")
  P("s") P("t") P("u") P("v")
  P("w") P("x") P("y") P("z")
  P("0") P("1") P("2") P("3")
  P("4") P("5") P("6") P("7")
  P("8") P("9") P("+") P("/");
#undef P

/* The 64 characters and their values, for the decoding tables. */
#define B64_CHARS(X) \
  X('A', 0) X('B', 1) X('C', 2) X('D', 3) X('E', 4) X('F', 5) \
  X('G', 6) X('H', 7) X('I', 8) X('J', 9) X('K', 10) X('L', 11) \
  X('M', 12) X('N', 13) X('O', 14) X('P', 15) X('Q', 16) X('R', 17) \
  X('S', 18) X('T', 19) X('U', 20) X('V', 21) X('W', 22) X('X', 23) \
  X('Y', 24) X('Z', 25) X('a', 26) X('b', 27) X('c', 28) X('d', 29) \
  X('e', 30) X('f', 31) X('g', 32) X('h', 33) X('i', 34) X('j', 35) \
  X('k', 36) X('l', 37) X('m', 38) X('n', 39) X('o', 40) X('p', 41) \
  X('q', 42) X('r', 43) X('s', 44) X('t', 45) X('u', 46) X('v', 47) \
  X('w', 48) X('x', 49) X('y', 50) X('z', 51) X('0', 52) X('1', 53) \
  X('2', 54) X('3', 55) X('4', 56) X('5', 57) X('6', 58) X('7', 59) \
  X('8', 60) X('9', 61) X('+', 62) X('/', 63)

/* Decoding: one table per position in a quantum, holding the character's
 * value already shifted into place plus a flag bit of its own (24 to 27);
 * anything else, '=' included (the decoder handles padding itself), is 0.
 * A quantum is the OR of its four entries, valid when all four flags are
 * set. Constant tables: no locale, nothing to initialise. */
#define D0(c, v) [c] = (uint32_t)(v) << 18 | 1u << 24,
#define D1(c, v) [c] = (uint32_t)(v) << 12 | 1u << 25,
#define D2(c, v) [c] = (uint32_t)(v) << 6 | 1u << 26,
#define D3(c, v) [c] = (uint32_t)(v) | 1u << 27,
static const uint32_t b64_d0[256] = {B64_CHARS(D0)};
static const uint32_t b64_d1[256] = {B64_CHARS(D1)};
static const uint32_t b64_d2[256] = {B64_CHARS(D2)};
static const uint32_t b64_d3[256] = {B64_CHARS(D3)};
#undef D0
#undef D1
#undef D2
#undef D3
#define B64_FLAGS(n) (((1u << (n)) - 1) << 24) /* flags of n positions */

static size_t
b64_encoded_len(size_t n)
{
  return (n + 2) / 3 * 4;
}

static void
put_pair(char *out, uint32_t v12)
{
  memcpy(out, b64_pairs + 2 * v12, 2);
}

int
sw_b64_encode(char *out, size_t cap, const char *in, size_t n)
{
  const unsigned char *p = (const unsigned char *)in;
  size_t len, i = 0, o = 0;
  uint32_t v;

  if (cap > 0)
    out[0] = '\0';
  /* The length must fit the int we return. */
  if (n > (size_t)INT32_MAX / 4 * 3)
    return -1;
  len = b64_encoded_len(n);
  if (len >= cap)
    return -1;
  /* Four bytes loaded at once while a fourth is there to read. */
  for (; i + 4 <= n; i += 3, o += 4) {
    memcpy(&v, p + i, 4);
    v = __builtin_bswap32(v) >> 8;
    put_pair(out + o, v >> 12);
    put_pair(out + o + 2, v & 0xfff);
  }
  for (; i + 3 <= n; i += 3, o += 4) {
    v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
    put_pair(out + o, v >> 12);
    put_pair(out + o + 2, v & 0xfff);
  }
  if (n - i == 1) {
    v = (uint32_t)p[i] << 16;
    put_pair(out + o, v >> 12);
    out[o + 2] = '=';
    out[o + 3] = '=';
    o += 4;
  } else if (n - i == 2) {
    v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
    put_pair(out + o, v >> 12);
    out[o + 2] = b64_alphabet[(v >> 6) & 63];
    out[o + 3] = '=';
    o += 4;
  }
  out[o] = '\0';
  return (int)o;
}

int
sw_b64_decode(char *out, size_t cap, const char *in, size_t n)
{
  const unsigned char *p = (const unsigned char *)in;
  size_t i, o = 0, len, pad = 0, full;
  uint32_t v;

  if (cap > 0)
    out[0] = '\0';
  if (n % 4 != 0)
    return -1;
  if (n > 0 && p[n - 1] == '=')
    pad = (p[n - 2] == '=') ? 2 : 1;
  len = n / 4 * 3 - pad;
  if (len >= cap || len > INT32_MAX)
    return -1;
  /* The quanta without padding; '=' is invalid like any bad character, so
   * only the last quantum may hold the padding counted above. */
  full = pad ? n - 4 : n;
  for (i = 0; i < full; i += 4, o += 3) {
    v = b64_d0[p[i]] | b64_d1[p[i + 1]] | b64_d2[p[i + 2]] |
        b64_d3[p[i + 3]];
    if ((v & B64_FLAGS(4)) != B64_FLAGS(4))
      goto bad;
    out[o] = (char)(v >> 16);
    out[o + 1] = (char)(v >> 8);
    out[o + 2] = (char)v;
  }
  if (pad == 2) {
    v = b64_d0[p[i]] | b64_d1[p[i + 1]];
    /* The bits the padding stands for must be zero (RFC 4648 3.5). */
    if ((v & B64_FLAGS(2)) != B64_FLAGS(2) || (v & 0xffff) != 0)
      goto bad;
    out[o++] = (char)(v >> 16);
  } else if (pad == 1) {
    v = b64_d0[p[i]] | b64_d1[p[i + 1]] | b64_d2[p[i + 2]];
    if ((v & B64_FLAGS(3)) != B64_FLAGS(3) || (v & 0xff) != 0)
      goto bad;
    out[o++] = (char)(v >> 16);
    out[o++] = (char)(v >> 8);
  }
  out[o] = '\0';
  return (int)o;

bad:
  out[0] = '\0';
  return -1;
}

/* The three bytes of a decoded quantum v (bits 23..0) at d, and a 0
 * after them. */
static inline void
store3(char *d, uint32_t v)
{
  uint32_t b = v << 8;
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  b = __builtin_bswap32(b);
#endif
  memcpy(d, &b, 4);
}

/* Decodes the base64 field that starts at *pp and ends at the next '-'
 * or at end, into dst (dst_cap bytes with the NUL), and leaves *pp at
 * that '-' or end. The field is found while it is decoded: '-' is in no
 * decoding table, so the quantum loop stops at it, and a field must end
 * where a quantum would start. Refused, as sw_b64_decode() and
 * decode_text_field() of one split field would refuse it: empty, not a
 * multiple of 4 long, a bad character, '=' but as final padding, bad
 * padding bits, a decoded NUL, or too long for dst. */
static int
decode_field(char *dst, size_t dst_cap, const unsigned char **pp,
             const unsigned char *end)
{
  const unsigned char *p = *pp;
  size_t o = 0, n, room;
  uint32_t v;

  /* Whole quanta, while the value has them and dst room for them and
   * the NUL. A quantum's three bytes are stored as four (the fourth a 0,
   * which the next quantum or the NUL overwrites: o + 3 is at most
   * dst_cap - 1). */
  n = (size_t)(end - p) / 4;
  room = (dst_cap - 1) / 3;
  if (n > room)
    n = room;
  for (; n > 0; n--, p += 4, o += 3) {
    v = b64_d0[p[0]] | b64_d1[p[1]] | b64_d2[p[2]] | b64_d3[p[3]];
    if ((v & B64_FLAGS(4)) != B64_FLAGS(4))
      break;
    store3(dst + o, v);
  }
  if (p != end && *p != '-') {
    /* A padded last quantum, or the field is malformed or too long. */
    if (end - p < 4 || p[3] != '=')
      return -1;
    if (p[2] == '=') {
      v = b64_d0[p[0]] | b64_d1[p[1]];
      if ((v & B64_FLAGS(2)) != B64_FLAGS(2) || (v & 0xffff) != 0 ||
          o + 1 >= dst_cap)
        return -1;
      dst[o++] = (char)(v >> 16);
    } else {
      v = b64_d0[p[0]] | b64_d1[p[1]] | b64_d2[p[2]];
      if ((v & B64_FLAGS(3)) != B64_FLAGS(3) || (v & 0xff) != 0 ||
          o + 2 >= dst_cap)
        return -1;
      dst[o++] = (char)(v >> 16);
      dst[o++] = (char)(v >> 8);
    }
    p += 4;
    if (p != end && *p != '-')
      return -1;
  }
  if (o == 0 || memchr(dst, '\0', o) != NULL)
    return -1;
  dst[o] = '\0';
  *pp = p;
  return 0;
}

/* ASCII digits up to the next '-' (or end), 0 <= value <= INT32_MAX; *pp
 * is left at that '-' or end. */
static int
decode_span_id(int32_t *out, const unsigned char **pp,
               const unsigned char *end)
{
  const unsigned char *p = *pp;
  uint64_t v = 0;

  if (p == end || *p == '-')
    return -1;
  for (; p != end && *p != '-'; p++) {
    if (*p < '0' || *p > '9')
      return -1;
    /* v <= INT32_MAX here, so v * 10 + 9 cannot wrap a uint64_t, and any
     * number of leading zeros is fine. */
    v = v * 10 + (uint64_t)(*p - '0');
    if (v > INT32_MAX)
      return -1;
  }
  *out = (int32_t)v;
  *pp = p;
  return 0;
}

/* Steps over the '-' that must end the field just read. */
static inline int
dash(const unsigned char **pp, const unsigned char *end)
{
  if (*pp == end)
    return -1;
  (*pp)++;
  return 0;
}

int
sw8_decode(const char *value, size_t len, struct sw_ref *ref)
{
  const unsigned char *p = (const unsigned char *)value, *end;

  memset(ref, 0, sizeof(*ref));
  if (value == NULL || len == 0 || len > SW8_MAX_LEN)
    return -1;
  end = p + len;
  /* The fields in order, each split off while it is decoded ('-' is
   * absent from the base64 alphabet and its padding); the last must end
   * the value: a ninth field is refused like a missing one. */
  if (len < 2 || (p[0] != '0' && p[0] != '1') || p[1] != '-')
    goto bad;
  p += 2;
  if (decode_field(ref->trace_id, sizeof(ref->trace_id), &p, end) != 0 ||
      dash(&p, end) != 0 ||
      decode_field(ref->parent_segment_id, sizeof(ref->parent_segment_id),
                   &p, end) != 0 ||
      dash(&p, end) != 0 ||
      decode_span_id(&ref->parent_span_id, &p, end) != 0 ||
      dash(&p, end) != 0 ||
      decode_field(ref->parent_service, sizeof(ref->parent_service), &p,
                   end) != 0 ||
      dash(&p, end) != 0 ||
      decode_field(ref->parent_instance, sizeof(ref->parent_instance), &p,
                   end) != 0 ||
      dash(&p, end) != 0 ||
      decode_field(ref->parent_endpoint, sizeof(ref->parent_endpoint), &p,
                   end) != 0 ||
      dash(&p, end) != 0 ||
      decode_field(ref->peer, sizeof(ref->peer), &p, end) != 0 || p != end)
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

int
sw8_encode_svc(char *out, size_t cap, const char *service,
               const char *instance)
{
  size_t o = 0;

  if (cap == 0)
    return -1;
  out[0] = '\0';
  if (put_b64(out, cap, &o, service, 0) != 0 ||
      put_b64(out, cap, &o, instance, 0) != 0) {
    out[0] = '\0';
    return -1;
  }
  out[o] = '\0';
  return (int)o;
}

/* sw8_encode() with the middle part either made here from service and
 * instance (svc NULL) or given ready in svc[0..svc_len). */
static int
encode(char *out, size_t cap, const char *trace_id, const char *segment_id,
       int span_id, const char *svc, size_t svc_len, const char *service,
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
  if (svc != NULL) {
    if (svc_len == 0 || o + svc_len >= cap)
      goto fail;
    memcpy(out + o, svc, svc_len);
    o += svc_len;
  } else if (put_b64(out, cap, &o, service, 0) != 0 ||
             put_b64(out, cap, &o, instance, 0) != 0) {
    goto fail;
  }
  if (put_b64(out, cap, &o, endpoint, 0) != 0 ||
      put_b64(out, cap, &o, peer, 1) != 0)
    goto fail;
  out[o] = '\0';
  return (int)o;

fail:
  out[0] = '\0';
  return -1;
}

int
sw8_encode_pre(char *out, size_t cap, const char *trace_id,
               const char *segment_id, int span_id, const char *svc,
               size_t svc_len, const char *endpoint, const char *peer)
{
  if (svc == NULL) {
    if (cap > 0)
      out[0] = '\0';
    return -1;
  }
  return encode(out, cap, trace_id, segment_id, span_id, svc, svc_len, NULL,
                NULL, endpoint, peer);
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
  return encode(out, cap, trace_id, segment_id, span_id, NULL, 0, service,
                instance, endpoint, peer);
}
