/* filter.c: which requests are not traced (ignore paths, suffixes and
 * methods).
 *
 * Everything here runs in the application's threads, inside hooks and
 * possibly inside signal handlers: no allocation, no locks, no locale, no
 * libc beyond the string functions, and a bounded amount of work and stack
 * for any input.
 *
 * In this file's comments S stands for a star, because a star next to a
 * slash would end or open a C comment: "/SS/" is slash, star, star, slash.
 *
 * The Ant matcher reproduces the regex that the SkyWalking Python agent
 * builds from SW_AGENT_TRACE_IGNORE_PATH (config.finalize_regex). Each
 * pattern is split on the literal "/SS/", each piece is stripped of white
 * space, and the pieces are translated and joined again:
 *
 *   "/SS/"  /(?:[^/]S/)S          a '/', then anything ending in '/'
 *                                 (so "/" alone too)
 *   "SS"    (?:(?:[^/]+/)S[^/]+)?  nothing, or non-empty segments joined
 *                                 by single slashes
 *   "S"     [^/]S
 *   "?"     [^/]
 *   other   itself
 *
 * The regex must match the whole operation name, case-sensitively.
 *
 * Instead of building that regex (regex.h allocates), the matcher runs the
 * equivalent NFA directly over the pattern text, Thompson style: the live
 * states are a bitset indexed by pattern position, and the path is read
 * once, left to right. Each path byte visits each state at most once, so
 * a match costs O(pattern length x path length) whatever the pattern:
 * "SS/SS/SS/SS/x" against a long path cannot go exponential the way a
 * backtracking matcher does. Patterns are limited to SW_ANT_PATTERN_MAX - 1
 * bytes (longer ones never match; the configuration drops them with a
 * warning), which bounds the stack to two bitsets of 384 bytes.
 *
 * Deliberate differences from the Python agent, all on inputs that a
 * parsed HTTP request line cannot produce or that are mistakes there:
 * - '?' matches one byte. Python's '[^/]' matches one code point of the
 *   decoded string; WSGI servers decode the path as latin-1, where the two
 *   agree.
 * - Stripping removes ASCII white space only (Python's str.strip() also
 *   removes Unicode spaces such as U+00A0).
 * - Python applies the regex with re.match, where '$' also matches before
 *   a final "\n"; here the match is on the whole string.
 * - Empty list items are skipped when the list is parsed, so "a,,b" does
 *   not ignore the empty operation name, and "," as the suffix list
 *   ignores nothing (in Python it ignores every operation). */
#include "sw_common.h"

#include "filter.h"

/* Kinds of pattern tokens, decided by the text at a token's start. */
enum ant_kind {
  ANT_LIT,     /* one literal byte */
  ANT_ONE,     /* '?' */
  ANT_STAR,    /* '*' */
  ANT_DSTAR,   /* "SS" */
  ANT_SLASHES, /* "/SS/" (the split) */
  ANT_END      /* end of the pattern: the accepting state */
};

/* Each pattern position p that starts a token owns three state slots:
 * slot 0 is the token's entry state, slot 1 and 2 are the inner states of
 * "SS" and "/SS/" (see step()). */
#define ANT_SLOTS 3
#define ANT_WORDS ((ANT_SLOTS * SW_ANT_PATTERN_MAX + 63) / 64)

struct ant {
  const char *pat;
  size_t n;       /* pattern length */
  uint64_t *next; /* the state set being built for the next path byte */
  int live;       /* some state was added to next */
};

/* Python's str.strip() set, restricted to ASCII. */
static int
is_space(unsigned char c)
{
  return c == ' ' || (c >= '\t' && c <= '\r') || (c >= 0x1c && c <= 0x1f);
}

static int
at_split(const char *pat, size_t i, size_t n)
{
  return i + 4 <= n && pat[i] == '/' && pat[i + 1] == '*' &&
         pat[i + 2] == '*' && pat[i + 3] == '/';
}

/* The kind of the token starting at i. This needs no left context: the
 * Python agent splits on "/SS/" left to right before anything
 * else, and a split can only overlap an earlier one by sharing its last
 * '/', which is never a token start. Likewise "SS" is taken
 * greedily left to right, and a piece never ends in the middle of one
 * because a piece is followed by '/', white space or the end. */
static enum ant_kind
kind_at(const char *pat, size_t i, size_t n)
{
  if (i >= n)
    return ANT_END;
  if (at_split(pat, i, n))
    return ANT_SLASHES;
  if (pat[i] == '*')
    return (i + 1 < n && pat[i + 1] == '*') ? ANT_DSTAR : ANT_STAR;
  if (pat[i] == '?')
    return ANT_ONE;
  return ANT_LIT;
}

