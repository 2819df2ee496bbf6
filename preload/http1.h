/* http1.h: incremental HTTP/1.0 and HTTP/1.1 message parser.
 *
 * Pure: no hooks, no globals, no allocation, async-signal-safe. Fed the
 * bytes of one direction of a connection in pieces of any size (curl's
 * "feed / need more" shape). It never buffers lines: it is a byte-level
 * state machine that copies the few fields it needs into fixed-size
 * buffers, truncating rather than growing. Keep-alive: after a message is
 * done the parser starts on the next one by itself. Informational 1xx
 * responses are skipped as part of the head of the final response.
 *
 * Usage (every event consumes at least one byte; NEED_MORE takes all):
 *   while (len > 0) {
 *     rc = sw_h1_feed(p, buf, len, &used);
 *     if (rc < 0) break;
 *     handle(rc); buf += used; len -= used;
 *   }
 */
#ifndef SW_PRELOAD_HTTP1_H
#define SW_PRELOAD_HTTP1_H

#include <stddef.h>
#include <stdint.h>

#include "sw_span.h"

#define SW_H1_PATH_MAX 512   /* request target incl. query, truncated */
#define SW_H1_HOST_MAX 128
#define SW_H1_SW8_MAX 2048   /* longer sw8 values are marked too long */
#define SW_H1_MAX_LINE 16384 /* a longer start or header line is an error */
#define SW_H1_MAX_HEADERS 256

enum sw_h1_kind { SW_H1_REQUEST = 0, SW_H1_RESPONSE = 1 };

/* Return flags of sw_h1_feed(). */
#define SW_H1_NEED_MORE 0
#define SW_H1_HEAD 1 /* the head of a message completed in this call */
#define SW_H1_DONE 2 /* the message (head + body) completed in this call */
#define SW_H1_ERROR (-1) /* not HTTP/1.x, or a limit was exceeded: the
                            parser stays in the error state */

/* Fields of the current message. Valid from SW_H1_HEAD until the next
 * call to sw_h1_feed() after SW_H1_DONE (the next message clears them). */
struct sw_h1_msg {
  char method[SW_METHOD_MAX]; /* requests; upper-case as sent */
  char target[SW_H1_PATH_MAX];/* requests: path + query as sent */
  int target_truncated;
  int status;                 /* responses: final status code */
  int version_minor;          /* 0 or 1 */
  char host[SW_H1_HOST_MAX];  /* Host header, "" if absent */
  char sw8[SW_H1_SW8_MAX];    /* sw8 header value, "" if absent */
  int sw8_present;            /* 1 when a sw8 header was seen */
  int sw8_too_long;           /* 1 when its value did not fit */
  int64_t content_length;     /* -1 when absent */
  int chunked;                /* Transfer-Encoding ends in chunked */
  int keep_alive;             /* per version + Connection header */
};

struct sw_h1 {
  /* Private state; callers read only msg. */
  uint8_t kind;
  uint8_t state;
  uint8_t sub;
  uint8_t no_body;      /* set by sw_h1_expect_no_body() */
  uint32_t line_len;
  uint32_t nheaders;
  uint32_t name_len;
  char name[32];        /* current header name, lower-cased, truncated */
  uint32_t value_len;
  int64_t remaining;    /* body bytes left (content-length or chunk) */
  uint64_t chunk_size;
  /* Private state added by http1.c; see the comments there. */
  uint8_t hdr;          /* which captured header the current line is */
  uint8_t last_hdr;     /* the previous header line's, for obs-fold */
  uint16_t flags;       /* Connection and Transfer-Encoding findings */
  uint32_t vtrim;       /* value length without trailing whitespace */
  int64_t num;          /* Content-Length digits read so far */
  uint32_t tok_len;     /* list token being read (Connection, T-E) */
  char tok[16];
  struct sw_h1_msg msg;
};

void sw_h1_init(struct sw_h1 *p, enum sw_h1_kind kind);

/* Feeds len bytes. Stops right after the first event (head complete or
 * message complete) so the caller can act on it, and stores in *consumed
 * how many bytes it took. Returns SW_H1_NEED_MORE (all bytes consumed,
 * message not complete), a combination of SW_H1_HEAD and SW_H1_DONE, or
 * SW_H1_ERROR. A head with no body returns SW_H1_HEAD | SW_H1_DONE.
 * len may be 0. On SW_H1_ERROR, *consumed is len: the bytes are all
 * taken, and every later call returns SW_H1_ERROR and takes all too. */
int sw_h1_feed(struct sw_h1 *p, const char *buf, size_t len,
               size_t *consumed);

/* Body bytes that the caller knows were sent without seeing them
 * (sendfile). Valid only while in a Content-Length or close-delimited
 * body; anything else puts the parser in the error state. Returns like
 * sw_h1_feed() (SW_H1_DONE when n reaches the end of the body). */
int sw_h1_skip(struct sw_h1 *p, uint64_t n);

/* The next response has no body (it answers a HEAD request). */
void sw_h1_expect_no_body(struct sw_h1 *p);

/* The connection closed (or the reader saw EOF). Returns SW_H1_DONE when
 * this completes a close-delimited body, else SW_H1_NEED_MORE. */
int sw_h1_eof(struct sw_h1 *p);

/* 1 between the first byte of a message and its completion. */
int sw_h1_in_message(const struct sw_h1 *p);

#endif
