/* test_filter.c: Ant ignore paths, ignore suffixes, ignore methods.
 *
 * The expected results are those of the regex the SkyWalking Python agent
 * builds (config.finalize_regex): the first table is the example table of
 * its tests/unit/test_ant_matcher.py, the second one covers the corners of
 * the translation. Both were checked against Python's re. */
#include "sw_common.h"

#include "filter.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>

struct ant_case {
  const char *pat;
  const char *path;
  int match;
};

/* The Python agent's examples, one row per "matches" / "doesn't match"
 * entry. */
static const struct ant_case python_examples[] = {
  {"/eureka/*", "/eureka/apps", 1},
  {"/eureka/*", "/eureka/", 1},
  {"/eureka/*", "/eureka/apps/", 0},
  {"/eureka/*/", "/eureka/apps/", 1},
  {"/eureka/*/", "/eureka/", 0},
  {"/eureka/*/", "/eureka/apps/list", 0},
  {"/eureka/**", "/eureka/", 1},
  {"/eureka/**", "/eureka/apps/test", 1},
  {"/eureka/**", "/eureka/apps/test/", 0},
  {"/eureka/**", "/eureka", 0},
  {"eureka/apps/?", "eureka/apps/a", 1},
  {"eureka/apps/?", "eureka/apps/list", 0},
  {"eureka/apps/?", "eureka/apps/", 0},
  {"eureka/**/lists", "eureka/apps/lists", 1},
  {"eureka/**/lists", "eureka/apps/test/lists", 1},
  {"eureka/**/lists", "eureka/apps/test", 0},
  {"eureka/**/test/**", "eureka/test/list", 1},
  {"eureka/**/test/**", "eureka/apps/foo/test/list/bar", 1},
  {"eureka/**/test/**", "eureka/apps/foo/test/list/bar/", 0},
  {"eureka/*/**/test/**", "eureka/test/list", 0},
  {"/eureka/**/b/**/*.txt", "/eureka/a/aa/aaa/b/bb/bbb/xxxxxx.txt", 1},
  {"/eureka/**/b/**/*.txt", "/eureka/a/aa/aaa/b/bb/bbb/xxxxxx", 0},
};

/* Corners: "**" next to slashes and to other stars (the Python agent
 * splits on "/" "**" "/" first, then on "**", then on "*"), '?', regex
 * metacharacters that must stay literal, case, stripped white space. */