static size_t
skip_space(const char *pat, size_t i, size_t n)
{
  while (i < n && is_space((unsigned char)pat[i]))
    i++;
  return i;
}

/* The start of the token after the one of kind k at i. White space at the
 * start of a piece, and a run of it that ends the piece (it is followed by
 * a split or by the end of the pattern), was stripped by Python and is
 * skipped here.
 *
 * A run is only scanned from the token before it: when the token at i is
 * itself kept white space, its run does not end the piece, so neither does
 * the rest of it. That keeps the cost per path byte linear in the pattern
 * ("S" followed by a thousand spaces would otherwise be quadratic). */
static size_t
tok_next(const char *pat, size_t i, size_t n, enum ant_kind k)
{
  size_t j, r;

  if (k == ANT_SLASHES)
    return skip_space(pat, i + 4, n);
  j = i + (k == ANT_DSTAR ? 2 : 1);
  if (k == ANT_LIT && is_space((unsigned char)pat[i]))
    return j;
  if (j < n && is_space((unsigned char)pat[j])) {
    r = skip_space(pat, j, n);
    if (r == n || at_split(pat, r, n))
      return r;
  }
  return j;
}

/* Sets state bit b in the next set. Returns 1 when it was not set yet,
 * so that every state's closure is followed at most once per path byte. */
static int
add(struct ant *a, size_t b)
{
  uint64_t m = (uint64_t)1 << (b % 64);

  if (a->next[b / 64] & m)
    return 0;
  a->next[b / 64] |= m;
  a->live = 1;
  return 1;
}

/* Enters the token at p: sets its entry state and follows the epsilon
 * edges of "S" and "SS" (both may match nothing) to the tokens after. */
static void
enter(struct ant *a, size_t p)
{
  enum ant_kind k;

  for (;;) {
    if (!add(a, ANT_SLOTS * p))
      return;
    k = kind_at(a->pat, p, a->n);
    if (k != ANT_STAR && k != ANT_DSTAR)
      return;
    p = tok_next(a->pat, p, a->n, k);
  }
}

/* Slot 1: the accepting inner state of "SS" and "/SS/"; it may leave the
 * token without reading anything more. */
static void
enter_inner(struct ant *a, size_t p, enum ant_kind k)
{
  if (add(a, ANT_SLOTS * p + 1))
    enter(a, tok_next(a->pat, p, a->n, k));
}

/* Moves state (p, slot) over the path byte c into the next set.
 *
 *   "SS"   : entry A: [^/] -> B.  B: [^/] -> B, '/' -> C, may leave.
 *            C (slot 2): [^/] -> B.
 *   "/SS/": entry A: '/' -> B.  B: '/' -> B, other -> D, may leave.
 *            D (slot 2): '/' -> B, other -> D. */
static void
step(struct ant *a, size_t p, unsigned slot, char c)
{
  enum ant_kind k = kind_at(a->pat, p, a->n);

  switch (k) {
  case ANT_LIT:
    if (a->pat[p] == c)
      enter(a, tok_next(a->pat, p, a->n, k));
    break;
  case ANT_ONE:
    if (c != '/')
      enter(a, tok_next(a->pat, p, a->n, k));
    break;
  case ANT_STAR:
    if (c != '/')
      enter(a, p);
    break;
  case ANT_DSTAR:
    if (c != '/')
      enter_inner(a, p, k);
    else if (slot == 1)
      add(a, ANT_SLOTS * p + 2);
    break;
  case ANT_SLASHES:
    if (c == '/')
      enter_inner(a, p, k);
    else if (slot != 0)
      add(a, ANT_SLOTS * p + 2);
    break;
  case ANT_END:
    break;
  }
}

int
sw_ant_match(const char *pat, const char *path)
{
  uint64_t s1[ANT_WORDS], s2[ANT_WORDS];
  uint64_t *cur, *tmp, w;
  struct ant a;
  size_t n, p, nwords, wi, b;

  n = strnlen(pat, SW_ANT_PATTERN_MAX);
  if (n >= SW_ANT_PATTERN_MAX)
    return 0;

  /* Leading literals need no state set: compare them directly. Most
   * patterns start with a literal prefix such as "/static/", so most
   * mismatches end here. */
  p = skip_space(pat, 0, n);
  while (kind_at(pat, p, n) == ANT_LIT) {
    if (*path != pat[p])
      return 0;
    path++;
    p = tok_next(pat, p, n, ANT_LIT);
  }
  if (p == n)
    return *path == '\0';

  /* Only the words that this pattern's states use are touched. Each word
   * of cur is cleared as it is read, so that after a path byte cur is
   * all zero and can be reused as the next "next" without a memset. */
  nwords = (ANT_SLOTS * (n + 1) + 63) / 64;
  for (wi = 0; wi < nwords; wi++)
    s1[wi] = s2[wi] = 0;
  a.pat = pat;
  a.n = n;
  a.next = s1;
  enter(&a, p);
  cur = s1;
  a.next = s2;

  for (; *path != '\0'; path++) {
    a.live = 0;
    for (wi = 0; wi < nwords; wi++) {
      w = cur[wi];
      cur[wi] = 0;
      for (; w != 0; w &= w - 1) {
        b = wi * 64 + (size_t)__builtin_ctzll(w);
        step(&a, b / ANT_SLOTS, (unsigned)(b % ANT_SLOTS), *path);
      }
    }
    if (!a.live)
      return 0;
    tmp = cur;
    cur = a.next;
    a.next = tmp;
  }
  b = ANT_SLOTS * n;
  return (cur[b / 64] >> (b % 64)) & 1;
}

