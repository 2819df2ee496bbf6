/* http1.c: incremental HTTP/1.0 and HTTP/1.1 message parser.
 *
 * A byte-level state machine over one direction of a connection. It runs
 * inside interposed read()/write() calls, so it is async-signal-safe: no
 * allocation, no locks, no globals except const tables, and no libc calls
 * beyond memchr/memcpy/memset (SSE2 intrinsics where the compiler has
 * them). Lines are never buffered; the few fields
 * callers need are copied into the fixed-size buffers of struct sw_h1_msg
 * as the bytes go by.
 *
 * Cost: body bytes (Content-Length and chunk data) are skipped with plain
 * arithmetic, one step per feed call whatever their number. A line that
 * is whole in the buffer (the usual case: a head arrives in one read and
 * leaves in one write) is read at once, not byte by byte: see "whole
 * lines" below; a feed that starts a message takes its head in one pass
 * (feed_head()) when it is all there. A header line nobody needs costs
 * two 16-byte loads: one checks its name, both show its LF when the line
 * is up to 32 bytes long. Lines split across feeds go through the
 * byte machine, where header lines nobody needs, reason phrases, chunk
 * extensions and trailers are skipped with memchr, and only the start
 * line, header names and captured values are looked at byte by byte. The
 * two ways give the same results, errors included; the unit tests and
 * the fuzz target compare them.
 *
 * Leniency: CRLF or bare LF ends every line; a CR just before the LF of a
 * header value is trimmed like whitespace. Extra spaces between the parts
 * of a start line are accepted. Anything that decides where a message
 * ends (Content-Length, Transfer-Encoding, chunk sizes) is read strictly:
 * a wrong guess there would misparse every later message on the
 * connection, so it is an error instead.
 *
 * Errors: once SW_H1_ERROR has been returned the parser stays in the
 * error state, and every feed takes all the bytes it is given and returns
 * SW_H1_ERROR again. A 101 Switching Protocols response is reported
 * (SW_H1_HEAD | SW_H1_DONE) and then leads to the error state as well,
 * because what follows on the connection is no longer HTTP/1.
 *
 * Choices callers may rely on:
 * - keep_alive is also 0 for a close-delimited response body.
 * - The first Host and the first sw8 header win; later ones are ignored.
 *   An sw8 value longer than SW_H1_SW8_MAX - 1 leaves sw8 "" (a cut one
 *   would decode to nonsense); a longer Host is cut.
 * - content_length is reported as sent even when it does not frame the
 *   body (HEAD answers, 204, 304, Transfer-Encoding present).
 * - sw_h1_expect_no_body() marks the next final response head to
 *   complete (a 1xx does not use it up). Callers also use it for the 2xx
 *   answer to CONNECT: the tunnel bytes that follow then fail as garbage.
 * - sw_h1_skip() also works inside chunk data, and n == 0 is a no-op.
 * - sw_h1_eof() anywhere but in a close-delimited body changes nothing.
 * - sw_h1_in_message() is 0 in the error state. */
#include "sw_common.h"

#include "http1.h"

#ifdef __SSE2__
#include <emmintrin.h>
#endif

/* For the few functions of the usual path that the compiler would leave
 * out of line: each call costs more than its body would. */
#define HOT_INLINE static inline __attribute__((always_inline))

/* Parser states. The first group is handled by the bulk loops at the top
 * of sw_h1_feed(), which consume any number of bytes (or none, on a state
 * change); the rest take exactly one byte per step, except that at the
 * start of a line S_METHOD, S_SVER, S_HDR_START, S_CHUNK_SIZE and
 * S_CHUNK_END first try to take whole lines there too. */
enum {
  S_IDLE = 0,     /* between messages; CR and LF are skipped */
  S_TARGET_SP,    /* spaces before the request target */
  S_TARGET,       /* request target */
  S_RVER_SP,      /* spaces before the request version */
  S_STATUS_SP,    /* extra spaces before the status code */
  S_REASON,       /* reason phrase, up to LF */
  S_HDR_NAME,     /* header name, up to ':' */
  S_HDR_OWS,      /* whitespace before a captured header value */
  S_VAL_STR,      /* Host or sw8 value, up to LF */
  S_HDR_SKIP,     /* a header line nobody needs, up to LF */
  S_BODY_CL,      /* Content-Length body */
  S_BODY_CLOSE,   /* close-delimited response body, until sw_h1_eof */
  S_CHUNK_EXT,    /* chunk extension, up to LF */
  S_CHUNK_DATA,   /* chunk data */
  S_TRAILER_SKIP, /* a trailer line, up to LF */
  S_ERROR,
  /* One byte per step from here on. */
  S_METHOD,
  S_RVER,         /* "HTTP/1.x" of a request; sub is the index */
  S_RVER_END,     /* CR or LF after the request version */
  S_LINE_LF,      /* LF after the CR of a start line */
  S_SVER,         /* "HTTP/1.x" of a response; sub is the index */
  S_SVER_SP,      /* the space after the response version */
  S_STATUS,       /* three digits; sub counts them */
  S_STATUS_END,   /* space, CR or LF after the status code */
  S_HDR_START,    /* first byte of a header line or of the blank line */
  S_VAL_CL,       /* Content-Length value; sub is a CL_* state */
  S_VAL_TOK,      /* Connection or Transfer-Encoding token list */
  S_HEAD_LF,      /* LF after the CR of the blank line */
  S_CHUNK_SIZE,   /* hex digits; sub is 1 once one was seen */
  S_CHUNK_BWS,    /* whitespace after the chunk size */
  S_CHUNK_LF,     /* LF after the CR of a chunk size line */
  S_CHUNK_END,    /* CR or LF after chunk data */
  S_CHUNK_END_LF, /* LF after that CR */
  S_TRAILER_START,/* first byte of a trailer line or of the blank line */
  S_TRAILER_LF    /* LF after the CR of the final blank line */
};

/* Captured headers (p->hdr). */
enum { H_NONE = 0, H_HOST, H_SW8, H_CL, H_TE, H_CONN };

/* p->flags. */
#define F_HOST 0x01       /* a Host header was captured; later ones ignored */
#define F_TE 0x02         /* Transfer-Encoding named at least one coding */
#define F_TE_CHUNKED 0x04 /* and the last one was chunked */
#define F_CLOSE 0x08      /* Connection: close */
#define F_KA 0x10         /* Connection: keep-alive */
#define F_TOK_PARAM 0x20  /* the current list token has ended (";" or SP) */

/* Content-Length value states (p->sub). */
enum { CL_PRE = 0, CL_DIGITS, CL_POST };

/* Header name bytes: the lower-case form of every tchar (RFC 9110 5.6.2),
 * 0 for anything else. One lookup both validates and folds case. */
#define SAME(c) [c] = c
#define FOLD(c) [c] = (c) + ('a' - 'A')
static const unsigned char name_map[256] = {
  SAME('!'), SAME('#'), SAME('$'), SAME('%'), SAME('&'), SAME('\''),
  SAME('*'), SAME('+'), SAME('-'), SAME('.'), SAME('^'), SAME('_'),
  SAME('`'), SAME('|'), SAME('~'),
  SAME('0'), SAME('1'), SAME('2'), SAME('3'), SAME('4'), SAME('5'),
  SAME('6'), SAME('7'), SAME('8'), SAME('9'),
  SAME('a'), SAME('b'), SAME('c'), SAME('d'), SAME('e'), SAME('f'),
  SAME('g'), SAME('h'), SAME('i'), SAME('j'), SAME('k'), SAME('l'),
  SAME('m'), SAME('n'), SAME('o'), SAME('p'), SAME('q'), SAME('r'),
  SAME('s'), SAME('t'), SAME('u'), SAME('v'), SAME('w'), SAME('x'),
  SAME('y'), SAME('z'),
  FOLD('A'), FOLD('B'), FOLD('C'), FOLD('D'), FOLD('E'), FOLD('F'),
  FOLD('G'), FOLD('H'), FOLD('I'), FOLD('J'), FOLD('K'), FOLD('L'),
  FOLD('M'), FOLD('N'), FOLD('O'), FOLD('P'), FOLD('Q'), FOLD('R'),
  FOLD('S'), FOLD('T'), FOLD('U'), FOLD('V'), FOLD('W'), FOLD('X'),
  FOLD('Y'), FOLD('Z'),
};
#undef SAME
#undef FOLD