static const struct ant_case corners[] = {
  {"**", "", 1},
  {"**", "a", 1},
  {"**", "a/b/c", 1},
  {"**", "/a", 0},
  {"**", "a/", 0},
  {"**", "a//b", 0},
  {"/**", "/", 1},
  {"/**", "/a/b", 1},
  {"/**", "/a/", 0},
  {"/**", "", 0},
  {"**/x", "x", 0},
  {"**/x", "/x", 1},
  {"**/x", "a/b/x", 1},
  {"**/x", "a/b/xx", 0},
  {"***", "abc", 1},
  {"***", "a/bc", 1},
  {"***", "a/", 0},
  {"****", "a/b", 1},
  {"a**b", "ab", 1},
  {"a**b", "axb", 1},
  {"a**b", "ax/yb", 1},
  {"a**b", "a/b", 0},
  {"/**/", "/", 1},
  {"/**/", "//", 1},
  {"/**/", "/a/b/", 1},
  {"/**/", "/a", 0},
  {"/**/", "", 0},
  {"a/**/b", "a/b", 1},
  {"a/**/b", "a//b", 1},
  {"a/**/b", "a/x/y/b", 1},
  {"a/**/b", "ab", 0},
  {"a/**/b", "a/xb", 0},
  {"a/**/b", "ax/b", 0},
  {"/**/**/x", "/x", 0},
  {"/**/**/x", "/a/b/x", 1},
  {"/**/**/x", "//x", 1},
  {"/**/**/x", "x", 0},
  {"/a/**/**/b", "/a/b", 0},
  {"/a/**/**/b", "/a/x/b", 1},
  {"/a/**/**/b", "/a/x/y/b", 1},
  {"?", "a", 1},
  {"?", "", 0},
  {"?", "/", 0},
  {"?", "ab", 0},
  {"/a?c", "/abc", 1},
  {"/a?c", "/a/c", 0},
  {"??", "ab", 1},
  {"??", "a", 0},
  {"*", "", 1},
  {"*", "abc", 1},
  {"*", "a/b", 0},
  {"/a/*.css", "/a/x.css", 1},
  {"/a/*.css", "/a/b/x.css", 0},
  {"/a*/c", "/ab/c", 1},
  {"/a.b", "/a.b", 1},
  {"/a.b", "/axb", 0},
  {"/a+", "/a+", 1},
  {"/a+", "/aa", 0},
  {"/f(x)", "/f(x)", 1},
  {"/f(x)", "/fx", 0},
  {"/[ab]", "/[ab]", 1},
  {"/[ab]", "/a", 0},
  {"/x|y", "/x|y", 1},
  {"/x|y", "/x", 0},
  {"^/$", "^/$", 1},
  {"/a\\d", "/a\\d", 1},
  {"/a\\d", "/a1", 0},
  {"/{1}", "/{1}", 1},
  {"/Health", "/health", 0},
  {"/health", "/health", 1},
  {" /a ", "/a", 1},
  {"/a b", "/a b", 1},
  {"/a b", "/ab", 0},
  {"/a /**/ b", "/a/b", 1},
  {"/a /**/ b", "/a/x/b", 1},
  {"/a /**/ b", "/a /x/ b", 0},
  {"\t/x\t", "/x", 1},
  {"\x1c/x\x1f", "/x", 1},
  {"/a\v/**/\fb", "/a/b", 1},
  {"/\x1c", "/\x1c", 0},
  {"/a /**/", "/a/", 1},
  {"/**/ ", "/", 1},
  {"", "", 1},
  {"", "/", 0},
  {"   ", "", 1},
};

static void
check_table(const struct ant_case *t, size_t n)
{
  size_t i;

  for (i = 0; i < n; i++) {
    cr_expect_eq(sw_ant_match(t[i].pat, t[i].path), t[i].match,
                 "pattern \"%s\" path \"%s\": expected %s", t[i].pat,
                 t[i].path, t[i].match ? "a match" : "no match");
  }
}

Test(ant, python_examples)
{
  check_table(python_examples, SW_ARRAY_LEN(python_examples));
}

Test(ant, corners)
{
  check_table(corners, SW_ARRAY_LEN(corners));
}

Test(ant, too_long_pattern_never_matches)
{
  static char pat[SW_ANT_PATTERN_MAX + 1];

  memset(pat, 'a', SW_ANT_PATTERN_MAX - 1);
  pat[SW_ANT_PATTERN_MAX - 1] = '\0';
  cr_expect_eq(sw_ant_match(pat, pat), 1, "longest pattern handled");
  pat[SW_ANT_PATTERN_MAX - 2] = '*';
  cr_expect_eq(sw_ant_match(pat, pat), 1, "longest pattern with a star");
  memset(pat, 'a', SW_ANT_PATTERN_MAX);
  pat[SW_ANT_PATTERN_MAX] = '\0';
  cr_expect_eq(sw_ant_match(pat, pat), 0, "one byte too long");
}

/* A backtracking matcher takes exponential time on these. The matcher's
 * work is bounded by pattern length x path length; the test only checks
 * that it returns, and with the right answer. */
