/* test_inject.c: inserting the sw8 line into a request head, byte-exact.
 *
 * A simulated kernel accepts at most s bytes per call (for every s from 1
 * to the length of the output), optionally refusing every other call
 * (EAGAIN on a non-blocking socket). An application loops writing its
 * remaining bytes, given as 1, 2 or 3 iovec entries split at every pair
 * of offsets. Between the two sits the same logic the write hooks run
 * (hooks/hook_io.c send_injected() with conn.c's send_prepare/send_done):
 * a complete head in the request's first write starts an injection;
 * while the line is pending every write goes through compose/account;
 * when only bytes of the line went out the hook tries again, so a
 * blocking write blocks as the application's own would and a
 * non-blocking one ends in EAGAIN with none of its bytes taken.
 *
 * Checked on every run:
 *   (a) the kernel received head[0..head_len-2] + line +
 *       head[head_len-2..] + rest, exactly;
 *   (b) the counts the application saw sum to its length and none
 *       exceeds what it passed;
 *   (c) sw_inject_account() returns exactly the number of application
 *       bytes in the prefix the kernel took (found independently, by
 *       looking at which buffer each composed entry points into), so it
 *       says 0 only when the kernel took none of the application's bytes;
 *       and the hook never returns 0 for a non-empty write. */
#include "sw_common.h"

#include "inject.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/types.h>

#define LINE "sw8: 1-dHJhY2U=-c2Vn-0-c3Zj-aW5zdA==-L2E=-aG9zdDo4MA==\r\n"

static const char req_get[] = "GET /a HTTP/1.1\r\nHost: h\r\n\r\n";
static const char req_post[] = "POST /up HTTP/1.1\r\nHost: h\r\n"
                               "Content-Length: 11\r\n\r\nhello world";
/* The shortest head the injector accepts: the blank line alone. */
static const char req_blank[] = "\r\n\r\nxy";

/* ------------------------------------------------------------ simulation */

struct kernel {
  size_t cap;            /* at most this many bytes per call */
  unsigned eagain_every; /* every Nth call takes nothing (0: never) */
  unsigned calls;
  char buf[1 << 17]; /* every byte accepted, in order */
  size_t len;
};

/* writev() of the simulated kernel: -1 stands for EAGAIN. */
static ssize_t
kernel_writev(struct kernel *k, const struct iovec *v, int cnt)
{
  k->calls++;
  if (k->eagain_every && k->calls % k->eagain_every == 0)
    return -1;
  size_t took = 0;
  for (int i = 0; i < cnt && took < k->cap; i++) {
    size_t len = v[i].iov_len;
    if (len > k->cap - took)
      len = k->cap - took;
    cr_assert_leq(k->len + len, sizeof(k->buf));
    memcpy(k->buf + k->len, v[i].iov_base, len);
    k->len += len;
    took += len;
  }
  return (ssize_t)took;
}

/* The write-hook side of one connection, for one request. */
struct hook {
  struct sw_inject ij;
  int decided; /* the request's first write was seen */
  int on;      /* an injection is in progress */
  int injected;
  const char *line;
  size_t line_len;
};

static size_t
iov_total(const struct iovec *v, int cnt)
{
  size_t n = 0;
  for (int i = 0; i < cnt; i++)
    n += v[i].iov_len;
  return n;
}

/* How many of the first k bytes of out[] are not bytes of ij's line:
 * the entries are told apart by the buffer they point into. */
static size_t
app_bytes_in_prefix(const struct sw_inject *ij, const struct iovec *out,
                    int nout, size_t k)
{
  size_t app = 0;
  const char *lo = ij->line, *hi = ij->line + sizeof(ij->line);
  for (int i = 0; i < nout && k > 0; i++) {
    size_t len = out[i].iov_len < k ? out[i].iov_len : k;
    const char *p = out[i].iov_base;
    if (!(p >= lo && p < hi))
      app += len;
    k -= len;
  }
  return app;
}

/* One application write through the hook: the count the application sees,
 * or -1 (EAGAIN: none of its bytes were taken). */