static const char version_prefix[] = "HTTP/1.";

/* Methods are tokens; real ones are upper-case letters, '-' and '_'.
 * Accepting only those makes a non-HTTP stream fail on its first bytes. */
static int
is_method_char(unsigned c)
{
  return (c >= 'A' && c <= 'Z') || c == '-' || c == '_';
}

static int
is_ows(unsigned c)
{
  return c == ' ' || c == '\t';
}

/* Whitespace or CR: what a header value loses at its end. */
static int
is_trailing_ws(unsigned c)
{
  return c <= ' ' &&
         ((1ull << c) & (1ull << ' ' | 1ull << '\t' | 1ull << '\r')) != 0;
}

static int
hex_value(unsigned c)
{
  if (c >= '0' && c <= '9')
    return (int)(c - '0');
  c |= 0x20;
  if (c >= 'a' && c <= 'f')
    return (int)(c - 'a' + 10);
  return -1;
}

HOT_INLINE void
msg_clear(struct sw_h1_msg *m)
{
  /* Only what the fields mean: strings become "" without touching their
   * tails, which keeps this cheap on every message. */
  m->method[0] = '\0';
  m->target[0] = '\0';
  m->target_truncated = 0;
  m->status = 0;
  m->version_minor = 0;
  m->host[0] = '\0';
  m->sw8[0] = '\0';
  m->sw8_present = 0;
  m->sw8_too_long = 0;
  m->content_length = -1;
  m->chunked = 0;
  m->keep_alive = 0;
}

/* The first byte of a message (or of the response after a 1xx). */
HOT_INLINE void
head_begin(struct sw_h1 *p)
{
  msg_clear(&p->msg);
  p->state = p->kind == SW_H1_REQUEST ? S_METHOD : S_SVER;
  p->sub = 0;
  p->line_len = 0;
  p->nheaders = 0;
  p->name_len = 0;
  p->value_len = 0;
  p->hdr = H_NONE;
  p->last_hdr = H_NONE;
  p->flags = 0;
}

static int
msg_done(struct sw_h1 *p)
{
  p->state = S_IDLE;
  return SW_H1_DONE;
}

static void
chunk_begin(struct sw_h1 *p)
{
  p->state = S_CHUNK_SIZE;
  p->sub = 0;
  p->chunk_size = 0;
  p->line_len = 0;
}

static int head_end_other(struct sw_h1 *p) SW_NOINLINE;

/* The blank line ending a head was read. Decides how the body is framed
 * (RFC 9112 section 6.3) and returns the event flags, 0 when a 1xx head
 * was skipped, or SW_H1_ERROR. */
HOT_INLINE int
head_end(struct sw_h1 *p)
{
  struct sw_h1_msg *m = &p->msg;
  int status = m->status;
  int64_t cl = m->content_length;

  p->line_len = 0;
  if (SW_LIKELY(!(p->flags & (F_TE | F_CLOSE)) &&
                (p->kind == SW_H1_REQUEST ||
                 (status >= 200 && status != 204 && status != 304 &&
                  !p->no_body && cl >= 0)))) {
    /* The usual head, which the rest comes to as well: no
     * Transfer-Encoding or Connection: close, and for a response a
     * Content-Length and a body to go with it. */
    m->chunked = 0;
    m->keep_alive = m->version_minor | ((p->flags & F_KA) != 0);
    if (cl > 0) {
      p->remaining = cl;
      p->state = S_BODY_CL;
      return SW_H1_HEAD;
    }
    return SW_H1_HEAD | msg_done(p);
  }
  return head_end_other(p);
}

/* head_end() for every other head (chunked, close-delimited, 1xx, 101,
 * no body): out of line, as its code is bigger than the usual case's. */
static int
head_end_other(struct sw_h1 *p)
{
  struct sw_h1_msg *m = &p->msg;
  int status = m->status;

  m->chunked = (p->flags & (F_TE | F_TE_CHUNKED)) == (F_TE | F_TE_CHUNKED);
  if (p->flags & F_CLOSE)
    m->keep_alive = 0;
  else if (m->version_minor == 1)
    m->keep_alive = 1;
  else
    m->keep_alive = (p->flags & F_KA) != 0;

  if (p->kind == SW_H1_REQUEST) {
    if (p->flags & F_TE) {
      /* A request body whose length is unknown cannot be delimited. */
      if (!m->chunked)
        return SW_H1_ERROR;
      chunk_begin(p);
      return SW_H1_HEAD;
    }
    if (m->content_length > 0) {
      p->remaining = m->content_length;
      p->state = S_BODY_CL;
      return SW_H1_HEAD;
    }
    return SW_H1_HEAD | msg_done(p);
  }

  if (status < 200 && status != 101) {
    /* Interim response: its head is part of the final response's head
     * as far as callers are concerned, and is never reported. */
    head_begin(p);
    return 0;
  }
  if (status == 101) {
    /* Report it, then give up: the connection now speaks something else. */
    p->no_body = 0;
    p->state = S_ERROR;
    return SW_H1_HEAD | SW_H1_DONE;
  }
  if (p->no_body || status == 204 || status == 304) {
    p->no_body = 0;
    return SW_H1_HEAD | msg_done(p);
  }
  if (p->flags & F_TE) {
    if (m->chunked) {
      chunk_begin(p);
      return SW_H1_HEAD;
    }
    /* Transfer-Encoding overrides Content-Length; without chunked last
     * the body ends with the connection. */
  } else if (m->content_length > 0) {
    p->remaining = m->content_length;
    p->state = S_BODY_CL;
    return SW_H1_HEAD;
  } else if (m->content_length == 0) {
    return SW_H1_HEAD | msg_done(p);
  }
  m->keep_alive = 0;
  p->state = S_BODY_CLOSE;
  return SW_H1_HEAD;
}

/* The value of header h (H_NONE: one not looked at) starts: the state
 * its bytes are read in. */
static inline void
value_begin(struct sw_h1 *p, int h)
{
  p->hdr = (uint8_t)h;
  p->value_len = 0;
  p->vtrim = 0;
  p->num = 0;
  p->tok_len = 0;
  p->flags &= (uint16_t)~F_TOK_PARAM;
  p->sub = CL_PRE;
}

/* A ':' ended a header name: pick what to do with its value. */
static void
header_begin(struct sw_h1 *p)
{
  const char *n = p->name;
  uint32_t len = p->name_len;
  int h = H_NONE;

  if (len == 4 && memcmp(n, "host", 4) == 0)
    h = (p->flags & F_HOST) ? H_NONE : H_HOST;
  else if (len == 3 && memcmp(n, "sw8", 3) == 0)
    h = p->msg.sw8_present ? H_NONE : H_SW8;
  else if (len == 14 && memcmp(n, "content-length", 14) == 0)
    h = H_CL;
  else if (len == 17 && memcmp(n, "transfer-encoding", 17) == 0)
    h = H_TE;
  else if (len == 10 && memcmp(n, "connection", 10) == 0)
    h = H_CONN;
  value_begin(p, h);
  p->state = h == H_NONE ? S_HDR_SKIP : S_HDR_OWS;
}

