/* fuzz_filter.c: libFuzzer target for the Ant matcher.
 *
 * The first byte chooses where the rest of the input splits into a
 * pattern and a path (proportionally, so long patterns are reachable).
 * Besides looking for crashes and hangs, short inputs are checked against
 * a second, deliberately naive implementation: the Python agent's
 * translation done literally (split on "/" "**" "/", strip, split on "**",
 * "*", "?") and a backtracking matcher over the resulting tokens, which is
 * exponential and so only run on short inputs.
 * The prepared filter (sw_filter_match) is checked against the reference
 * sw_filter_ignored on every input.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -Ipreload \
 *     tests/fuzz/fuzz_filter.c preload/filter.c preload/sw_config.c \
 *     -o fuzz_filter
 *   ./fuzz_filter -max_total_time=30 tests/fuzz/corpus/filter */
#include "sw_common.h"

#include "filter.h"

#include <stdlib.h>

enum ref_kind { REF_LIT, REF_ONE, REF_STAR, REF_DSTAR, REF_SLASHES, REF_END };

struct ref_tok {
  enum ref_kind k;
  char c;
};

static int
ref_space(unsigned char c)
{
  return c == ' ' || (c >= '\t' && c <= '\r') || (c >= 0x1c && c <= 0x1f);
}

/* Tokens of pat, which is at most 64 bytes. */
static size_t
ref_compile(const char *pat, struct ref_tok *t)
{
  const char *piece = pat, *split, *b, *e;
  size_t n = 0;

  for (;;) {
    split = strstr(piece, "/**/");
    b = piece;
    e = split != NULL ? split : piece + strlen(piece);
    while (b < e && ref_space((unsigned char)*b))
      b++;
    while (e > b && ref_space((unsigned char)e[-1]))
      e--;
    while (b < e) {
      if (*b == '*' && b + 1 < e && b[1] == '*') {
        t[n++] = (struct ref_tok){REF_DSTAR, 0};
        b += 2;
      } else if (*b == '*') {
        t[n++] = (struct ref_tok){REF_STAR, 0};
        b++;
      } else if (*b == '?') {
        t[n++] = (struct ref_tok){REF_ONE, 0};
        b++;
      } else {
        t[n++] = (struct ref_tok){REF_LIT, *b++};
      }
    }
    if (split == NULL)
      break;
    t[n++] = (struct ref_tok){REF_SLASHES, 0};
    piece = split + 4;
  }
  t[n++] = (struct ref_tok){REF_END, 0};
  return n;
}

static int
ref_match(const struct ref_tok *t, const char *s)
{
  size_t j;

  switch (t->k) {
  case REF_END:
    return *s == '\0';
  case REF_LIT:
    return *s == t->c && ref_match(t + 1, s + 1);
  case REF_ONE:
    return *s != '\0' && *s != '/' && ref_match(t + 1, s + 1);
  case REF_STAR: /* [^/]* */
    for (j = 0;; j++) {
      if (ref_match(t + 1, s + j))
        return 1;
      if (s[j] == '\0' || s[j] == '/')
        return 0;
    }
  case REF_DSTAR: /* nothing, or [^/]+(/[^/]+)* */
    if (ref_match(t + 1, s))
      return 1;
    for (j = 1; s[j - 1] != '\0'; j++) {
      if (s[j - 1] == '/') {
        if (j == 1 || s[j - 2] == '/')
          return 0;
        continue;
      }
      if (ref_match(t + 1, s + j))
        return 1;
    }
    return 0;
  case REF_SLASHES: /* '/' then anything that ends in '/' */
    if (s[0] != '/')
      return 0;
    for (j = 1; s[j - 1] != '\0'; j++) {
      if (s[j - 1] == '/' && ref_match(t + 1, s + j))
        return 1;
    }
    return 0;
  }
  return 0;
}

/* The pattern text, read as a comma-separated suffix list (and, when
 * short, as the ignore-path list too), must give the same decision
 * through the prepared filter as through the reference. */
static void
check_prepared(const char *pat, const char *path)
{
  static struct sw_config c;
  struct sw_filter f;

  (void)sw_list_parse(&c.ignore_suffix, pat, 0);
  if (strlen(pat) <= 64)
    (void)sw_list_parse(&c.ignore_path, pat, 0);
  else
    c.ignore_path.n = 0;
  (void)sw_list_parse(&c.ignore_method, "OPTIONS", 1);
  sw_filter_prepare(&f, &c);
  if (sw_filter_match(&f, "GET", path, strlen(path)) !=
      sw_filter_ignored(&c, "GET", path))
    abort();
  if (sw_filter_match(&f, "options", path, strlen(path)) != 1)
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  struct ref_tok toks[80];
  char *pat, *path;
  size_t rest, k;
  int got;

  if (size < 1)
    return 0;
  rest = size - 1;
  k = rest * data[0] / 255;
  pat = malloc(k + 1);
  path = malloc(rest - k + 1);
  if (pat == NULL || path == NULL)
    abort();
  memcpy(pat, data + 1, k);
  pat[k] = '\0';
  memcpy(path, data + 1 + k, rest - k);
  path[rest - k] = '\0';

  got = sw_ant_match(pat, path);
  if (got != 0 && got != 1)
    abort();
  if (strlen(pat) <= 12 && strlen(path) <= 16) {
    ref_compile(pat, toks);
    if (got != ref_match(toks, path))
      abort();
  }
  /* Matching is a pure function. */
  if (sw_ant_match(pat, path) != got)
    abort();
  check_prepared(pat, path);

  free(pat);
  free(path);
  return 0;
}
