/* fuzz_sw8.c: libFuzzer target for the sw8 header and base64 codecs.
 *
 * Build and run (not part of the CMake build):
 *   clang -g -fsanitize=fuzzer,address,undefined -Ipreload \
 *     tests/fuzz/fuzz_sw8.c preload/sw8.c -o fuzz_sw8
 *   mkdir -p corpus && ./fuzz_sw8 corpus tests/fuzz/corpus/sw8 \
 *     -max_total_time=30
 *
 * Properties checked on every input:
 *   - decode never reads outside [data, data + size) (ASan) and leaves the
 *     reference all zero when it fails;
 *   - a decoded reference re-encodes, and decodes back to the same
 *     reference;
 *   - decoding is exact: when the input had sample flag 1 and no leading
 *     zeros in the span id, re-encoding reproduces it byte for byte;
 *   - base64 of the raw bytes decodes back to them;
 *   - the table-driven codec gives the same results and bytes as the
 *     table-free reference it replaced, whether the output fits or not. */
#include "sw_common.h"

#include "sw8.h"
#include "../unit/sw8_ref.h"

#include <stdint.h>
#include <stdlib.h>

#define CHECK(c)                                                             \
  do {                                                                       \
    if (!(c))                                                                \
      __builtin_trap();                                                      \
  } while (0)

static int
all_zero(const void *p, size_t n)
{
  const unsigned char *b = p;
  size_t i;

  for (i = 0; i < n; i++)
    if (b[i] != 0)
      return 0;
  return 1;
}

/* Sample flag 1 and a span id without leading zeros: the forms our
 * encoder writes, so the input must come back unchanged. */
static int
is_canonical(const char *v, size_t n)
{
  size_t i, dashes = 0;

  if (n < 2 || v[0] != '1')
    return 0;
  for (i = 0; i < n; i++) {
    if (v[i] == '-' && ++dashes == 3) {
      if (i + 2 >= n)
        return 0;
      return !(v[i + 1] == '0' && v[i + 2] != '-');
    }
  }
  return 0;
}

static void
check_sw8(const char *v, size_t n)
{
  struct sw_ref a, b;
  char enc[SW8_MAX_LEN + 1];
  int len;

  if (sw8_decode(v, n, &a) != 0) {
    CHECK(all_zero(&a, sizeof(a)));
    return;
  }
  /* Each field fits its sw_ref buffer, so the value fits SW8_MAX_LEN. */
  len = sw8_encode(enc, sizeof(enc), a.trace_id, a.parent_segment_id,
                   a.parent_span_id, a.parent_service, a.parent_instance,
                   a.parent_endpoint, a.peer);
  CHECK(len > 0 && (size_t)len < sizeof(enc) && enc[len] == '\0');
  CHECK(sw8_decode(enc, (size_t)len, &b) == 0);
  CHECK(memcmp(&a, &b, sizeof(a)) == 0);
  if (is_canonical(v, n))
    CHECK((size_t)len == n && memcmp(enc, v, n) == 0);
}


/* Both codecs on the same input: equal results and equal bytes, also
 * when the output does not fit (cap just below and at the need). */
static void
check_b64_ref(const char *v, size_t n)
{
  static char a[4 * 1024 + 8], b[4 * 1024 + 8];
  size_t caps[3], k;
  int x, y;

  if (n > 3 * 1024)
    n = 3 * 1024;
  caps[0] = sizeof(a);
  caps[1] = (n + 2) / 3 * 4 + 1;
  caps[2] = caps[1] - 1;
  for (k = 0; k < 3; k++) {
    memset(a, 'x', sizeof(a));
    memset(b, 'x', sizeof(b));
    x = sw_b64_encode(a, caps[k], v, n);
    y = ref_b64_encode(b, caps[k], v, n);
    CHECK(x == y && memcmp(a, b, caps[k]) == 0);
  }
  caps[1] = n / 4 * 3 + 1;
  caps[2] = n / 4 * 3 > 2 ? n / 4 * 3 - 2 : 1;
  for (k = 0; k < 3; k++) {
    memset(a, 'x', sizeof(a));
    memset(b, 'x', sizeof(b));
    x = sw_b64_decode(a, caps[k], v, n);
    y = ref_b64_decode(b, caps[k], v, n);
    CHECK(x == y && memcmp(a, b, caps[k]) == 0);
  }
}

static void
check_b64(const char *v, size_t n)
{
  static char enc[4 * 1024 + 8], dec[4 * 1024];
  int e, d;

  if (n > 3 * 1024)
    n = 3 * 1024;
  e = sw_b64_encode(enc, sizeof(enc), v, n);
  CHECK(e >= 0 && (size_t)e == (n + 2) / 3 * 4);
  d = sw_b64_decode(dec, sizeof(dec), enc, (size_t)e);
  CHECK(d >= 0 && (size_t)d == n && memcmp(dec, v, n) == 0);
  /* The raw bytes as base64 text: must not crash, and what decodes must
   * re-encode to the same text (there is one encoding per byte string). */
  d = sw_b64_decode(dec, sizeof(dec), v, n);
  if (d >= 0) {
    e = sw_b64_encode(enc, sizeof(enc), dec, (size_t)d);
    CHECK((size_t)e == n && memcmp(enc, v, n) == 0);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  /* A private copy of exactly size bytes: ASan then flags any read past
   * the value, which a NUL-terminated or larger buffer would hide. */
  char *v = malloc(size ? size : 1);

  if (v == NULL)
    return 0;
  memcpy(v, data, size);
  check_sw8(v, size);
  check_b64(v, size);
  check_b64_ref(v, size);
  free(v);
  return 0;
}