/* The LF of a captured header line was read. */
static void
header_end(struct sw_h1 *p)
{
  struct sw_h1_msg *m = &p->msg;
  uint32_t cap, t = p->vtrim;
  char *dst;

  if (p->hdr == H_HOST || p->hdr == H_SW8) {
    if (p->hdr == H_HOST) {
      dst = m->host;
      cap = SW_H1_HOST_MAX;
      p->flags |= F_HOST;
    } else {
      dst = m->sw8;
      cap = SW_H1_SW8_MAX;
      m->sw8_present = 1;
    }
    if (t > cap - 1) {
      /* A cut Host is still useful; a cut sw8 would decode to nonsense. */
      if (p->hdr == H_SW8) {
        m->sw8_too_long = 1;
        t = 0;
      } else {
        t = cap - 1;
      }
    }
    dst[t] = '\0';
  }
  p->last_hdr = p->hdr;
  p->hdr = H_NONE;
  p->line_len = 0;
  p->state = S_HDR_START;
}

/* Appends value bytes s[0..n) of Host or sw8, tracking where the value
 * ends without its trailing whitespace (and the CR of a CRLF). */
static void
value_append(struct sw_h1 *p, const unsigned char *s, size_t n)
{
  char *dst = p->hdr == H_HOST ? p->msg.host : p->msg.sw8;
  uint32_t cap = p->hdr == H_HOST ? SW_H1_HOST_MAX : SW_H1_SW8_MAX;
  size_t k;

  /* The field stays terminated while the value streams in, so that a
   * caller peeking early never sees the previous message's bytes. */
  if (p->value_len < cap - 1) {
    size_t room = cap - 1 - p->value_len;
    size_t take = n < room ? n : room;
    memcpy(dst + p->value_len, s, take);
    dst[p->value_len + take] = '\0';
  }
  for (k = n; k > 0; k--) {
    unsigned c = s[k - 1];
    if (c != ' ' && c != '\t' && c != '\r') {
      p->vtrim = p->value_len + (uint32_t)k;
      break;
    }
  }
  p->value_len += (uint32_t)n;
}

/* One Content-Length value (possibly a list of equal values) is done. */
static int
cl_commit(struct sw_h1 *p)
{
  if (p->msg.content_length >= 0 && p->msg.content_length != p->num)
    return -1;
  p->msg.content_length = p->num;
  p->num = 0;
  return 0;
}

/* Reads one byte of a Content-Length value. */
static int
cl_byte(struct sw_h1 *p, unsigned c)
{
  if (c >= '0' && c <= '9') {
    if (p->sub == CL_POST)
      return -1;
    if (p->num > (INT64_MAX - 9) / 10)
      return -1;
    p->num = p->num * 10 + (int64_t)(c - '0');
    p->sub = CL_DIGITS;
    return 0;
  }
  if (c == ' ' || c == '\t' || c == '\r') {
    if (p->sub == CL_DIGITS)
      p->sub = CL_POST;
    return 0;
  }
  if (c == ',' || c == '\n') {
    /* Empty elements and empty values are errors. */
    if (p->sub == CL_PRE || cl_commit(p) < 0)
      return -1;
    p->sub = CL_PRE;
    if (c == '\n')
      header_end(p);
    return 0;
  }
  return -1;
}

/* A list token of Connection or Transfer-Encoding is complete. */
static void
tok_end(struct sw_h1 *p)
{
  uint32_t n = p->tok_len;
  const char *t = p->tok;

  p->tok_len = 0;
  p->flags &= (uint16_t)~F_TOK_PARAM;
  if (n == 0)
    return;
  if (p->hdr == H_TE) {
    p->flags |= F_TE;
    if (n == 7 && memcmp(t, "chunked", 7) == 0)
      p->flags |= F_TE_CHUNKED;
    else
      p->flags &= (uint16_t)~F_TE_CHUNKED;
  } else if (n == 5 && memcmp(t, "close", 5) == 0) {
    p->flags |= F_CLOSE;
  } else if (n == 10 && memcmp(t, "keep-alive", 10) == 0) {
    p->flags |= F_KA;
  }
}

/* Reads one byte of a comma-separated token list. Tokens are folded to
 * lower case; parameters after ';' and anything after a space inside an
 * element are ignored. */
static void
tok_byte(struct sw_h1 *p, unsigned c)
{
  if (c == ',' || c == '\n') {
    tok_end(p);
    if (c == '\n')
      header_end(p);
    return;
  }
  if (c == ' ' || c == '\t' || c == '\r' || c == ';') {
    if (p->tok_len > 0 || c == ';')
      p->flags |= F_TOK_PARAM;
    return;
  }
  if (p->flags & F_TOK_PARAM)
    return;
  if (p->tok_len < sizeof(p->tok))
    p->tok[p->tok_len] = name_map[c] ? (char)name_map[c] : (char)c;
  /* An overlong token keeps counting so that it matches nothing. */
  if (p->tok_len <= sizeof(p->tok))
    p->tok_len++;
}

/* Adds n bytes to the current line; -1 when it gets too long. */
static int
line_add(struct sw_h1 *p, size_t n)
{
  size_t total = (size_t)p->line_len + n;

  if (total > SW_H1_MAX_LINE)
    return -1;
  p->line_len = (uint32_t)total;
  return 0;
}

/* A chunk size line ended. */
static void
chunk_line_end(struct sw_h1 *p)
{
  p->line_len = 0;
  if (p->chunk_size == 0) {
    p->state = S_TRAILER_START;
    p->nheaders = 0;
  } else {
    p->remaining = (int64_t)p->chunk_size;
    p->state = S_CHUNK_DATA;
  }
}

/* Reads a byte after the hex digits of a chunk size line. */
static int
chunk_size_tail(struct sw_h1 *p, unsigned c)
{
  if (is_ows(c))
    p->state = S_CHUNK_BWS;
  else if (c == ';')
    p->state = S_CHUNK_EXT;
  else if (c == '\r')
    p->state = S_CHUNK_LF;
  else if (c == '\n')
    chunk_line_end(p);
  else
    return -1;
  return 0;
}

/* ------------------------------------------------------------ whole lines
 *
 * When a line is in the buffer up to its LF (the usual case: a head comes
 * in one read and goes out in one write), the start line, header lines
 * and chunk size lines are read in one go instead of byte by byte. These
 * functions take only lines that the byte machine would accept, and
 * leave the fields and the state as it would (but for scratch fields of
 * a line, such as value_len, which the byte machine sets before it reads
 * them); for anything else (a bad byte, an obs-fold, chunk extensions, a
 * line or header count over a limit) they take nothing and change
 * nothing, and the byte machine reads the line and fails where it fails.
 * Every scan and every 16-byte load stays inside the buffer. */

static uint32_t
load32(const void *s)
{
  uint32_t v;
  memcpy(&v, s, sizeof(v));
  return v;
}

static uint64_t
load64(const void *s)
{
  uint64_t v;
  memcpy(&v, s, sizeof(v));
  return v;
}

/* Setting bit 0x20 folds A-Z to a-z. Compared with a lower-case name all
 * of whose bytes have that bit (letters, digits, '-'), and applied to a
 * string of tchars only, it matches exactly what name_map folding does:
 * the other byte that folds onto '-' or a digit is a control byte. */
#define FOLD32 0x20202020u
#define FOLD64 0x2020202020202020ull

static int
fold_eq8(const unsigned char *s, const char *lower)
{
  return (load64(s) | FOLD64) == load64(lower);
}

/* "HTTP/1." and a minor version of 0 or 1 at s[0..8). */
static int
is_version(const unsigned char *s)
{
  return load32(s) == load32("HTTP") && load32(s + 3) == load32("P/1.") &&
         (s[7] == '0' || s[7] == '1');
}

/* Scans, 16 bytes at a time where SSE2 is there (always on x86-64), in
 * plain loops elsewhere and for the last bytes of a buffer. Both stop at
 * exactly the same byte. */