Test(ant, pathological_patterns_finish, .timeout = 120)
{
  static char pat[SW_ANT_PATTERN_MAX], path[8192];
  size_t i, n;

  /* "**" "/" "**" "/" ... "x" against "a/a/a/.../a". */
  for (n = 0; n + 4 < sizeof(pat) - 2; n += 3)
    memcpy(pat + n, "**/", 3);
  memcpy(pat + n, "x", 2);
  for (i = 0; i + 2 < sizeof(path); i += 2)
    memcpy(path + i, "a/", 2);
  path[i - 1] = '\0';
  cr_expect_eq(sw_ant_match(pat, path), 0);
  path[i - 2] = 'x';
  cr_expect_eq(sw_ant_match(pat, path), 1);

  /* "*a*a*a...b" against "aaaa...a". */
  for (n = 0; n + 3 < sizeof(pat) - 2; n += 2)
    memcpy(pat + n, "*a", 2);
  memcpy(pat + n, "b", 2);
  memset(path, 'a', sizeof(path) - 1);
  path[sizeof(path) - 1] = '\0';
  cr_expect_eq(sw_ant_match(pat, path), 0);

  /* Many "/" "**" "/" splits against a path of slashes. */
  for (n = 0; n + 5 < sizeof(pat) - 2; n += 4)
    memcpy(pat + n, "/**/", 4);
  memcpy(pat + n, "y", 2);
  memset(path, '/', sizeof(path) - 1);
  cr_expect_eq(sw_ant_match(pat, path), 0);

  /* "*", a long run of kept spaces, "x", against spaces: every path byte
   * starts a new thread in the run. */
  memset(pat, 0, sizeof(pat));
  pat[0] = '*';
  memset(pat + 1, ' ', sizeof(pat) - 3);
  pat[sizeof(pat) - 2] = 'x';
  memset(path, ' ', sizeof(path) - 1);
  cr_expect_eq(sw_ant_match(pat, path), 0);
  path[sizeof(path) - 2] = 'x';
  cr_expect_eq(sw_ant_match(pat, path), 1);
}

/* sw_filter_ignored() with a configuration built from an environment. */
struct env {
  const char *const *kv; /* name, value, ..., NULL */
};

static const char *
env_get(const char *name, void *ud)
{
  const struct env *e = ud;
  size_t i;

  for (i = 0; e->kv[i] != NULL; i += 2) {
    if (strcmp(e->kv[i], name) == 0)
      return e->kv[i + 1];
  }
  return NULL;
}

static int nwarn;

static void
count_warn(const char *name, const char *value, const char *used, void *ud)
{
  nwarn++;
}

static struct sw_config cfg;

/* Every decision is asked of both the reference sw_filter_ignored() and
 * the prepared sw_filter_match(), which must agree, and of the quick
 * pass, which must never let an ignored request through. */
static int
decide(const char *method, const char *op)
{
  struct sw_filter f;
  int want = sw_filter_ignored(&cfg, method, op);

  sw_filter_prepare(&f, &cfg);
  cr_assert_eq(sw_filter_match(&f, method, op, op ? strlen(op) : 0), want,
               "prepared filter differs on %s %s", method ? method : "-",
               op ? op : "-");
  /* The inline quick pass may only ever say "not ignored". */
  if (op && sw_filter_quick_pass(&f, op, strlen(op)))
    cr_assert_eq(want, 0, "quick pass lets %s %s through",
                 method ? method : "-", op);
  return want;
}

static void
setup_env(const char *const *kv)
{
  struct env e = {kv};

  nwarn = 0;
  sw_config_parse(&cfg, env_get, count_warn, &e, "app", 42, "host");
  cr_assert_eq(nwarn, 0, "the test environment is well formed");
}

Test(filter, comma_separated_paths)
{
  static const char *const kv[] = {
    "SW_AGENT_TRACE_IGNORE_PATH", "/health, /static/**", NULL};

  setup_env(kv);
  cr_assert_eq(cfg.ignore_path.n, 2);
  cr_expect_eq(decide("GET", "/health"), 1);
  cr_expect_eq(decide("GET", "/static/a/b"), 1);
  cr_expect_eq(decide("GET", "/static/"), 1);
  cr_expect_eq(decide("GET", "/healthz"), 0);
  cr_expect_eq(decide("GET", "/static"), 0);
  cr_expect_eq(decide(NULL, "/health"), 1);
  cr_expect_eq(decide("GET", ""), 0,
               "an empty operation is never ignored by the path list");
  cr_expect_eq(decide("GET", NULL), 0);
}