static ssize_t
hook_write(struct hook *h, struct kernel *k, const struct iovec *iov, int cnt)
{
  size_t n = iov_total(iov, cnt);
  if (!h->decided) {
    /* Only a complete head in the request's first write is touched. */
    h->decided = 1;
    size_t head_len = sw_inject_head_len(iov, cnt, n);
    if (head_len > 0 &&
        sw_inject_start(&h->ij, head_len, h->line, h->line_len) == 0) {
      h->on = 1;
      h->injected = 1;
    }
  }
  for (;;) {
    if (!h->on)
      return kernel_writev(k, iov, cnt);
    struct iovec out[SW_INJECT_MAX_IOV + 2];
    size_t before = 0;
    int nout = sw_inject_compose(&h->ij, iov, cnt, n, out, &before);
    cr_assert_leq(nout, cnt + 2);
    cr_assert_leq(before, n);
    /* The composed output holds the application's n bytes, and the rest
     * of the line when its place falls within them, nothing else. */
    size_t rest = (size_t)(h->ij.len - h->ij.sent);
    cr_assert_geq(h->ij.at, h->ij.pos, "application bytes past the line");
    size_t to_line = h->ij.at - h->ij.pos;
    cr_assert_eq(iov_total(out, nout), n + (to_line <= n ? rest : 0),
                 "%zu to the line, %zu written", to_line, n);
    cr_assert_eq(app_bytes_in_prefix(&h->ij, out, nout, SIZE_MAX), n);
    ssize_t r = kernel_writev(k, out, nout);
    if (r < 0)
      return -1;
    size_t want = app_bytes_in_prefix(&h->ij, out, nout, (size_t)r);
    size_t app = sw_inject_account(&h->ij, before, (size_t)r);
    cr_assert_eq(app, want, "account says %zu app bytes of %zd, really %zu",
                 app, r, want);
    if (!sw_inject_pending(&h->ij))
      h->on = 0;
    if (app > 0 || n == 0)
      return (ssize_t)app;
    /* Only bytes of the line went out: the hook tries again. */
  }
}

/* How the application cuts its remaining bytes buf[off..end) into iovec
 * entries: at the absolute offsets in cuts[] that fall inside. */
static int
make_iov(struct iovec *v, const char *buf, size_t off, size_t end,
         const size_t *cuts, int ncuts)
{
  int cnt = 0;
  size_t at = off;
  for (int i = 0; i < ncuts; i++) {
    if (cuts[i] < at || cuts[i] > end)
      continue;
    v[cnt++] = (struct iovec){(void *)(buf + at), cuts[i] - at};
    at = cuts[i];
  }
  v[cnt++] = (struct iovec){(void *)(buf + at), end - at};
  return cnt;
}

struct app {
  const char *buf;
  size_t len;
  const size_t *cuts;
  int ncuts;
  size_t chunk; /* after the first write, at most this much (0: all) */
};

/* The application's loop: write what is left until all of it went,
 * retrying after EAGAIN (after a poll, in a real program). */
static void
app_send_all(struct hook *h, struct kernel *k, const struct app *a)
{
  size_t off = 0, eagains = 0;
  int first = 1;
  while (off < a->len) {
    size_t end = a->len;
    if (!first && a->chunk && end - off > a->chunk)
      end = off + a->chunk;
    struct iovec v[4];
    int cnt = make_iov(v, a->buf, off, end, a->cuts, a->ncuts);
    ssize_t r = hook_write(h, k, v, cnt);
    if (r < 0) {
      cr_assert_lt(++eagains, 100000, "no progress");
      continue;
    }
    first = 0;
    cr_assert_leq((size_t)r, end - off, "wrote %zd of %zu", r, end - off);
    cr_assert_gt(r, 0, "a non-empty write returned 0");
    off += (size_t)r;
  }
  cr_assert_eq(off, a->len);
}

static void
expect_output(const struct kernel *k, const char *buf, size_t len,
              size_t head_len, const char *line, size_t line_len,
              const char *what)
{
  char want[1 << 17];
  size_t at = head_len - 2;
  cr_assert_leq(len + line_len, sizeof(want));
  memcpy(want, buf, at);
  memcpy(want + at, line, line_len);
  memcpy(want + at + line_len, buf + at, len - at);
  cr_assert_eq(k->len, len + line_len, "%s: %zu bytes out, want %zu", what,
               k->len, len + line_len);
  cr_assert(memcmp(k->buf, want, k->len) == 0, "%s: bytes differ", what);
}

