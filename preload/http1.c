/* http1.c: incremental HTTP/1.0 and HTTP/1.1 message parser.
 *
 * A byte-level state machine over one direction of a connection. It runs
 * inside interposed read()/write() calls, so it is async-signal-safe: no
 * allocation, no locks, no globals except const tables, and no libc calls
 * beyond memchr/memcpy/memset. Lines are never buffered; the few fields
 * callers need are copied into the fixed-size buffers of struct sw_h1_msg
 * as the bytes go by.
 *
 * Cost: body bytes (Content-Length and chunk data) are skipped with plain
 * arithmetic, one step per feed call whatever their number. Header lines
 * nobody needs, reason phrases, chunk extensions and trailers are skipped
 * with memchr. Only the start line, header names and the values of the
 * few captured headers are looked at byte by byte.
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

/* Parser states. The first group is handled by the bulk loops at the top
 * of sw_h1_feed(), which consume any number of bytes (or none, on a state
 * change); the rest take exactly one byte per step. */
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

static void
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
static void
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

/* The blank line ending a head was read. Decides how the body is framed
 * (RFC 9112 section 6.3) and returns the event flags, 0 when a 1xx head
 * was skipped, or SW_H1_ERROR. */
static int
head_end(struct sw_h1 *p)
{
  struct sw_h1_msg *m = &p->msg;
  int status = m->status;

  p->line_len = 0;
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
  p->hdr = (uint8_t)h;
  p->value_len = 0;
  p->vtrim = 0;
  p->num = 0;
  p->tok_len = 0;
  p->flags &= (uint16_t)~F_TOK_PARAM;
  p->sub = CL_PRE;
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

void
sw_h1_init(struct sw_h1 *p, enum sw_h1_kind kind)
{
  memset(p, 0, sizeof(*p));
  p->kind = (uint8_t)kind;
  p->state = S_IDLE;
  msg_clear(&p->msg);
}

int
sw_h1_feed(struct sw_h1 *p, const char *buf, size_t len, size_t *consumed)
{
  const unsigned char *s = (const unsigned char *)buf;
  struct sw_h1_msg *m = &p->msg;
  size_t i = 0;
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

    case S_IDLE:
      /* Tolerate stray CRLFs between messages (RFC 9112 section 2.2). */
      while (i < len && (s[i] == '\r' || s[i] == '\n'))
        i++;
      if (i < len)
        head_begin(p);
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