/* The first LF in [q, end), or NULL. The buffer starts at buf <= q: when
 * it holds 16 bytes, its last 16 can be loaded whole. */
static inline __attribute__((always_inline)) const unsigned char *
find_lf(const unsigned char *buf, const unsigned char *q,
        const unsigned char *end)
{
#ifdef __SSE2__
  const __m128i lf = _mm_set1_epi8('\n');
  unsigned hit;

  for (; end - q >= 16; q += 16) {
    __m128i x = _mm_loadu_si128((const __m128i *)(const void *)q);
    hit = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(x, lf));
    if (hit)
      return q + __builtin_ctz(hit);
  }
  if (q == end)
    return NULL;
  if (end - buf >= 16) {
    /* The last 16 bytes, of which those before q are not looked at. */
    __m128i x = _mm_loadu_si128((const __m128i *)(const void *)(end - 16));
    hit = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(x, lf));
    hit >>= 16 - (end - q);
    return hit ? q + __builtin_ctz(hit) : NULL;
  }
#else
  (void)buf;
#endif
  return memchr(q, '\n', (size_t)(end - q));
}

/* find_lf() for a header line longer than the 48 bytes that
 * header_lines() looks at in line: out of line, so that the usual lines'
 * code stays short. */
static SW_NOINLINE const unsigned char *
find_lf_call(const unsigned char *buf, const unsigned char *q,
             const unsigned char *end)
{
  return find_lf(buf, q, end);
}

#ifdef __SSE2__
/* Bit k set when byte k of x is not a letter, a digit or '-', which is
 * what header names are nearly always made of; bits 16 and up are all
 * set. Each range test moves its range to 0 up with one add and takes
 * its length off with an unsigned saturating subtract: 0 is in it. This
 * form keeps every constant a memory operand (no registers to reload). */
static inline __attribute__((always_inline)) unsigned long
not_name_bytes(__m128i x)
{
  __m128i y = _mm_or_si128(x, _mm_set1_epi8(0x20));
  __m128i alpha = _mm_subs_epu8(_mm_add_epi8(y, _mm_set1_epi8(-'a')),
                                _mm_set1_epi8('z' - 'a'));
  __m128i digit = _mm_subs_epu8(_mm_add_epi8(x, _mm_set1_epi8(-'0')),
                                _mm_set1_epi8('9' - '0'));
  __m128i dash = _mm_xor_si128(x, _mm_set1_epi8('-'));
  __m128i in = _mm_min_epu8(dash, _mm_min_epu8(alpha, digit));
  return ~(unsigned long)(unsigned)_mm_movemask_epi8(
      _mm_cmpeq_epi8(in, _mm_setzero_si128()));
}

/* Bit k set when byte k of x is not a letter or '-', which is what
 * header names are nearly always made of (names with other tchars take
 * a slower way); bits 16 and up are all set. */
static inline __attribute__((always_inline)) unsigned long
not_alpha_dash(__m128i x)
{
  __m128i y = _mm_or_si128(x, _mm_set1_epi8(0x20));
  __m128i alpha = _mm_subs_epu8(_mm_add_epi8(y, _mm_set1_epi8(-'a')),
                                _mm_set1_epi8('z' - 'a'));
  __m128i in = _mm_or_si128(_mm_cmpeq_epi8(alpha, _mm_setzero_si128()),
                            _mm_cmpeq_epi8(x, _mm_set1_epi8('-')));
  return ~(unsigned long)(unsigned)_mm_movemask_epi8(in);
}
#endif

/* The first byte in [q, end) that is not a tchar, or end. */
static const unsigned char *
skip_tchars(const unsigned char *q, const unsigned char *end)
{
#ifdef __SSE2__
  /* Letters, digits and '-' 16 at a time; the table does the rest. */
  while (end - q >= 16) {
    unsigned bad = (unsigned)not_name_bytes(
                       _mm_loadu_si128((const __m128i *)(const void *)q)) &
                   0xffffu;
    if (bad) {
      q += __builtin_ctz(bad);
      break;
    }
    q += 16;
  }
#endif
  while (q < end && name_map[*q])
    q++;
  return q;
}

/* The first byte in [q, end) of a request target's end: one <= ' ' or
 * DEL; or end. */
HOT_INLINE const unsigned char *
skip_target(const unsigned char *q, const unsigned char *end)
{
#ifdef __SSE2__
  /* Signed: bytes >= 0x80 are negative, and are target bytes. */
  while (end - q >= 16) {
    __m128i x = _mm_loadu_si128((const __m128i *)(const void *)q);
    __m128i ok = _mm_andnot_si128(
        _mm_cmpeq_epi8(x, _mm_set1_epi8(0x7f)),
        _mm_or_si128(_mm_cmpgt_epi8(x, _mm_set1_epi8(' ')),
                     _mm_cmplt_epi8(x, _mm_setzero_si128())));
    unsigned m = (unsigned)_mm_movemask_epi8(ok);
    if (m != 0xffff)
      return q + __builtin_ctz(~m);
    q += 16;
  }
#endif
  while (q < end && *q > ' ' && *q != 0x7f)
    q++;
  return q;
}

/* Copies n bytes to dst, which has room for 32 at least, in one or two
 * 16-byte moves when the source has the bytes (the ones past n are
 * garbage, after the terminator the caller puts at dst[n]). */
static inline __attribute__((always_inline)) void
copy_short(char *dst, const unsigned char *src, size_t n,
           const unsigned char *end)
{
#ifdef __SSE2__
  if (SW_LIKELY(n <= 16 && end - src >= 16)) {
    _mm_storeu_si128((__m128i *)(void *)dst,
                     _mm_loadu_si128((const __m128i *)(const void *)src));
    return;
  }
  if (SW_LIKELY(n <= 32 && end - src >= 32)) {
    __m128i a = _mm_loadu_si128((const __m128i *)(const void *)src);
    __m128i b = _mm_loadu_si128((const __m128i *)(const void *)(src + 16));
    _mm_storeu_si128((__m128i *)(void *)dst, a);
    _mm_storeu_si128((__m128i *)(void *)(dst + 16), b);
    return;
  }
#else
  (void)end;
#endif
  memcpy(dst, src, n);
}

/* Which captured header a name of n tchars is (like header_begin); the
 * name is followed by its colon. Folding is exact on tchars (see FOLD32),
 * and a colon folds onto itself. */
#define CAPTURED_LENGTHS ((1u << 3) | (1u << 4) | (1u << 10) | (1u << 14) | \
                          (1u << 17))
HOT_INLINE int
header_kind(const struct sw_h1 *p, const unsigned char *s, size_t n)
{
  uint32_t w = load32(s) | FOLD32;

  if (n == 4) {
    if (w == load32("host"))
      return (p->flags & F_HOST) ? H_NONE : H_HOST;
  } else if (n == 14) {
    if (w == load32("cont") && fold_eq8(s + 4, "ent-leng") &&
        (load32(s + 10) | FOLD32) == load32("ngth"))
      return H_CL;
  } else if (n == 10) {
    if (w == load32("conn") && fold_eq8(s + 2, "nnection"))
      return H_CONN;
  } else if (n == 3) {
    if (w == load32("sw8:"))
      return p->msg.sw8_present ? H_NONE : H_SW8;
  } else if (n == 17) {
    if (w == load32("tran") && fold_eq8(s + 4, "sfer-enc") &&
        fold_eq8(s + 9, "encoding"))
      return H_TE;
  }
  return H_NONE;
}

/* skip_spaces() past its first space. */
static SW_COLD const unsigned char *
skip_more_spaces(const unsigned char *q, const unsigned char *end)
{
  while (q < end && *q == ' ')
    q++;
  return q;
}

/* Spaces from q on; end when the buffer ends with them. Plain lines have
 * none where this is asked: the loop is out of line. */