/* Runs one application send against one kernel and checks (a)-(c). */
static void
run_one(const struct app *a, size_t cap, unsigned eagain_every,
        const char *what)
{
  static struct kernel k;
  struct hook h = {.line = LINE, .line_len = strlen(LINE)};
  k.cap = cap;
  k.eagain_every = eagain_every;
  k.calls = 0;
  k.len = 0;
  struct iovec v = {(void *)a->buf, a->len};
  size_t head_len = sw_inject_head_len(&v, 1, a->len);
  cr_assert_gt(head_len, 0);
  app_send_all(&h, &k, a);
  cr_assert(h.injected);
  cr_assert_not(h.on, "%s: line still pending", what);
  expect_output(&k, a->buf, a->len, head_len, h.line, h.line_len, what);
}

/* Every kernel limit s from 1 to the whole output, for every way to cut
 * the application's bytes into up to three entries (cuts a <= b, both
 * anywhere from 0 to len: empty entries included). */
static void
run_all_splits(const char *buf, size_t len, unsigned eagain_every,
               size_t s_step)
{
  char what[96];
  size_t total = len + strlen(LINE);
  for (size_t s = 1; s <= total; s += s_step) {
    struct app a = {.buf = buf, .len = len};
    snprintf(what, sizeof(what), "s=%zu one entry", s);
    run_one(&a, s, eagain_every, what);
    for (size_t c1 = 0; c1 <= len; c1++) {
      size_t cuts[2] = {c1, 0};
      a.cuts = cuts;
      a.ncuts = 1;
      snprintf(what, sizeof(what), "s=%zu cut %zu", s, c1);
      run_one(&a, s, eagain_every, what);
      for (size_t c2 = c1; c2 <= len; c2++) {
        cuts[1] = c2;
        a.ncuts = 2;
        snprintf(what, sizeof(what), "s=%zu cuts %zu %zu", s, c1, c2);
        run_one(&a, s, eagain_every, what);
      }
    }
  }
}

Test(inject, head_only_every_limit_and_split)
{
  run_all_splits(req_get, strlen(req_get), 0, 1);
}

Test(inject, head_and_body_every_limit_and_split)
{
  run_all_splits(req_post, strlen(req_post), 0, 1);
}

Test(inject, blank_head_every_limit_and_split)
{
  run_all_splits(req_blank, strlen(req_blank), 0, 1);
}

Test(inject, nonblocking_eagain_every_other_call)
{
  run_all_splits(req_get, strlen(req_get), 2, 1);
  run_all_splits(req_post, strlen(req_post), 3, 2);
}

/* The limit lands on every byte of the line: the line goes out in pieces
 * and the hook retries until some of the application's bytes go too. */
Test(inject, line_in_pieces_blocking)
{
  size_t len = strlen(req_get);
  struct app a = {.buf = req_get, .len = len};
  for (size_t s = 1; s <= 7; s++)
    run_one(&a, s, 0, "line in pieces");
}

/* A head as large as the scan allows, with the kernel taking odd sizes. */
Test(inject, large_head)
{
  static char big[65536 + 100];
  size_t n = 0;
  n += (size_t)snprintf(big, sizeof(big), "POST /big HTTP/1.1\r\n");
  while (n < 65536 - 200)
    n += (size_t)snprintf(big + n, sizeof(big) - n, "X-Pad-%05zu: %s\r\n",
                          n, "abcdefghijklmnopqrstuvwxyz0123456789");
  /* Pad the last header so that the head ends exactly at 64 KiB. */
  size_t pad = 65536 - 2 - 2 - n - strlen("X-Last: ");
  n += (size_t)snprintf(big + n, sizeof(big) - n, "X-Last: ");
  memset(big + n, 'z', pad);
  n += pad;
  memcpy(big + n, "\r\n\r\nbody", 8);
  n += 8;
  struct iovec v = {big, n};
  cr_assert_eq(sw_inject_head_len(&v, 1, n), 65536);
  size_t cuts[2] = {1000, 65535};
  struct app a = {.buf = big, .len = n, .cuts = cuts, .ncuts = 2};
  size_t caps[] = {4093, 65533, 65534, 65535, 65536, 65600, 70000};
  for (size_t i = 0; i < SW_ARRAY_LEN(caps); i++) {
    run_one(&a, caps[i], 0, "large head");
    run_one(&a, caps[i], 3, "large head, EAGAIN");
  }
}

