/* buf.c: growable byte buffer (see buf.h). */
#include "sw_common.h"

#include "buf.h"

#include <errno.h>
#include <stdlib.h>

int
sw_buf_reserve(struct sw_buf *b, size_t n)
{
  size_t want, cap;
  uint8_t *p;

  if (n > SIZE_MAX - b->len)
    return -ENOMEM;
  want = b->len + n;
  if (want <= b->cap)
    return 0;
  cap = b->cap ? b->cap : 256;
  while (cap < want)
    cap = cap > SIZE_MAX / 2 ? want : cap * 2;
  p = realloc(b->data, cap);
  if (!p)
    return -ENOMEM;
  b->data = p;
  b->cap = cap;
  return 0;
}

void
sw_buf_reset(struct sw_buf *b, size_t keep)
{
  b->len = 0;
  if (b->cap > keep) {
    sw_buf_free(b);
  }
}

void
sw_buf_free(struct sw_buf *b)
{
  free(b->data);
  b->data = NULL;
  b->len = 0;
  b->cap = 0;
}