HOT_INLINE const unsigned char *
skip_spaces(const unsigned char *q, const unsigned char *end)
{
  if (SW_UNLIKELY(q < end && *q == ' '))
    return skip_more_spaces(q + 1, end);
  return q;
}

/* A request line at S_METHOD, nothing of it read yet, in the buffer
 * [s, end). Returns the byte after its LF, or NULL when it is not all
 * there (or not a plain one). */
HOT_INLINE const unsigned char *
request_line(struct sw_h1 *p, const unsigned char *s,
             const unsigned char *end)
{
  struct sw_h1_msg *m = &p->msg;
  const unsigned char *q = s, *t, *e;
  size_t mlen, tlen, take;

  if (SW_LIKELY(end - s >= 4 && load32(s) == load32("GET "))) {
    q = s + 3;
  } else {
    /* One byte more than a method may have, to see it is too long. */
    const unsigned char *lim = end - s > SW_METHOD_MAX ? s + SW_METHOD_MAX
                                                       : end;
    while (q < lim && is_method_char(*q))
      q++;
  }
  mlen = (size_t)(q - s);
  if (SW_UNLIKELY(mlen == 0 || mlen > SW_METHOD_MAX - 1 || q == end ||
                  *q != ' '))
    return NULL;
  t = q = skip_spaces(q + 1, end);
  q = skip_target(q, end);
  tlen = (size_t)(q - t);
  if (SW_UNLIKELY(tlen == 0 || q == end || *q != ' '))
    return NULL;
  q = skip_spaces(q + 1, end);
  /* "HTTP/1.x" and LF or CRLF: the line's only LF. */
  if (SW_UNLIKELY(end - q < 9 || !is_version(q)))
    return NULL;
  if (SW_LIKELY(q[8] == '\r' && end - q >= 10 && q[9] == '\n'))
    e = q + 9;
  else if (q[8] == '\n')
    e = q + 8;
  else
    return NULL;
  if (SW_UNLIKELY(e - s > SW_H1_MAX_LINE))
    return NULL;

  /* A whole method array when the buffer has the bytes: one move. */
  if (SW_LIKELY(end - s >= (ptrdiff_t)sizeof(m->method)))
    memcpy(m->method, s, sizeof(m->method));
  else
    memcpy(m->method, s, mlen);
  m->method[mlen] = '\0';
  take = tlen < SW_H1_PATH_MAX - 1 ? tlen : SW_H1_PATH_MAX - 1;
  copy_short(m->target, t, take, end);
  m->target[take] = '\0';
  m->target_truncated = tlen > take;
  m->version_minor = q[7] - '0';
  p->value_len = (uint32_t)take;
  p->line_len = 0;
  p->state = S_HDR_START;
  return e + 1;
}

/* A status line at S_SVER, nothing of it read yet, in the buffer
 * [s, end). Returns like request_line(). */
HOT_INLINE const unsigned char *
status_line(struct sw_h1 *p, const unsigned char *s,
            const unsigned char *end)
{
  const unsigned char *q, *e;
  int status;

  /* "HTTP/1.1 200\n" is the shortest. */
  if (SW_UNLIKELY(end - s < 13 || !is_version(s) || s[8] != ' '))
    return NULL;
  q = s + 9;
  if (SW_UNLIKELY(*q == ' ')) {
    q = skip_spaces(q, end);
    if (end - q < 4)
      return NULL;
  }
  if (SW_UNLIKELY(q[0] < '0' || q[0] > '9' || q[1] < '0' || q[1] > '9' ||
                  q[2] < '0' || q[2] > '9'))
    return NULL;
  status = (q[0] - '0') * 100 + (q[1] - '0') * 10 + (q[2] - '0');
  if (SW_UNLIKELY(status < 100))
    return NULL;
  /* Then CRLF, LF, or a space and a reason phrase of any bytes. */
  if (SW_LIKELY(q[3] == ' '))
    e = find_lf(s, q + 4, end);
  else if (q[3] == '\n')
    e = q + 3;
  else if (q[3] == '\r' && end - q >= 5 && q[4] == '\n')
    e = q + 4;
  else
    return NULL;
  if (SW_UNLIKELY(!e || e - s > SW_H1_MAX_LINE))
    return NULL;
  p->msg.version_minor = s[7] - '0';
  p->msg.status = status;
  p->last_hdr = H_NONE;
  p->line_len = 0;
  p->state = S_HDR_START;
  return e + 1;
}

/* A Connection or Transfer-Encoding value [v, e) that is one common
 * token, as tok_byte() would read it; 0 for anything else. */
HOT_INLINE int
single_token(struct sw_h1 *p, int h, const unsigned char *v,
             const unsigned char *e)
{
  size_t n;

  if (e > v && e[-1] == '\r')
    e--;
  n = (size_t)(e - v);
  /* Only letters but for the '-', which must be itself: a CR there would
   * fold onto it but ends the token for tok_byte(). */
  if (h == H_CONN) {
    if (n == 10 && fold_eq8(v, "keep-ali") && v[4] == '-' &&
        (v[8] | 0x20) == 'v' && (v[9] | 0x20) == 'e') {
      p->flags |= F_KA;
      return 1;
    }
    if (n == 5 && (load32(v) | FOLD32) == load32("clos") &&
        (v[4] | 0x20) == 'e') {
      p->flags |= F_CLOSE;
      return 1;
    }
  } else if (n == 7 && (load32(v) | FOLD32) == load32("chun") &&
             (load32(v + 3) | FOLD32) == load32("nked")) {
    p->flags |= F_TE | F_TE_CHUNKED;
    return 1;
  }
  return 0;
}

/* A Content-Length value [v, e) of plain digits, as cl_byte() would read
 * it; 0 for anything else (or too large: cl_byte() fails on it). */
HOT_INLINE int
plain_length(struct sw_h1 *p, const unsigned char *v, const unsigned char *e)
{
  int64_t num = 0;

  if (e > v && e[-1] == '\r')
    e--;
  /* Up to 18 digits cannot overflow; longer values go to cl_byte(). */
  if (SW_UNLIKELY(v == e || e - v > 18))
    return 0;
  for (; v < e; v++) {
    unsigned d = (unsigned)*v - '0';
    if (SW_UNLIKELY(d > 9))
      return 0;
    num = num * 10 + (int64_t)d;
  }
  p->num = num;
  return 1;
}

/* A whole Host or sw8 value [v, e), e being its LF: what value_append()
 * and header_end() make of it. The buffer goes on to end. */
HOT_INLINE void
string_value(struct sw_h1 *p, int h, const unsigned char *v,
             const unsigned char *e, const unsigned char *end)
{
  struct sw_h1_msg *m = &p->msg;
  size_t t;
  char *dst;

  while (e > v && is_trailing_ws(e[-1]))
    e--;
  t = (size_t)(e - v);
  if (h == H_HOST) {
    p->flags |= F_HOST;
    if (SW_UNLIKELY(t > SW_H1_HOST_MAX - 1))
      t = SW_H1_HOST_MAX - 1;
    dst = m->host;
  } else {
    m->sw8_present = 1;
    if (SW_UNLIKELY(t > SW_H1_SW8_MAX - 1)) {
      m->sw8_too_long = 1;
      t = 0;
    }
    dst = m->sw8;
  }
  copy_short(dst, v, t, end);
  dst[t] = '\0';
  p->last_hdr = (uint8_t)h;
}

/* A Content-Length, Connection or Transfer-Encoding value [v, e] (its LF
 * included) that is not a plain one, as the byte machine reads it: the
 * LF ends the value, and the header. Returns like header_value(). */
static SW_COLD int
header_value_bytes(struct sw_h1 *p, int h, const unsigned char *v,
                   const unsigned char *e)
{
  value_begin(p, h);
  if (h == H_CL) {
    for (; v <= e; v++)
      if (cl_byte(p, *v) < 0)
        return -1;
  } else {
    for (; v <= e; v++)
      tok_byte(p, *v);
  }
  return 0;
}