/* After a partial write, an application may well write less than all it
 * has left (a writer with a fixed chunk size, or one that advances
 * through its iovec array one entry at a time). The line must still land
 * before the head's final CRLF. */
Test(inject, retry_shorter_than_rest_of_head)
{
  size_t len = strlen(req_post);
  char what[64];
  for (size_t chunk = 1; chunk <= len; chunk++) {
    for (size_t s = 1; s <= 8; s++) {
      struct app a = {.buf = req_post, .len = len, .chunk = chunk};
      snprintf(what, sizeof(what), "chunk=%zu s=%zu", chunk, s);
      run_one(&a, s, 0, what);
    }
  }
}

/* A zero-length write while the line is pending is a no-op for the
 * application: it must not carry the line out early. */
Test(inject, empty_write_while_line_pending)
{
  static struct kernel k;
  struct hook h = {.line = LINE, .line_len = strlen(LINE)};
  size_t len = strlen(req_get);
  k.cap = 5;
  struct iovec v = {(void *)req_get, len};
  cr_assert_eq(hook_write(&h, &k, &v, 1), 5);
  cr_assert(h.on);
  struct iovec empty = {(void *)(req_get + 5), 0};
  cr_assert_eq(hook_write(&h, &k, &empty, 1), 0);
  cr_assert_eq(k.len, 5, "an empty write sent %zu bytes", k.len - 5);
  k.cap = 1 << 16;
  v = (struct iovec){(void *)(req_get + 5), len - 5};
  cr_assert_eq(hook_write(&h, &k, &v, 1), (ssize_t)(len - 5));
  expect_output(&k, req_get, len, len, LINE, strlen(LINE), "empty write");
}

/* --------------------------------------------------------------- account */

/* The account arithmetic on its own: k bytes of [before app][rest line]
 * [app...]. */
Test(inject, account_arithmetic)
{
  struct sw_inject ij;
  const char *line = "sw8: x\r\n"; /* 8 bytes */
  size_t head_len = 20;
  for (size_t k = 0; k <= 40; k++) {
    cr_assert_eq(sw_inject_start(&ij, head_len, line, 8), 0);
    size_t app = sw_inject_account(&ij, 18, k);
    size_t want = k <= 18 ? k : k < 26 ? 18 : k - 8;
    cr_assert_eq(app, want, "k=%zu", k);
    cr_assert_eq(sw_inject_pending(&ij), k < 26, "k=%zu", k);
    cr_assert_eq(ij.pos, want);
  }
}

/* ------------------------------------------------------------- head_len */

static size_t
head_len_split(const char *s, size_t a, size_t b)
{
  size_t n = strlen(s);
  struct iovec v[3] = {{(void *)s, a},
                       {(void *)(s + a), b - a},
                       {(void *)(s + b), n - b}};
  return sw_inject_head_len(v, 3, n);
}

Test(head_len, terminator_split_over_entries)
{
  const char *s = "GET / HTTP/1.1\r\nHost: x\r\n\r\nBODY";
  size_t n = strlen(s), want = n - 4;
  for (size_t a = 0; a <= n; a++)
    for (size_t b = a; b <= n; b++)
      cr_assert_eq(head_len_split(s, a, b), want, "cuts %zu %zu", a, b);
}

