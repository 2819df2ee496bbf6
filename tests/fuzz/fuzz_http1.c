/* fuzz_http1.c: libFuzzer target for the incremental HTTP/1.x parser.
 *
 * Input layout: byte 0 holds option bits, bytes 1-2 seed the piece sizes,
 * the rest is the byte stream. The stream is parsed three times: whole,
 * in pseudo-random pieces, and one byte at a time (each piece copied into
 * its own exact-size heap block so that AddressSanitizer catches a read
 * past any piece, wide loads included). Fed whole, the parser reads every
 * line that is all in the buffer at once; fed byte by byte, it never can
 * and goes through its byte machine: the runs must report the same
 * events at the same offsets with the same fields, and end in the same
 * state with the same fields. A fourth run mixes in sw_h1_skip() calls
 * and only has to survive.
 *
 * Build: clang -fsanitize=fuzzer,address,undefined -Ipreload \
 *          tests/fuzz/fuzz_http1.c preload/http1.c
 * Seeds: tests/fuzz/corpus/http1/ */
#include "sw_common.h"

#include <stdlib.h>

#include "http1.h"

#define OPT_RESPONSE 0x01 /* parse as responses, else requests */
#define OPT_NO_BODY 0x02  /* sw_h1_expect_no_body() before the first one */
#define OPT_EOF 0x04      /* sw_h1_eof() at the end */
#define OPT_HEADS 0x08    /* sw_h1_expect_no_body() after every DONE */

#define MAX_EVENTS 512

struct event {
  int flags;
  size_t off;
  uint64_t fields; /* hash of the message fields at the event */
};

struct run {
  struct sw_h1 p;
  int nev;
  struct event ev[MAX_EVENTS];
  int error;
  int in_message;
  uint64_t end_fields; /* hash of the fields after the last byte */
};

static uint64_t
hash_bytes(uint64_t h, const void *data, size_t n)
{
  const unsigned char *s = data;
  for (size_t i = 0; i < n; i++)
    h = (h ^ s[i]) * 0x100000001b3ull;
  return h;
}

static void
check_str(const char *s, size_t cap)
{
  /* Every string field is terminated inside its array. */
  if (memchr(s, '\0', cap) == NULL)
    abort();
}

static uint64_t
msg_hash(const struct sw_h1_msg *m)
{
  uint64_t h = 0xcbf29ce484222325ull;
  int ints[8] = {m->target_truncated, m->status, m->version_minor,
                 m->sw8_present, m->sw8_too_long, m->chunked,
                 m->keep_alive, 0};

  check_str(m->method, sizeof(m->method));
  check_str(m->target, sizeof(m->target));
  check_str(m->host, sizeof(m->host));
  check_str(m->sw8, sizeof(m->sw8));
  if (m->version_minor != 0 && m->version_minor != 1)
    abort();
  if (m->content_length < -1)
    abort();
  h = hash_bytes(h, m->method, strlen(m->method));
  h = hash_bytes(h, m->target, strlen(m->target));
  h = hash_bytes(h, m->host, strlen(m->host));
  h = hash_bytes(h, m->sw8, strlen(m->sw8));
  h = hash_bytes(h, ints, sizeof(ints));
  h = hash_bytes(h, &m->content_length, sizeof(m->content_length));
  return h;
}

static void
on_event(struct run *r, int rc, size_t off, int opts)
{
  if (rc & SW_H1_HEAD) {
    const struct sw_h1_msg *m = &r->p.msg;
    if ((opts & OPT_RESPONSE) &&
        (m->status > 999 || (m->status < 200 && m->status != 101)))
      abort();
    if (!(opts & OPT_RESPONSE) && m->method[0] == '\0')
      abort();
  }
  if ((rc & SW_H1_DONE) && sw_h1_in_message(&r->p))
    abort();
  if (r->nev < MAX_EVENTS) {
    r->ev[r->nev].flags = rc;
    r->ev[r->nev].off = off;
    r->ev[r->nev].fields = msg_hash(&r->p.msg);
  }
  r->nev++;
  if ((rc & SW_H1_DONE) && (opts & OPT_HEADS))
    sw_h1_expect_no_body(&r->p);
}

