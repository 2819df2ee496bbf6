/* fuzz_inject.c: libFuzzer target for the sw8 header injector.
 *
 * Build and run (not part of the CMake build):
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined \
 *     -fno-sanitize-recover=all -Ipreload \
 *     tests/fuzz/fuzz_inject.c preload/inject.c -o fuzz_inject
 *   mkdir -p corpus && ./fuzz_inject corpus tests/fuzz/corpus/inject \
 *     -max_total_time=30
 *
 * Input layout (short inputs are padded with zeros):
 *   byte 0     iovec entries the application uses (1 + b % 3)
 *   bytes 1-4  two cut offsets (little-endian 16 bit, modulo length + 1)
 *   byte 5     line length: 7 + 4 * b bytes ("sw8: " ... "\r\n")
 *   byte 6     after its first write, the application writes at most this
 *              many bytes a call (0: all it has left; always 0 when built
 *              with -DFUZZ_INJECT_FULL_RETRIES)
 *   byte 7     L: how many kernel limits follow (1 + b % 16)
 *   L bytes    the simulated kernel takes at most b bytes per call, in
 *              turn (0: EAGAIN; 255: no limit)
 *   the rest   the request-ish bytes the application sends
 *
 * The write-hook logic between the application and the kernel is that of
 * hooks/hook_io.c send_injected() with conn.c's send_prepare/send_done: a
 * complete head in the request's first write starts an injection; while
 * the line is pending every write goes through compose/account; when only
 * line bytes went out it composes again.
 *
 * Properties checked on every input:
 *   - sw_inject_head_len() agrees with a plain search for the first
 *     CRLF CRLF ending within 64 KiB of contiguous bytes;
 *   - with a head, the kernel receives the input with exactly the line
 *     inserted before the head's final CRLF; without one, the input
 *     unchanged;
 *   - every count the application sees is at most what it passed, never
 *     0 for a non-empty write, and they add up to its length;
 *   - sw_inject_account() returns the number of application bytes in the
 *     prefix the kernel took, found by which buffer each entry points
 *     into; compose never emits more than cnt + 2 entries. */
#include "sw_common.h"

#include "inject.h"

#include <stdint.h>
#include <stdlib.h>
#include <sys/types.h>

#define CHECK(c)                                                             \
  do {                                                                       \
    if (!(c))                                                                \
      __builtin_trap();                                                      \
  } while (0)

#define HDR 8

struct sim {
  /* kernel */
  const uint8_t *caps;
  size_t ncaps;
  size_t calls;
  char *out;
  size_t out_len, out_cap;
  /* hook */
  struct sw_inject ij;
  int decided, on, injected;
  const char *line;
  size_t line_len;
};

static ssize_t
kernel_writev(struct sim *s, const struct iovec *v, int cnt)
{
  uint8_t b = s->caps[s->calls++ % s->ncaps];
  if (b == 0)
    return -1; /* EAGAIN */
  size_t cap = b == 255 ? SIZE_MAX : b;
  size_t took = 0;
  for (int i = 0; i < cnt && took < cap; i++) {
    size_t len = v[i].iov_len;
    if (len > cap - took)
      len = cap - took;
    CHECK(s->out_len + len <= s->out_cap);
    memcpy(s->out + s->out_len, v[i].iov_base, len);
    s->out_len += len;
    took += len;
  }
  return (ssize_t)took;
}

static size_t
iov_total(const struct iovec *v, int cnt)
{
  size_t n = 0;
  for (int i = 0; i < cnt; i++)
    n += v[i].iov_len;
  return n;
}

static size_t
app_in_prefix(const struct sw_inject *ij, const struct iovec *out, int nout,
              size_t k)
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

static ssize_t
hook_write(struct sim *s, const struct iovec *iov, int cnt)
{
  size_t n = iov_total(iov, cnt);
  if (!s->decided) {
    s->decided = 1;
    size_t head_len = sw_inject_head_len(iov, cnt, n);
    if (head_len > 0 &&
        sw_inject_start(&s->ij, head_len, s->line, s->line_len) == 0)
      s->on = s->injected = 1;
  }
  for (;;) {
    if (!s->on)
      return kernel_writev(s, iov, cnt);
    struct iovec out[SW_INJECT_MAX_IOV + 2];
    size_t before = 0;
    int nout = sw_inject_compose(&s->ij, iov, cnt, n, out, &before);
    CHECK(nout >= 0 && nout <= cnt + 2);
    CHECK(before <= n);
    CHECK(app_in_prefix(&s->ij, out, nout, SIZE_MAX) == n);
    ssize_t r = kernel_writev(s, out, nout);
    if (r < 0)
      return -1;
    size_t want = app_in_prefix(&s->ij, out, nout, (size_t)r);
    size_t app = sw_inject_account(&s->ij, before, (size_t)r);
    CHECK(app == want);
    if (!sw_inject_pending(&s->ij))
      s->on = 0;
    if (app > 0 || n == 0)
      return (ssize_t)app;
  }
}