Test(filter, no_patterns_ignore_nothing)
{
  static const char *const kv[] = {"SW_AGENT_IGNORE_SUFFIX", ",", NULL};

  setup_env(kv);
  cr_assert_eq(cfg.ignore_path.n, 0);
  cr_assert_eq(cfg.ignore_suffix.n, 0);
  cr_assert_eq(cfg.ignore_method.n, 0);
  cr_expect_eq(decide("GET", "/"), 0);
  cr_expect_eq(decide("GET", "/a.jpg"), 0);
  cr_expect_eq(decide("GET", ""), 0);
  cr_expect_eq(decide("", "/x"), 0);
  cr_expect_eq(decide(NULL, NULL), 0);
}

Test(filter, default_suffixes)
{
  static const char *const kv[] = {NULL};
  static const char *const ignored[] = {
    "/a.jpg", "/a.jpeg", "/app.js", "/s.css", "/i.png", "/i.bmp", "/i.gif",
    "/favicon.ico", "/m.mp3", "/v.mp4", "/index.html", "/logo.svg",
    "x.jpg", "/dir/sub/file.min.js"};
  static const char *const kept[] = {
    ".jpg",      /* Python's '^.+': something must come before */
    "/a.JPG",    /* case-sensitive */
    "/a.jpgx",   /* a suffix, not a substring */
    "/a.json",   /* ".js" is not a prefix match either */
    "/a.htm", "/api/users", "/jpg", ""};
  size_t i;

  setup_env(kv);
  cr_assert_eq(cfg.ignore_suffix.n, 12);
  for (i = 0; i < SW_ARRAY_LEN(ignored); i++)
    cr_expect_eq(decide("GET", ignored[i]), 1, "%s",
                 ignored[i]);
  for (i = 0; i < SW_ARRAY_LEN(kept); i++)
    cr_expect_eq(decide("GET", kept[i]), 0, "%s", kept[i]);
}

Test(filter, custom_suffixes_are_literal)
{
  static const char *const kv[] = {
    "SW_AGENT_IGNORE_SUFFIX", " .txt , .a+b,(x)", NULL};

  setup_env(kv);
  cr_assert_eq(cfg.ignore_suffix.n, 3);
  cr_expect_eq(decide("GET", "/r.txt"), 1);
  cr_expect_eq(decide("GET", "/r.a+b"), 1);
  cr_expect_eq(decide("GET", "/r.aab"), 0);
  cr_expect_eq(decide("GET", "/f(x)"), 1);
  cr_expect_eq(decide("GET", "/fx"), 0);
  cr_expect_eq(decide("GET", "/r.jpg"), 0,
               "the list replaces the defaults");
  cr_expect_eq(decide("GET", ".txt"), 0);
}

Test(filter, methods_case_insensitive_and_exact)
{
  static const char *const kv[] = {
    "SW_PLUGIN_HTTP_IGNORE_METHOD", "get, Head,options", NULL};

  setup_env(kv);
  cr_assert_eq(cfg.ignore_method.n, 3);
  cr_expect_str_eq(cfg.ignore_method.item[0], "GET");
  cr_expect_str_eq(cfg.ignore_method.item[1], "HEAD");
  cr_expect_eq(decide("GET", "/x"), 1);
  cr_expect_eq(decide("get", "/x"), 1);
  cr_expect_eq(decide("gEt", "/x"), 1);
  cr_expect_eq(decide("HEAD", "/x"), 1);
  cr_expect_eq(decide("head", "/x"), 1);
  cr_expect_eq(decide("OPTIONS", ""), 1,
               "the method list applies to an empty operation too");
  /* The Python agent's regex '^GET|HEAD|OPTIONS$' would ignore these. */
  cr_expect_eq(decide("GETX", "/x"), 0);
  cr_expect_eq(decide("XOPTIONS", "/x"), 0);
  cr_expect_eq(decide("GE", "/x"), 0);
  cr_expect_eq(decide("POST", "/x"), 0);
  cr_expect_eq(decide("", "/x"), 0);
  cr_expect_eq(decide(NULL, "/x"), 0);
}