/* Feeds one piece until it is consumed; base is its offset in the input. */
static void
feed(struct run *r, const char *buf, size_t n, size_t base, int opts)
{
  size_t off = 0;

  if (n == 0) {
    size_t used = 1;
    int rc = sw_h1_feed(&r->p, buf, 0, &used);
    if (used != 0 || rc > 0)
      abort();
    return;
  }
  while (off < n && !r->error) {
    size_t used = (size_t)-1;
    int rc = sw_h1_feed(&r->p, buf + off, n - off, &used);
    if (used > n - off)
      abort();
    if (rc == SW_H1_ERROR) {
      if (used != n - off || sw_h1_in_message(&r->p))
        abort();
      r->error = 1;
      return;
    }
    if (rc == SW_H1_NEED_MORE && used != n - off)
      abort();
    if (rc > 0) {
      if (used == 0)
        abort();
      on_event(r, rc, base + off + used, opts);
    }
    off += used;
  }
}

static void
finish(struct run *r, size_t len, int opts)
{
  if (!r->error && (opts & OPT_EOF)) {
    int rc = sw_h1_eof(&r->p);
    if (rc == SW_H1_DONE)
      on_event(r, rc, len, opts);
    else if (rc != SW_H1_NEED_MORE)
      abort();
  }
  r->in_message = sw_h1_in_message(&r->p);
  r->end_fields = msg_hash(&r->p.msg);
}

static void
start(struct run *r, int opts)
{
  memset(r, 0, sizeof(*r));
  /* sw_h1_init() must not depend on what the memory held before. */
  memset(&r->p, 0xa5, sizeof(r->p));
  sw_h1_init(&r->p, (opts & OPT_RESPONSE) ? SW_H1_RESPONSE : SW_H1_REQUEST);
  if (opts & OPT_NO_BODY)
    sw_h1_expect_no_body(&r->p);
}

static uint32_t
next_rand(uint32_t *seed)
{
  *seed = *seed * 1103515245u + 12345u;
  return *seed >> 16;
}

/* Two runs over the same input agree on everything. */
static void
same(const struct run *a, const struct run *b)
{
  if (a->nev != b->nev || a->error != b->error ||
      a->in_message != b->in_message)
    abort();
  for (int i = 0; i < a->nev && i < MAX_EVENTS; i++) {
    if (a->ev[i].flags != b->ev[i].flags || a->ev[i].off != b->ev[i].off ||
        a->ev[i].fields != b->ev[i].fields)
      abort();
  }
  /* After an error, how far the failing line got into the fields may
   * depend on where the pieces were cut. */
  if (!a->error && a->end_fields != b->end_fields)
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  static struct run whole, pieces, bytes, skips;
  const char *in;
  size_t len, at;
  uint32_t seed;
  int opts;

  if (size < 3)
    return 0;
  opts = data[0];
  seed = (uint32_t)data[1] | (uint32_t)data[2] << 8 | 1u << 16;
  in = (const char *)data + 3;
  len = size - 3;

  start(&whole, opts);
  feed(&whole, in, len, 0, opts);
  finish(&whole, len, opts);

  /* Piece sizes 0..max, where a small max stresses state boundaries. */
  start(&pieces, opts);
  {
    uint32_t max = 1 + (data[1] & 0x3f);
    for (at = 0; at <= len;) {
      size_t n = next_rand(&seed) % (max + 1);
      char *copy;
      if (n > len - at)
        n = len - at;
      copy = malloc(n ? n : 1);
      if (copy == NULL)
        abort();
      memcpy(copy, in + at, n);
      feed(&pieces, copy, n, at, opts);
      free(copy);
      at += n;
      if (at == len && n == 0)
        break;
    }
  }
  finish(&pieces, len, opts);
  same(&whole, &pieces);

  /* One byte at a time: no line is ever whole in the buffer. */
  start(&bytes, opts);
  for (at = 0; at < len && !bytes.error; at++) {
    char *copy = malloc(1);
    if (copy == NULL)
      abort();
    copy[0] = in[at];
    feed(&bytes, copy, 1, at, opts);
    free(copy);
  }
  finish(&bytes, len, opts);
  same(&whole, &bytes);

  /* Skips drop bytes the parser never sees, as sendfile() does; any
   * outcome but a crash or a broken invariant is fine. */
  start(&skips, opts);
  for (at = 0; at < len;) {
    size_t n = 1 + next_rand(&seed) % 32;
    if (n > len - at)
      n = len - at;
    if (next_rand(&seed) % 4 == 0) {
      int rc = sw_h1_skip(&skips.p, n);
      if (rc == SW_H1_ERROR)
        skips.error = 1;
      else if (rc != SW_H1_NEED_MORE && rc != SW_H1_DONE)
        abort();
    } else {
      feed(&skips, in + at, n, at, opts);
    }
    at += n;
    if (skips.error) {
      size_t used = 0;
      if (sw_h1_feed(&skips.p, in, len, &used) != SW_H1_ERROR || used != len)
        abort();
      break;
    }
  }
  finish(&skips, len, opts);
  return 0;
}