/* The first CRLF CRLF ending within 64 KiB, searched the plain way. */
static size_t
plain_head_len(const char *p, size_t n)
{
  for (size_t i = 3; i < n && i < 65536; i++)
    if (p[i - 3] == '\r' && p[i - 2] == '\n' && p[i - 1] == '\r' &&
        p[i] == '\n')
      return i + 1;
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  uint8_t hdr[HDR + 16] = {0};
  memcpy(hdr, data, size < HDR ? size : HDR);
  size_t used = size < HDR ? size : HDR;
  size_t ncaps = 1 + hdr[7] % 16;
  uint8_t caps[16];
  int progress = 0;
  for (size_t i = 0; i < ncaps; i++) {
    caps[i] = used < size ? data[used++] : 255;
    progress |= caps[i] != 0;
  }
  if (!progress)
    caps[0] = 1; /* a kernel that never takes anything never finishes */

  size_t len = size - used;
  /* A private copy of exactly len bytes: ASan flags any read past it. */
  char *app = malloc(len ? len : 1);
  char line[SW_INJECT_LINE_MAX];
  size_t line_len = 7 + 4 * (size_t)hdr[5];
  if (app == NULL)
    return 0;
  memcpy(app, data + used, len);
  memset(line, 'L', sizeof(line));
  memcpy(line, "sw8: ", 5);
  if (line_len <= sizeof(line))
    memcpy(line + line_len - 2, "\r\n", 2);

  int ncut = hdr[0] % 3;
  size_t cuts[2];
  cuts[0] = (size_t)(hdr[1] | hdr[2] << 8) % (len + 1);
  cuts[1] = (size_t)(hdr[3] | hdr[4] << 8) % (len + 1);
  if (cuts[1] < cuts[0]) {
    size_t t = cuts[0];
    cuts[0] = cuts[1];
    cuts[1] = t;
  }
  size_t chunk = hdr[6];
#ifdef FUZZ_INJECT_FULL_RETRIES
  chunk = 0; /* only applications that always write all they have left */
#endif

  struct sim *s = calloc(1, sizeof(*s));
  if (s == NULL) {
    free(app);
    return 0;
  }
  s->caps = caps;
  s->ncaps = ncaps;
  s->line = line;
  s->line_len = line_len;
  s->out_cap = len + SW_INJECT_LINE_MAX;
  s->out = malloc(s->out_cap);
  CHECK(s->out != NULL);

  /* The whole input as the application's first write would cut it. */
  {
    struct iovec v[3];
    int cnt = 0;
    size_t at = 0;
    for (int i = 0; i < ncut; i++) {
      v[cnt++] = (struct iovec){app + at, cuts[i] - at};
      at = cuts[i];
    }
    v[cnt++] = (struct iovec){app + at, len - at};
    CHECK(sw_inject_head_len(v, cnt, len) == plain_head_len(app, len));
  }
  size_t head_len = plain_head_len(app, len);

  /* The application's loop. */
  size_t off = 0;
  int first = 1;
  while (off < len) {
    size_t end = len;
    if (!first && chunk && end - off > chunk)
      end = off + chunk;
    struct iovec v[3];
    int cnt = 0;
    size_t at = off;
    for (int i = 0; i < ncut; i++) {
      if (cuts[i] < at || cuts[i] > end)
        continue;
      v[cnt++] = (struct iovec){app + at, cuts[i] - at};
      at = cuts[i];
    }
    v[cnt++] = (struct iovec){app + at, end - at};
    ssize_t r = hook_write(s, v, cnt);
    CHECK(s->calls < 4 * (len + SW_INJECT_LINE_MAX) * 16 + 64);
    if (r < 0)
      continue; /* EAGAIN: poll and retry */
    first = 0;
    CHECK(r > 0 && (size_t)r <= end - off);
    off += (size_t)r;
  }
  CHECK(off == len);

  int expect_line = head_len > 0 && line_len <= SW_INJECT_LINE_MAX;
  CHECK(s->injected == expect_line);
  CHECK(!s->on);
  if (expect_line) {
    size_t at = head_len - 2;
    CHECK(s->out_len == len + line_len);
    CHECK(memcmp(s->out, app, at) == 0);
    CHECK(memcmp(s->out + at, line, line_len) == 0);
    CHECK(memcmp(s->out + at + line_len, app + at, len - at) == 0);
  } else {
    CHECK(s->out_len == len);
    CHECK(len == 0 || memcmp(s->out, app, len) == 0);
  }
  free(s->out);
  free(s);
  free(app);
  return 0;
}