Test(filter, paths_suffixes_and_methods_combined)
{
  static const char *const kv[] = {
    "SW_AGENT_TRACE_IGNORE_PATH", "/api/*/ping,/internal/**",
    "SW_PLUGIN_HTTP_IGNORE_METHOD", "OPTIONS",
    "SW_AGENT_IGNORE_SUFFIX", ".png", NULL};

  setup_env(kv);
  cr_expect_eq(decide("GET", "/api/v1/ping"), 1);
  cr_expect_eq(decide("GET", "/api/v1/pong"), 0);
  cr_expect_eq(decide("POST", "/internal/metrics/x"), 1);
  cr_expect_eq(decide("GET", "/img/a.png"), 1);
  cr_expect_eq(decide("OPTIONS", "/api/v1/users"), 1);
  cr_expect_eq(decide("GET", "/api/v1/users"), 0);
}

/* Random suffix lists (including suffixes that end alike, one that is
 * another's tail, long ones) against random names built from the same
 * pieces: the prepared filter decides exactly as the reference. */
Test(filter, prepared_suffix_check_matches_reference)
{
  static const char *const pieces[] = {
    ".js", "s", ".json", "x.js", "/", "a", ".min.js", ".JS", "js", "\xff",
    "\x01", ".html", ".htm", "l", "/static/app", ".tar.gz", "gz", "."};
  static char env_val[512], op[256];
  static const char *kv[] = {"SW_AGENT_IGNORE_SUFFIX", env_val,
                             "SW_AGENT_TRACE_IGNORE_PATH", NULL, NULL,
                             NULL, NULL};
  unsigned seed = 777;
  int round, k, m;
  size_t o;

  for (round = 0; round < 400; round++) {
    o = 0;
    env_val[0] = '\0';
    m = rand_r(&seed) % 6;
    for (k = 0; k < m; k++) {
      const char *pc = pieces[rand_r(&seed) % SW_ARRAY_LEN(pieces)];
      o += (size_t)snprintf(env_val + o, sizeof(env_val) - o, "%s%s",
                            k ? "," : "", pc);
      if (rand_r(&seed) % 3 == 0)
        o += (size_t)snprintf(env_val + o, sizeof(env_val) - o, "%s",
                              pieces[rand_r(&seed) % SW_ARRAY_LEN(pieces)]);
    }
    /* An ignore path sometimes, so the suffix check is not the last. */
    kv[3] = round % 4 == 0 ? "/static/**" : NULL;
    /* And an ignore method sometimes (the quick pass must step aside). */
    kv[4] = round % 5 == 1 ? "SW_PLUGIN_HTTP_IGNORE_METHOD" : NULL;
    kv[5] = "OPTIONS";
    setup_env(kv);
    for (k = 0; k < 60; k++) {
      o = 0;
      op[0] = '\0';
      m = rand_r(&seed) % 4;
      while (m-- > 0)
        o += (size_t)snprintf(op + o, sizeof(op) - o, "%s",
                              pieces[rand_r(&seed) % SW_ARRAY_LEN(pieces)]);
      (void)decide(k % 5 == 0 ? "OPTIONS" : "GET", op);
    }
  }
}

Test(filter, prepared_filter_with_an_empty_suffix_item)
{
  /* The list parser never makes one; the prepared filter still agrees
   * with the reference, which ignores every non-empty name for it. */
  static const char *const kv[] = {"SW_AGENT_IGNORE_SUFFIX", ".png", NULL};

  setup_env(kv);
  cfg.ignore_suffix.item[cfg.ignore_suffix.n++] = "";
  cr_expect_eq(decide("GET", "/x"), 1);
  cr_expect_eq(decide("GET", ""), 0);
}
