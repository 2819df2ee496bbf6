/* sw_common.h: included first by every .c file of the project.
 *
 * Feature macros, attributes and the few portable helpers every module
 * needs. Nothing here may allocate or call into libc state. */
#ifndef SW_PRELOAD_SW_COMMON_H
#define SW_PRELOAD_SW_COMMON_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Only the interposed symbols are exported (see exports.map). */
#define SW_EXPORT __attribute__((visibility("default")))
#define SW_HIDDEN __attribute__((visibility("hidden")))

/* File-local in the product, visible to unit tests (curl's UNITTEST). */
#ifdef SW_UNITTESTS
#define SW_STATIC
#else
#define SW_STATIC static
#endif

#define SW_LIKELY(x) __builtin_expect(!!(x), 1)
#define SW_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define SW_NOINLINE __attribute__((noinline))
/* Out of line, in .text.unlikely, and never the reason for a frame in the
 * function that calls it: a rare path of a function that runs on every
 * request, whose code would otherwise sit between the lines the usual
 * path executes (every line of code a request touches is an instruction
 * cache line that the application's own code loses). */
#define SW_COLD __attribute__((noinline, cold))
#define SW_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define SW_CACHELINE 64

/* Copy at most cap-1 bytes of src[0..n) into dst and terminate it.
 * Returns the number of bytes copied. Truncates, never overflows. */
static inline size_t
sw_strlcpyn(char *dst, size_t cap, const char *src, size_t n)
{
  if (cap == 0)
    return 0;
  if (n >= cap)
    n = cap - 1;
  memcpy(dst, src, n);
  dst[n] = '\0';
  return n;
}

static inline size_t
sw_strlcpy(char *dst, const char *src, size_t cap)
{
  return sw_strlcpyn(dst, cap, src, strlen(src));
}

#endif
