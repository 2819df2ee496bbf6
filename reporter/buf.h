/* buf.h: a growable byte buffer for encoded messages and request bodies.
 *
 * Only the reporter uses it, on the reporter thread, so it may allocate.
 * A failed allocation leaves the buffer as it was and returns -ENOMEM. */
#ifndef SW_REPORTER_BUF_H
#define SW_REPORTER_BUF_H

#include <stddef.h>
#include <stdint.h>

struct sw_buf {
  uint8_t *data;
  size_t len;
  size_t cap;
};

/* Makes room for at least n more bytes. 0 or -ENOMEM. */
int sw_buf_reserve(struct sw_buf *b, size_t n);
/* Appends n bytes. 0 or -ENOMEM. */
int sw_buf_append(struct sw_buf *b, const void *p, size_t n);
/* Forgets the contents but keeps the memory for the next use. Memory
 * beyond keep bytes is given back, so one huge batch does not pin its
 * buffer for the life of the process. */
void sw_buf_reset(struct sw_buf *b, size_t keep);
void sw_buf_free(struct sw_buf *b);

#endif