/* The value of a captured header h, from just after the colon to the LF
 * at e; the buffer goes on to end. Returns 0, or -1 on an error (a bad
 * Content-Length value, found exactly as the byte machine finds it). */
HOT_INLINE int
header_value(struct sw_h1 *p, int h, const unsigned char *v,
             const unsigned char *e, const unsigned char *end)
{
  if (SW_LIKELY(*v == ' '))
    v++;
  if (SW_UNLIKELY(*v <= ' '))
    while (is_ows(*v))
      v++;
  switch (h) {
  case H_HOST:
  case H_SW8:
    string_value(p, h, v, e, end);
    return 0;
  case H_CL:
    if (SW_LIKELY(plain_length(p, v, e))) {
      if (SW_UNLIKELY(cl_commit(p) < 0))
        return -1;
      p->last_hdr = H_CL;
      return 0;
    }
    break;
  default:
    if (single_token(p, h, v, e)) {
      p->last_hdr = (uint8_t)h;
      return 0;
    }
    break;
  }
  /* Anything else as the byte machine reads it. */
  return header_value_bytes(p, h, v, e);
}

/* A header line at l, whole in the buffer [s, end): stores its name's
 * length in *n and returns its LF; NULL when it is not all there, not a
 * plain header line (CR, LF, obs-fold, a bad byte) or over the limit. */
HOT_INLINE const unsigned char *
header_line(const unsigned char *s, const unsigned char *l,
            const unsigned char *end, size_t *n)
{
  const unsigned char *q, *lf;

#ifdef __SSE2__
  /* A name of letters and '-' in the first 16 bytes (as in
   * header_lines()), the LF anywhere. */
  if (end - l >= 16) {
    __m128i x = _mm_loadu_si128((const __m128i *)(const void *)l);
    size_t k = (size_t)(unsigned)__builtin_ctzl(not_alpha_dash(x));
    if (k - 1 < 15 && l[k] == ':') {
      *n = k;
      lf = find_lf(s, l + k + 1, end);
      return lf && lf - l <= SW_H1_MAX_LINE ? lf : NULL;
    }
  }
#endif
  if (l == end || !name_map[*l])
    return NULL;
  q = skip_tchars(l + 1, end);
  if (q == end || *q != ':')
    return NULL;
  *n = (size_t)(q - l);
  lf = find_lf(s, q + 1, end);
  return lf && lf - l <= SW_H1_MAX_LINE ? lf : NULL;
}

/* Header lines at S_HDR_START, from s[i] on, for as long as they are
 * whole in the buffer s[0..len). Returns where it stopped: at the end of
 * the buffer, at a CR or LF (maybe the blank line), or at the start of a
 * line left to the byte machine; or (size_t)-1 on an error. */
HOT_INLINE size_t
header_lines(struct sw_h1 *p, const unsigned char *s, size_t i, size_t len)
{
  const unsigned char *end = s + len, *l = s + i;
#ifdef __SSE2__
  /* Lines starting before lim have 32 bytes in the buffer. */
  const unsigned char *lim = len >= 32 ? end - 31 : s;
#endif
  uint32_t nh = p->nheaders;

  while (nh < SW_H1_MAX_HEADERS) {
    const unsigned char *lf;
    size_t n;

#ifdef __SSE2__
    /* The usual line: a name of letters and '-', up to 16 of them, its
     * colon, and its LF in its first 32 or 48 bytes (an LF is not a name
     * byte: any is after the colon). */
    if (l < lim) {
      const __m128i nl = _mm_set1_epi8('\n');
      __m128i x = _mm_loadu_si128((const __m128i *)(const void *)l);
      __m128i x2 = _mm_loadu_si128((const __m128i *)(const void *)(l + 16));
      unsigned long lfs =
          (unsigned long)_mm_movemask_epi8(_mm_cmpeq_epi8(x, nl)) |
          (unsigned long)_mm_movemask_epi8(_mm_cmpeq_epi8(x2, nl)) << 16;
      /* At most 16, as bits 16 and up are set. */
      n = (size_t)(unsigned)__builtin_ctzl(not_alpha_dash(x));
      if (SW_LIKELY(l[n] == ':' && n != 0)) {
        if (SW_LIKELY(lfs)) {
          lf = l + (unsigned)__builtin_ctzl(lfs);
        } else if (end - l >= 48 &&
                   (lfs = (unsigned long)_mm_movemask_epi8(_mm_cmpeq_epi8(
                        _mm_loadu_si128(
                            (const __m128i *)(const void *)(l + 32)),
                        nl))) != 0) {
          /* Lines up to 48 bytes (dates) without a loop. */
          lf = l + 32 + (unsigned)__builtin_ctzl(lfs);
        } else {
          lf = find_lf_call(s, l + 32, end);
          if (!lf || lf - l > SW_H1_MAX_LINE)
            break;
        }
        goto line;
      }
    } else if (end - l >= 16) {
      /* The same for a line near the end of the buffer, usually the last
       * one of the head: its LF is in the buffer's last 16 bytes or not
       * there. With an LF found, l[n] is in the buffer: n is at most the
       * LF's offset, or 16. */
      const __m128i nl = _mm_set1_epi8('\n');
      const unsigned char *l2 = end - 16;
      __m128i x = _mm_loadu_si128((const __m128i *)(const void *)l);
      __m128i x2 = _mm_loadu_si128((const __m128i *)(const void *)l2);
      unsigned long lfs =
          (unsigned long)_mm_movemask_epi8(_mm_cmpeq_epi8(x, nl)) |
          (unsigned long)_mm_movemask_epi8(_mm_cmpeq_epi8(x2, nl))
              << (l2 - l);
      n = (size_t)(unsigned)__builtin_ctzl(not_alpha_dash(x));
      if (SW_LIKELY(lfs && l[n] == ':' && n != 0)) {
        lf = l + (unsigned)__builtin_ctzl(lfs);
        goto line;
      }
    }
#endif
    if (l == end || *l == '\r' || *l == '\n')
      break;
    lf = header_line(s, l, end, &n);
    if (!lf)
      break;
#ifdef __SSE2__
  line:
#endif
    nh++;
    /* Longer names may pass too (the shift takes n modulo 32): for them
     * header_kind() finds nothing. */
    if (CAPTURED_LENGTHS >> (n & 31) & 1) {
      int h = header_kind(p, l, n);
      if (h != H_NONE) {
        if (SW_UNLIKELY(header_value(p, h, l + n + 1, lf, end) < 0))
          return (size_t)-1;
        l = lf + 1;
        continue;
      }
    }
    p->last_hdr = H_NONE;
    l = lf + 1;
  }
  p->nheaders = nh;
  return (size_t)(l - s);
}

/* A chunk size line at S_CHUNK_SIZE, nothing of it read yet: hex digits
 * and CRLF or LF (extensions and whitespace go to the byte machine). */
static int
chunk_line(struct sw_h1 *p, const unsigned char *s, size_t n)
{
  const unsigned char *e = s + n, *q = s;
  uint64_t size = 0;
  int v;

  if (n > SW_H1_MAX_LINE)
    return 0;
  while ((v = hex_value(*q)) >= 0) {
    if (size >> 59)
      return 0;
    size = (size << 4) | (uint64_t)v;
    q++;
  }
  if (q == s || (q != e && (q + 1 != e || *q != '\r')))
    return 0;
  p->chunk_size = size;
  p->sub = 1;
  chunk_line_end(p);
  return 1;
}

void
sw_h1_init(struct sw_h1 *p, enum sw_h1_kind kind)
{
  /* Not the message buffers (2.7 KB, mostly sw8): msg_clear() makes
   * them "", and nothing reads past a string's terminator. */
  memset(p, 0, offsetof(struct sw_h1, msg));
  p->kind = (uint8_t)kind;
  p->state = S_IDLE;
  msg_clear(&p->msg);
}

