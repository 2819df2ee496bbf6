/* buf.h: a growable byte buffer for encoded messages and request bodies.
 *
 * Only the reporter uses it, on the reporter thread, so it may allocate.
 * A failed allocation leaves the buffer as it was and returns -ENOMEM. */
#ifndef SW_REPORTER_BUF_H
#define SW_REPORTER_BUF_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct sw_buf {
  uint8_t *data;
  size_t len;
  size_t cap;
};

/* Makes room for at least n more bytes. 0 or -ENOMEM. The capacity
 * grows geometrically, so appending costs amortized constant time. */
int sw_buf_reserve(struct sw_buf *b, size_t n);

/* sw_buf_reserve() with the test for enough room inlined: the encoders
 * call it once per span or field. */
static inline int
sw_buf_room(struct sw_buf *b, size_t n)
{
  return n <= b->cap - b->len ? 0 : sw_buf_reserve(b, n);
}

/* Appends n bytes. 0 or -ENOMEM. Inline: with a constant n (a literal)
 * the copy is a few moves. */
static inline int
sw_buf_append(struct sw_buf *b, const void *p, size_t n)
{
  int rc = sw_buf_room(b, n);

  if (rc)
    return rc;
  if (n)
    memcpy(b->data + b->len, p, n);
  b->len += n;
  return 0;
}

/* Forgets the contents but keeps the memory for the next use. Memory
 * beyond keep bytes is given back, so one huge batch does not pin its
 * buffer for the life of the process. */
void sw_buf_reset(struct sw_buf *b, size_t keep);
void sw_buf_free(struct sw_buf *b);

#endif