Test(head_len, no_terminator)
{
  const char *cases[] = {
      "",
      "GET / HTTP/1.1\r\n",
      "GET / HTTP/1.1\r\nHost: x\r\n",
      "GET / HTTP/1.1\r\nHost: x\r\n\r",
      "GET / HTTP/1.1\r\nHost: x\r\r\n\n",
      "GET / HTTP/1.1\r\nHost: x\n\r\n", /* mixed: not CRLF CRLF */
  };
  for (size_t i = 0; i < SW_ARRAY_LEN(cases); i++) {
    size_t n = strlen(cases[i]);
    for (size_t a = 0; a <= n; a++)
      cr_assert_eq(head_len_split(cases[i], a, n), 0, "case %zu", i);
  }
}

Test(head_len, bare_lf_head_is_not_touched)
{
  const char *s = "GET / HTTP/1.1\nHost: x\n\nbody";
  struct iovec v = {(void *)s, strlen(s)};
  cr_assert_eq(sw_inject_head_len(&v, 1, strlen(s)), 0);
}

Test(head_len, only_n_bytes_count)
{
  const char *s = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
  size_t n = strlen(s);
  struct iovec v[2] = {{(void *)s, 10}, {(void *)(s + 10), n - 10}};
  cr_assert_eq(sw_inject_head_len(v, 2, n), n);
  cr_assert_eq(sw_inject_head_len(v, 2, n - 1), 0);
  cr_assert_eq(sw_inject_head_len(v, 1, n), 0);
  cr_assert_eq(sw_inject_head_len(v, 0, 0), 0);
}

Test(head_len, first_terminator_wins)
{
  const char *s = "GET / HTTP/1.1\r\n\r\nGET / HTTP/1.1\r\n\r\n";
  struct iovec v = {(void *)s, strlen(s)};
  cr_assert_eq(sw_inject_head_len(&v, 1, strlen(s)), 18);
}

Test(head_len, scan_stops_at_64k)
{
  static char buf[65536 + 16];
  memset(buf, 'a', sizeof(buf));
  memcpy(buf + 65536 - 4, "\r\n\r\n", 4);
  struct iovec v = {buf, sizeof(buf)};
  cr_assert_eq(sw_inject_head_len(&v, 1, sizeof(buf)), 65536);
  memset(buf, 'a', sizeof(buf));
  memcpy(buf + 65536 - 3, "\r\n\r\n", 4);
  cr_assert_eq(sw_inject_head_len(&v, 1, sizeof(buf)), 0);
}

/* ----------------------------------------------------------------- start */

Test(start, limits)
{
  static struct sw_inject ij;
  static char line[SW_INJECT_LINE_MAX + 1];
  memset(line, 'x', sizeof(line));
  cr_assert_eq(sw_inject_start(&ij, 100, line, SW_INJECT_LINE_MAX), 0);
  cr_assert(sw_inject_pending(&ij));
  cr_assert_eq(ij.at, 98);
  cr_assert_eq(sw_inject_start(&ij, 100, line, SW_INJECT_LINE_MAX + 1), -1);
  cr_assert_eq(sw_inject_start(&ij, 100, line, 0), -1);
  cr_assert_eq(sw_inject_start(&ij, 3, line, 10), -1);
  cr_assert_eq(sw_inject_start(&ij, 0, line, 10), -1);
  cr_assert_eq(sw_inject_start(&ij, 4, line, 10), 0);
  cr_assert_eq(ij.at, 2);
}

/* The longest line goes out whole through a kernel that takes 1000 bytes
 * a call. */
Test(start, longest_line)
{
  static struct kernel k;
  static char line[SW_INJECT_LINE_MAX];
  memset(line, 'v', sizeof(line));
  memcpy(line, "sw8: ", 5);
  memcpy(line + sizeof(line) - 2, "\r\n", 2);
  struct hook h = {.line = line, .line_len = sizeof(line)};
  size_t len = strlen(req_post);
  struct app a = {.buf = req_post, .len = len};
  k.cap = 1000;
  app_send_all(&h, &k, &a);
  cr_assert(h.injected);
  struct iovec v = {(void *)req_post, len};
  expect_output(&k, req_post, len, sw_inject_head_len(&v, 1, len), line,
                sizeof(line), "longest line");
}

