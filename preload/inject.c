/* inject.c: exact-byte header insertion (see inject.h). */
#include "sw_common.h"

#include "inject.h"

#define HEAD_SCAN_MAX 65536

size_t
sw_inject_head_len(const struct iovec *iov, int cnt, size_t n)
{
  /* The last bytes before the current entry, for a CRLF CRLF that
   * straddles entries; within an entry, memchr() finds each LF and the
   * three bytes before it are looked at. */
  uint32_t last = 0;
  size_t off = 0;
  for (int i = 0; i < cnt && off < n && off < HEAD_SCAN_MAX; i++) {
    const unsigned char *p = iov[i].iov_base;
    size_t len = iov[i].iov_len;
    if (len > n - off)
      len = n - off;
    if (len > HEAD_SCAN_MAX - off)
      len = HEAD_SCAN_MAX - off;
    if (len == 0)
      continue;
    const unsigned char *q = p, *end = p + len, *lf;
    while ((lf = memchr(q, '\n', (size_t)(end - q))) != NULL) {
      size_t j = (size_t)(lf - p);
      uint32_t w;
      if (j >= 3) {
        w = (uint32_t)lf[-3] << 24 | (uint32_t)lf[-2] << 16 |
            (uint32_t)lf[-1] << 8 | '\n';
      } else {
        w = last;
        for (size_t k = 0; k <= j; k++)
          w = w << 8 | p[k];
      }
      if (w == 0x0d0a0d0aU) /* "\r\n\r\n" */
        return off + j + 1;
      q = lf + 1;
    }
    for (size_t k = len > 4 ? len - 4 : 0; k < len; k++)
      last = last << 8 | p[k];
    off += len;
  }
  return 0;
}

int
sw_inject_start(struct sw_inject *ij, size_t head_len, const char *line,
                size_t line_len)
{
  if (head_len < 4 || line_len == 0 || line_len > sizeof(ij->line))
    return -1;
  if (line != ij->line) /* else built in place */
    memcpy(ij->line, line, line_len);
  ij->len = (uint16_t)line_len;
  ij->sent = 0;
  ij->at = (uint32_t)(head_len - 2);
  ij->pos = 0;
  return 0;
}

int
sw_inject_pending(const struct sw_inject *ij)
{
  return ij->sent < ij->len;
}

int
sw_inject_compose(const struct sw_inject *ij, const struct iovec *iov,
                  int cnt, size_t n, struct iovec *out, size_t *app_before)
{
  size_t before = ij->at >= ij->pos ? ij->at - ij->pos : 0;
  /* The line belongs in this write only when the insertion point falls
   * inside it (or right after its last byte); a retry shorter than the
   * rest of the head carries application bytes only. */
  int line_here = before <= n;
  if (before > n)
    before = n;
  *app_before = before;
  int k = 0;
  size_t off = 0; /* application bytes placed so far */
  int line_done = !sw_inject_pending(ij) || !line_here;
  for (int i = 0; i < cnt && off < n; i++) {
    const char *p = iov[i].iov_base;
    size_t len = iov[i].iov_len;
    if (len > n - off)
      len = n - off;
    if (!line_done && off + len >= before) {
      /* The line goes inside (or right after) this entry. */
      size_t head = before - off;
      if (head > 0)
        out[k++] = (struct iovec){(void *)p, head};
      out[k++] = (struct iovec){(void *)(ij->line + ij->sent),
                                (size_t)(ij->len - ij->sent)};
      line_done = 1;
      p += head;
      len -= head;
      off += head;
    }
    if (len > 0)
      out[k++] = (struct iovec){(void *)p, len};
    off += len;
  }
  if (!line_done) /* n == 0 or before == n after the last entry */
    out[k++] = (struct iovec){(void *)(ij->line + ij->sent),
                              (size_t)(ij->len - ij->sent)};
  return k;
}

size_t
sw_inject_app_bytes(size_t app_before, size_t line_rest, size_t k)
{
  if (k <= app_before)
    return k;
  if (k < app_before + line_rest)
    return app_before;
  return k - line_rest;
}

size_t
sw_inject_account(struct sw_inject *ij, size_t app_before, size_t k)
{
  size_t rest = sw_inject_pending(ij) ? (size_t)(ij->len - ij->sent) : 0;
  size_t app = sw_inject_app_bytes(app_before, rest, k);
  /* Whatever the kernel took beyond the application's bytes was line. */
  ij->sent = (uint16_t)(ij->sent + (k - app));
  ij->pos += (uint32_t)app;
  return app;
}
