/* inject.h: inserting one header line into a request head on its way to
 * the kernel, while the application keeps seeing counts of its own bytes.
 *
 * Pure and async-signal-safe. The caller (the write hooks) composes an
 * iovec for each application write with sw_inject_compose(), hands it to
 * the real writev()/sendmsg(), and converts the kernel's count back with
 * sw_inject_account(). Partial writes and EAGAIN in the middle of the head
 * or of the line keep the byte stream exact: the peer receives the
 * application's bytes unchanged plus exactly one line, inserted before
 * the blank line that ends the head. Never reports to the application
 * more bytes than the kernel took of its buffer. */
#ifndef SW_PRELOAD_INJECT_H
#define SW_PRELOAD_INJECT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#define SW_INJECT_LINE_MAX 1024 /* "sw8: <value>\r\n" */
#define SW_INJECT_MAX_IOV 64    /* larger writev()s are left alone */

struct sw_inject {
  uint32_t at;   /* offset in the head (app bytes) where the line goes */
  uint32_t pos;  /* app bytes of the head accepted so far */
  uint16_t len;  /* line length */
  uint16_t sent; /* line bytes accepted so far */
  char line[SW_INJECT_LINE_MAX];
};

/* Length of the request head at the start of iov[0..cnt) (total n
 * bytes): the offset just past its terminating CRLF CRLF. 0 when the
 * bytes do not hold a complete head ending in CRLF CRLF within the first
 * 64 KiB. */
size_t sw_inject_head_len(const struct iovec *iov, int cnt, size_t n);

/* Starts an injection: line goes before the final CRLF of a head of
 * head_len bytes. Returns 0, or -1 when the line does not fit. line may
 * be ij->line itself (the line built in place). */
int sw_inject_start(struct sw_inject *ij, size_t head_len, const char *line,
                    size_t line_len);

/* 1 while the line (or part of it) has not been accepted by the kernel. */
int sw_inject_pending(const struct sw_inject *ij);

/* Composes the output for an application write of iov[0..cnt) holding n
 * bytes. out needs room for cnt + 2 entries. *app_before receives the
 * number of application bytes placed before the line. Returns the number
 * of entries in out. */
int sw_inject_compose(const struct sw_inject *ij, const struct iovec *iov,
                      int cnt, size_t n, struct iovec *out,
                      size_t *app_before);

/* Of k bytes taken from a composed output with app_before application
 * bytes ahead of line_rest line bytes: how many were the application's. */
size_t sw_inject_app_bytes(size_t app_before, size_t line_rest, size_t k);

/* The kernel took k bytes of the composed output. Returns how many of
 * them were the application's, and advances the state. */
size_t sw_inject_account(struct sw_inject *ij, size_t app_before, size_t k);

#endif