/* The head before the line went out in an earlier call: the next write
 * starts with the line. A kernel that takes only line bytes makes account
 * say 0 (none of the application's bytes went). The hook does not pass
 * that 0 on, which would read as "nothing written, try again" at best: it
 * composes and writes again (blocking: it blocks as the application's own
 * write would; non-blocking: EAGAIN, none of the bytes taken). */
Test(inject, only_line_bytes_count_zero)
{
  const char *line = "sw8: x\r\n"; /* 8 bytes */
  const char head[] = "GET / HTTP/1.1\r\nH: v\r\n\r\n";
  size_t hl = sizeof(head) - 1;
  for (size_t k = 0; k <= 10; k++) {
    struct sw_inject ij;
    cr_assert_eq(sw_inject_start(&ij, hl, line, 8), 0);
    cr_assert_eq(sw_inject_account(&ij, hl - 2, hl - 2), hl - 2);
    struct iovec v = {(void *)(head + hl - 2), 2}, out[3];
    size_t before = 99;
    int nout = sw_inject_compose(&ij, &v, 1, 2, out, &before);
    cr_assert_eq(before, 0);
    cr_assert_eq(nout, 2);
    cr_assert_eq(out[0].iov_len, 8);
    cr_assert(memcmp(out[0].iov_base, line, 8) == 0);
    size_t app = sw_inject_account(&ij, before, k);
    cr_assert_eq(app, k <= 8 ? 0 : k - 8, "k=%zu", k);
    cr_assert_eq(sw_inject_pending(&ij), k < 8);
  }
}

/* The byte-at-a-time scan sw_inject_head_len() replaced (memchr() for
 * each LF instead): both must find the same end for any bytes and any
 * split into entries. */
static size_t
ref_head_len(const struct iovec *iov, int cnt, size_t n)
{
  uint32_t last = 0;
  size_t off = 0;
  for (int i = 0; i < cnt && off < n && off < 65536; i++) {
    const unsigned char *p = iov[i].iov_base;
    size_t len = iov[i].iov_len;
    if (len > n - off)
      len = n - off;
    for (size_t j = 0; j < len && off < 65536; j++, off++) {
      last = last << 8 | p[j];
      if (last == 0x0d0a0d0aU)
        return off + 1;
    }
  }
  return 0;
}

Test(head_len, same_as_byte_scan_on_random_bytes_and_splits)
{
  /* Mostly CR, LF and a letter, so that terminators and near misses
   * ("\r\n\n", "\n\r\n\r\n", "\r\r\n\r\n") are common. */
  static const char alphabet[] = "\r\n\r\nab\r";
  static char buf[70000];
  unsigned seed = 12345;
  for (int round = 0; round < 20000; round++) {
    size_t n = 1 + (size_t)(rand_r(&seed) % 40);
    if (round % 1000 == 0)
      n = sizeof(buf) - (size_t)(rand_r(&seed) % 8000);
    for (size_t i = 0; i < n; i++)
      buf[i] = alphabet[rand_r(&seed) % (sizeof(alphabet) - 1)];
    if (round % 1000 == 0) /* long heads: reach the 64 KiB limit */
      for (size_t i = 0; i + 4 < n; i++)
        if (buf[i] == '\n' && buf[i + 1] == '\r')
          buf[i + 1] = 'c';
    if (round % 2000 == 0) /* a terminator ending at, or just past, 64 KiB */
      memcpy(buf + 65532 + (size_t)(round / 2000 % 3), "\r\n\r\n", 4);
    struct iovec v[5];
    int cnt = 0;
    size_t off = 0;
    while (cnt < 5 && off < n) {
      size_t k = cnt == 4 ? n - off : (size_t)(rand_r(&seed) % 6);
      if (k > n - off)
        k = n - off;
      v[cnt].iov_base = buf + off;
      v[cnt].iov_len = k;
      cnt++;
      off += k;
    }
    /* n smaller than, equal to or larger than the entries' total. */
    size_t total = off, lim = total;
    if (round % 3 == 1 && total > 0)
      lim = (size_t)(rand_r(&seed) % total);
    else if (round % 3 == 2)
      lim = total + 3;
    cr_assert_eq(sw_inject_head_len(v, cnt, lim), ref_head_len(v, cnt, lim),
                 "round %d", round);
  }
}