/* ASCII-only case-insensitive equality: no locale in a hook. */
static int
ascii_caseeq(const char *a, const char *b)
{
  unsigned char x, y;

  for (;; a++, b++) {
    x = (unsigned char)*a;
    y = (unsigned char)*b;
    if (x >= 'a' && x <= 'z')
      x = (unsigned char)(x - 'a' + 'A');
    if (y >= 'a' && y <= 'z')
      y = (unsigned char)(y - 'a' + 'A');
    if (x != y)
      return 0;
    if (x == '\0')
      return 1;
  }
}

int
sw_filter_ignored(const struct sw_config *c, const char *method,
                  const char *op)
{
  size_t oplen, sl;
  int i;

  /* The Python agent builds '^' + 'GET|POST' + '$', where '^' binds only
   * to the first and '$' only to the last alternative, so "GET,POST" also
   * ignores "GETX" and "XPOST". The option is documented as a list of
   * methods, so this is an exact (case-insensitive) comparison. */
  if (method != NULL && method[0] != '\0') {
    for (i = 0; i < c->ignore_method.n; i++) {
      if (ascii_caseeq(c->ignore_method.item[i], method))
        return 1;
    }
  }
  if (op == NULL || op[0] == '\0')
    return 0;

  /* Python's '^.+(?:\.jpg|...)$': at least one byte before the suffix. */
  oplen = strlen(op);
  for (i = 0; i < c->ignore_suffix.n; i++) {
    sl = strlen(c->ignore_suffix.item[i]);
    if (sl < oplen && memcmp(op + oplen - sl, c->ignore_suffix.item[i], sl) == 0)
      return 1;
  }
  for (i = 0; i < c->ignore_path.n; i++) {
    if (sw_ant_match(c->ignore_path.item[i], op))
      return 1;
  }
  return 0;
}

void
sw_filter_prepare(struct sw_filter *f, const struct sw_config *c)
{
  const char *item;
  unsigned char e;
  size_t sl;
  int i;

  _Static_assert(SW_PATTERN_BUF <= UINT16_MAX, "suffix lengths are 16 bits");
  memset(f, 0, sizeof(*f));
  f->cfg = c;
  for (i = 0; i < c->ignore_suffix.n && i < SW_MAX_PATTERNS; i++) {
    item = c->ignore_suffix.item[i];
    sl = strlen(item); /* < SW_PATTERN_BUF: fits */
    f->suffix_len[i] = (uint16_t)sl;
    if (sl == 0) {
      /* Never made by the list parser; the reference ignores every
       * non-empty name for it, and so does this. */
      memset(f->last, 0xff, sizeof(f->last));
      continue;
    }
    e = (unsigned char)item[sl - 1];
    f->last[e / 64] |= (uint64_t)1 << (e % 64);
  }
  f->nsuffix = i;
  f->suffix_only = c->ignore_method.n == 0 && c->ignore_path.n == 0;
}

int
sw_filter_match(const struct sw_filter *f, const char *method,
                const char *op, size_t oplen)
{
  const struct sw_config *c = f->cfg;
  unsigned char e;
  size_t sl;
  int i;

  if (c->ignore_method.n != 0 && method != NULL && method[0] != '\0') {
    for (i = 0; i < c->ignore_method.n; i++) {
      if (ascii_caseeq(c->ignore_method.item[i], method))
        return 1;
    }
  }
  if (op == NULL || oplen == 0)
    return 0;
  e = (unsigned char)op[oplen - 1];
  if (f->last[e / 64] & ((uint64_t)1 << (e % 64))) {
    for (i = 0; i < f->nsuffix; i++) {
      sl = f->suffix_len[i];
      if (sl < oplen &&
          memcmp(op + oplen - sl, c->ignore_suffix.item[i], sl) == 0)
        return 1;
    }
  }
  for (i = 0; i < c->ignore_path.n; i++) {
    if (sw_ant_match(c->ignore_path.item[i], op))
      return 1;
  }
  return 0;
}