static int feed_bytes(struct sw_h1 *p, const unsigned char *s, size_t i,
                      size_t len, size_t *consumed)
    __attribute__((noinline));

/* feed_head()'s ways out to the byte machine (a head not all in the
 * buffer, a line that is not a plain one, a 1xx) and to the error state:
 * cold, so that they and the blocks that lead to them are laid out away
 * from the lines a whole head runs through. */
static SW_COLD int
feed_head_rest(struct sw_h1 *p, const unsigned char *s, size_t i, size_t len,
               size_t *consumed)
{
  return feed_bytes(p, s, i, len, consumed);
}

static SW_COLD int
feed_head_error(struct sw_h1 *p, size_t len, size_t *consumed)
{
  p->state = S_ERROR;
  *consumed = len;
  return SW_H1_ERROR;
}

/* sw_h1_feed() at S_IDLE with len > 0: the usual case, a whole head in
 * the buffer, read in one go up to its event. Where it cannot go on (a
 * line not all there or not a plain one), the state is as the byte
 * machine would leave it at the start of that line, and feed_bytes()
 * takes the rest. */
static SW_NOINLINE int
feed_head(struct sw_h1 *p, const unsigned char *s, size_t len,
          size_t *consumed)
{
  const unsigned char *end = s + len, *l = s, *next;
  size_t i;
  int ev;

  /* Tolerate stray CRLFs between messages (RFC 9112 section 2.2). */
  while (*l <= '\r' && ((1u << *l) & (1u << '\r' | 1u << '\n'))) {
    if (++l == end) {
      *consumed = len;
      return SW_H1_NEED_MORE;
    }
  }
  head_begin(p);
  next = p->kind == SW_H1_REQUEST ? request_line(p, l, end)
                                  : status_line(p, l, end);
  if (!next || next == end)
    return feed_head_rest(p, s, (size_t)((next ? next : l) - s), len,
                          consumed);
  i = header_lines(p, s, (size_t)(next - s), len);
  if (i == (size_t)-1)
    return feed_head_error(p, len, consumed);
  if (len - i >= 2 && s[i] == '\r' && s[i + 1] == '\n')
    i += 2;
  else if (i < len && s[i] == '\n')
    i++;
  else
    return feed_head_rest(p, s, i, len, consumed);
  ev = head_end(p);
  if (ev == 0) /* an interim response: the final one follows */
    return feed_head_rest(p, s, i, len, consumed);
  if (ev < 0)
    return feed_head_error(p, len, consumed);
  *consumed = i;
  return ev;
}

int
sw_h1_feed(struct sw_h1 *p, const char *buf, size_t len, size_t *consumed)
{
  const unsigned char *s = (const unsigned char *)buf;

  if (p->state == S_IDLE && len > 0)
    return feed_head(p, s, len, consumed);
  return feed_bytes(p, s, 0, len, consumed);
}

/* The rest of sw_h1_feed(), from s[i] on. */
static int
feed_bytes(struct sw_h1 *p, const unsigned char *s, size_t i, size_t len,
           size_t *consumed)
{
  struct sw_h1_msg *m = &p->msg;
  int ev = 0;

  if (p->state == S_ERROR)
    goto err;

  while (i < len) {
    unsigned c;

    /* Bulk states: each consumes a run of bytes, or changes state. */
    switch (p->state) {
    case S_BODY_CL:
    case S_CHUNK_DATA: {
      /* remaining > 0 holds in both states. */
      uint64_t n = len - i;
      if ((uint64_t)p->remaining < n)
        n = (uint64_t)p->remaining;
      i += (size_t)n;
      p->remaining -= (int64_t)n;
      if (p->remaining == 0) {
        if (p->state == S_BODY_CL) {
          ev = msg_done(p);
          goto out;
        }
        p->state = S_CHUNK_END;
      }
      continue;
    }

    case S_BODY_CLOSE:
      i = len;
      continue;


    case S_TARGET_SP:
    case S_RVER_SP:
    case S_STATUS_SP:
    case S_HDR_OWS: {
      size_t j = i;
      while (j < len && (s[j] == ' ' || (s[j] == '\t' &&
                                         p->state == S_HDR_OWS)))
        j++;
      if (line_add(p, j - i) < 0)
        goto err;
      i = j;
      if (i == len)
        continue;
      switch (p->state) {
      case S_TARGET_SP:
        p->state = S_TARGET;
        p->value_len = 0;
        break;
      case S_RVER_SP:
        p->state = S_RVER;
        p->sub = 0;
        break;
      case S_STATUS_SP:
        p->state = S_STATUS;
        p->sub = 0;
        break;
      default:
        p->state = p->hdr == H_CL ? S_VAL_CL
                   : p->hdr == H_HOST || p->hdr == H_SW8 ? S_VAL_STR
                                                          : S_VAL_TOK;
        break;
      }
      continue;
    }

    case S_TARGET: {
      /* Any visible byte, including UTF-8 sent raw by careless clients. */
      size_t j = i, n;
      while (j < len && s[j] > ' ' && s[j] != 0x7f)
        j++;
      n = j - i;
      if (line_add(p, n) < 0)
        goto err;
      if (p->value_len < SW_H1_PATH_MAX - 1) {
        size_t room = SW_H1_PATH_MAX - 1 - p->value_len;
        if (n > room) {
          memcpy(m->target + p->value_len, s + i, room);
          p->value_len += (uint32_t)room;
          m->target_truncated = 1;
        } else {
          memcpy(m->target + p->value_len, s + i, n);
          p->value_len += (uint32_t)n;
        }
      } else if (n > 0) {
        m->target_truncated = 1;
      }
      m->target[p->value_len] = '\0';
      i = j;
      if (i == len)
        continue;
      /* A control byte, or CR/LF: an HTTP/0.9 request is an error too. */
      if (s[i] != ' ' || p->value_len == 0)
        goto err;
      i++;
      p->line_len++;
      p->state = S_RVER_SP;
      continue;
    }

    case S_HDR_START:
    headers:
      /* Header lines that are whole in the buffer, then the blank line;
       * the byte machine takes any other line. */
      i = header_lines(p, s, i, len);
      if (i == (size_t)-1)
        goto err;
      if (i == len)
        continue;
      if (s[i] != '\n' && (s[i] != '\r' || len - i < 2 || s[i + 1] != '\n'))
        break;
      i += s[i] == '\n' ? 1 : 2;
      ev = head_end(p);
      if (ev < 0)
        goto err;
      if (ev != 0)
        goto out;
      continue;

    case S_IDLE:
      /* Tolerate stray CRLFs between messages (RFC 9112 section 2.2). */
      while (i < len && (s[i] == '\r' || s[i] == '\n'))
        i++;
      if (i == len)
        continue;
      head_begin(p);
      /* fall through */
    case S_METHOD:
    case S_SVER:
    case S_CHUNK_SIZE: {
      /* At the start of a line that is whole in the buffer, read it at
       * once; otherwise (or when the line is not a plain one, see the
       * whole-line functions) go byte by byte. */
      const unsigned char *next;
      if (p->line_len != 0)
        break;
      if (p->state == S_CHUNK_SIZE) {
        const unsigned char *lf = find_lf(s, s + i, s + len);
        if (!lf || !chunk_line(p, s + i, (size_t)(lf - (s + i))))
          break;
        i = (size_t)(lf - s) + 1;
        continue;
      }
      if (p->state == S_METHOD)
        next = request_line(p, s + i, s + len);
      else
        next = status_line(p, s + i, s + len);
      if (!next)
        break;
      i = (size_t)(next - s);
      if (i < len)
        goto headers;
      continue;
    }

    case S_CHUNK_END:
      /* The CRLF (or LF) after chunk data, when it is all here. */
      if (s[i] == '\n' || (s[i] == '\r' && len - i > 1 && s[i + 1] == '\n')) {
        i += s[i] == '\n' ? 1 : 2;
        chunk_begin(p);
        continue;
      }
      break;

    case S_HDR_NAME: {
      size_t j = i;
      unsigned ch;
      while (j < len && (ch = name_map[s[j]]) != 0) {
        if (p->name_len < sizeof(p->name))
          p->name[p->name_len] = (char)ch;
        p->name_len++;
        j++;
      }
      if (line_add(p, j - i) < 0)
        goto err;
      i = j;
      if (i == len)
        continue;
      /* No whitespace before the colon (RFC 9112 section 5.1). */
      if (s[i] != ':')
        goto err;
      i++;
      p->line_len++;
      header_begin(p);
      continue;
    }

    case S_VAL_STR:
    case S_REASON:
    case S_HDR_SKIP:
    case S_CHUNK_EXT:
    case S_TRAILER_SKIP: {
      const unsigned char *lf = memchr(s + i, '\n', len - i);
      size_t n = lf ? (size_t)(lf - (s + i)) : len - i;
      if (line_add(p, n) < 0)
        goto err;
      if (p->state == S_VAL_STR)
        value_append(p, s + i, n);
      i += n;
      if (!lf)
        continue;
      i++;
      p->line_len = 0;
      switch (p->state) {
      case S_VAL_STR:
        header_end(p);
        break;
      case S_CHUNK_EXT:
        chunk_line_end(p);
        break;
      case S_TRAILER_SKIP:
        p->state = S_TRAILER_START;
        break;
      default:
        /* End of a reason phrase, an ignored header or an obs-fold. */
        p->last_hdr = H_NONE;
        p->state = S_HDR_START;
        break;
      }
      continue;
    }

    default:
      break;
    }

    /* Byte states. LF never counts towards the line length. */
    c = s[i++];
    if (c != '\n' && ++p->line_len > SW_H1_MAX_LINE)
      goto err;

    switch (p->state) {
    case S_METHOD:
      if (is_method_char(c)) {
        if (p->value_len >= SW_METHOD_MAX - 1)
          goto err;
        m->method[p->value_len++] = (char)c;
        m->method[p->value_len] = '\0';
      } else if (c == ' ' && p->value_len > 0) {
        m->method[p->value_len] = '\0';
        p->state = S_TARGET_SP;
      } else {
        goto err;
      }
      break;

    case S_RVER:
    case S_SVER:
      if (p->sub < sizeof(version_prefix) - 1) {
        if (c != (unsigned char)version_prefix[p->sub])
          goto err;
        p->sub++;
      } else if (c == '0' || c == '1') {
        m->version_minor = (int)(c - '0');
        p->state = p->state == S_RVER ? S_RVER_END : S_SVER_SP;
      } else {
        goto err;
      }
      break;

    case S_RVER_END:
    case S_STATUS_END:
      if (c == '\r')
        p->state = S_LINE_LF;
      else if (c == '\n')
        goto start_line_end;
      else if (c == ' ' && p->state == S_STATUS_END)
        p->state = S_REASON;
      else
        goto err;
      break;

    case S_LINE_LF:
      if (c != '\n')
        goto err;
    start_line_end:
      p->line_len = 0;
      p->state = S_HDR_START;
      break;

    case S_SVER_SP:
      if (c != ' ')
        goto err;
      p->state = S_STATUS_SP;
      break;

    case S_STATUS:
      if (c < '0' || c > '9')
        goto err;
      m->status = m->status * 10 + (int)(c - '0');
      if (++p->sub == 3) {
        if (m->status < 100)
          goto err;
        p->state = S_STATUS_END;
      }
      break;

    case S_HDR_START:
      if (c == '\r') {
        p->state = S_HEAD_LF;
      } else if (c == '\n') {
        goto head_complete;
      } else if (is_ows(c)) {
        /* obs-fold (RFC 9112 section 5.2): harmless after a header we
         * ignore, an error after one we read or before any header. */
        if (p->nheaders == 0 || p->last_hdr != H_NONE)
          goto err;
        p->state = S_HDR_SKIP;
      } else if (name_map[c]) {
        if (++p->nheaders > SW_H1_MAX_HEADERS)
          goto err;
        p->name[0] = (char)name_map[c];
        p->name_len = 1;
        p->state = S_HDR_NAME;
      } else {
        goto err;
      }
      break;

    case S_HEAD_LF:
      if (c != '\n')
        goto err;
    head_complete:
      ev = head_end(p);
      if (ev < 0)
        goto err;
      if (ev != 0)
        goto out;
      break;

    case S_VAL_CL:
      if (cl_byte(p, c) < 0)
        goto err;
      break;

    case S_VAL_TOK:
      tok_byte(p, c);
      break;

    case S_CHUNK_SIZE: {
      int v = hex_value(c);
      if (v >= 0) {
        /* Keep the size below 2^63 so it fits remaining. */
        if (p->chunk_size >> 59)
          goto err;
        p->chunk_size = (p->chunk_size << 4) | (uint64_t)v;
        p->sub = 1;
      } else if (p->sub == 0 || chunk_size_tail(p, c) < 0) {
        goto err;
      }
      break;
    }

    case S_CHUNK_BWS:
      if (chunk_size_tail(p, c) < 0)
        goto err;
      break;

    case S_CHUNK_LF:
      if (c != '\n')
        goto err;
      chunk_line_end(p);
      break;

    case S_CHUNK_END:
      if (c == '\r') {
        p->state = S_CHUNK_END_LF;
        break;
      }
      if (c != '\n')
        goto err;
      chunk_begin(p);
      break;

    case S_CHUNK_END_LF:
      if (c != '\n')
        goto err;
      chunk_begin(p);
      break;

    case S_TRAILER_START:
      if (c == '\r') {
        p->state = S_TRAILER_LF;
      } else if (c == '\n') {
        ev = msg_done(p);
        goto out;
      } else {
        if (++p->nheaders > SW_H1_MAX_HEADERS)
          goto err;
        p->state = S_TRAILER_SKIP;
      }
      break;

    case S_TRAILER_LF:
      if (c != '\n')
        goto err;
      ev = msg_done(p);
      goto out;

    default:
      /* Unreachable: every state is handled above. */
      goto err;
    }
  }

out:
  *consumed = i;
  return ev;

err:
  p->state = S_ERROR;
  *consumed = len;
  return SW_H1_ERROR;
}

int
sw_h1_skip(struct sw_h1 *p, uint64_t n)
{
  if (p->state == S_ERROR)
    return SW_H1_ERROR;
  if (n == 0)
    return SW_H1_NEED_MORE;
  switch (p->state) {
  case S_BODY_CLOSE:
    return SW_H1_NEED_MORE;
  case S_BODY_CL:
  case S_CHUNK_DATA:
    /* More than the body (or chunk) holds means bytes we never saw went
     * past a boundary we cannot find any more. */
    if (n > (uint64_t)p->remaining)
      break;
    p->remaining -= (int64_t)n;
    if (p->remaining > 0)
      return SW_H1_NEED_MORE;
    if (p->state == S_BODY_CL)
      return msg_done(p);
    p->state = S_CHUNK_END;
    return SW_H1_NEED_MORE;
  default:
    break;
  }
  p->state = S_ERROR;
  return SW_H1_ERROR;
}

void
sw_h1_expect_no_body(struct sw_h1 *p)
{
  p->no_body = 1;
}

int
sw_h1_eof(struct sw_h1 *p)
{
  if (p->state == S_BODY_CLOSE)
    return msg_done(p);
  return SW_H1_NEED_MORE;
}

int
sw_h1_in_message(const struct sw_h1 *p)
{
  return p->state != S_IDLE && p->state != S_ERROR;
}
