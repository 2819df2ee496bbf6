/* test_ring.c: the MPSC span ring.
 *
 * First the record copies: sw_span_str_copy and sw_span_copy against
 * their references, and the packed form the ring holds (sw_span_pack,
 * sw_span_unpack) against sw_span_copy. Then the ring, single-threaded:
 * the lines a record takes, order over records of every size, wraparound
 * with a pad, full to the exact line, a producer held between claim and
 * commit, reading in place (peek and release), the words release zeroes,
 * no store outside a reservation, a push from a signal handler, reset and
 * fork; and N producers of records of random sizes against one consumer
 * (copying out, or reading in place) checking that no record is lost,
 * duplicated, reordered or torn, and that drops are counted exactly. */
#include "sw_common.h"

#include "ring.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#if defined(__SANITIZE_THREAD__)
#define SW_TEST_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define SW_TEST_TSAN 1
#endif
#endif

#ifndef SW_TEST_TSAN
#include <criterion/criterion.h>
#else
/* Criterion 2.4.1 cannot start under ThreadSanitizer: its runner maps an
 * "inheritable arena" at a random address in the range TSan reserves for
 * itself and aborts ("Could not initialize inheritable arena: Resource
 * temporarily unavailable", Criterion issue #274, still open), or crashes
 * when the mapping happens to succeed. So a TSan build of this file brings
 * its own minimal runner for the few Criterion macros used below: each
 * test runs in a forked child, as Criterion does, and the summary line has
 * Criterion's shape. The executable's main() takes precedence over the one
 * in libcriterion, which is then never entered. */
#include <stdarg.h>
#include <stdio.h>

struct tsan_test {
  const char *name;
  void (*fn)(void);
  unsigned timeout;
};

static struct tsan_test tsan_tests[64];
static int tsan_ntests;

static void
tsan_register(const char *name, void (*fn)(void), unsigned timeout)
{
  if (tsan_ntests < (int)SW_ARRAY_LEN(tsan_tests))
    tsan_tests[tsan_ntests++] = (struct tsan_test){name, fn, timeout};
}

__attribute__((format(printf, 4, 5))) static void
tsan_check(int ok, const char *expr, int line, const char *fmt, ...)
{
  va_list ap;

  if (ok)
    return;
  fprintf(stderr, "[----] %s:%d: Assertion Failed: %s", __FILE__, line,
          expr);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fprintf(stderr, "\n");
  _exit(1);
}

struct tsan_opts {
  unsigned timeout;
};

#define Test(suite, name, ...)                                               \
  static void suite##_##name(void);                                          \
  __attribute__((constructor)) static void suite##_##name##_reg(void)        \
  {                                                                          \
    struct tsan_opts o = {__VA_ARGS__};                                      \
    tsan_register(#suite "::" #name, suite##_##name, o.timeout);             \
  }                                                                          \
  static void suite##_##name(void)
/* The optional message starts on a line of its own; "\n" keeps the format
 * non-empty when no message is given. */
#define SW_T_CHECK(ok, expr, ...)                                            \
  tsan_check((ok), expr, __LINE__, "\n" __VA_ARGS__)
#define cr_assert(c, ...) SW_T_CHECK(!!(c), #c, __VA_ARGS__)
#define cr_assert_eq(a, b, ...)                                              \
  SW_T_CHECK((a) == (b), #a " == " #b, __VA_ARGS__)
#define cr_assert_neq(a, b, ...)                                             \
  SW_T_CHECK((a) != (b), #a " != " #b, __VA_ARGS__)
#define cr_assert_leq(a, b, ...)                                             \
  SW_T_CHECK((a) <= (b), #a " <= " #b, __VA_ARGS__)
#define cr_assert_null(p, ...)                                               \
  SW_T_CHECK((p) == NULL, #p " == NULL", __VA_ARGS__)
#define cr_assert_not_null(p, ...)                                           \
  SW_T_CHECK((p) != NULL, #p " != NULL", __VA_ARGS__)
#define cr_log_info(...)                                                     \
  do {                                                                       \
    fprintf(stderr, "[----] " __VA_ARGS__);                                  \
    fprintf(stderr, "\n");                                                   \
  } while (0)

int
main(void)
{
  int i, pass = 0, fail = 0, crash = 0, status;
  pid_t pid;

  for (i = 0; i < tsan_ntests; i++) {
    fflush(NULL);
    pid = fork();
    if (pid == -1) {
      perror("fork");
      return 1;
    }
    if (pid == 0) {
      alarm(tsan_tests[i].timeout ? tsan_tests[i].timeout : 300);
      tsan_tests[i].fn();
      fflush(NULL);
      _exit(0);
    }
    if (waitpid(pid, &status, 0) != pid) {
      perror("waitpid");
      return 1;
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
      pass++;
      fprintf(stderr, "[PASS] %s\n", tsan_tests[i].name);
    } else if (WIFEXITED(status)) {
      /* Exit code 66 is TSan's: a report was printed. */
      fail++;
      fprintf(stderr, "[FAIL] %s (exit %d)\n", tsan_tests[i].name,
              WEXITSTATUS(status));
    } else {
      crash++;
      fprintf(stderr, "[FAIL] %s: CRASH! (signal %d)\n", tsan_tests[i].name,
              WTERMSIG(status));
    }
  }
  fprintf(stderr,
          "[====] Synthesis: Tested: %d | Passing: %d | Failing: %d | "
          "Crashing: %d \n",
          tsan_ntests, pass, fail, crash);
  return fail + crash ? 1 : 0;
}
#endif

/* sw_span_copy (sw_span.h): onto a record holding an older, longer one,
 * the reader sees exactly the new one; a string with no terminator in its
 * field is cut at the field's last byte; the ref is left alone without
 * has_ref. (Bytes after a terminator inside
 * its field are unspecified: not checked.) */
Test(ring, span_copy_strings_through_the_terminator)
{
  static struct sw_span_rec src, dst, ref_before;

  memset(&dst, 'z', sizeof(dst));
  memset(&src, 0, sizeof(src));
  strcpy(src.trace_id, "t1");
  strcpy(src.segment_id, "s1");
  src.span_id = 3;
  src.parent_span_id = -1;
  src.status = 200;
  src.start_ms = 1700000000000;
  src.end_ms = 1700000000005;
  strcpy(src.method, "GET");
  strcpy(src.op, "/a");
  memset(src.url, 'u', sizeof(src.url)); /* unterminated */
  strcpy(src.peer, "10.0.0.1:80");
  ref_before = dst;
  sw_span_copy(&dst, &src);
  cr_assert(strcmp(dst.trace_id, "t1") == 0);
  cr_assert(strcmp(dst.op, "/a") == 0);
  cr_assert_eq(strlen(dst.url), sizeof(dst.url) - 1);
  cr_assert(strcmp(dst.errlog, "") == 0);
  cr_assert_eq(dst.end_ms, src.end_ms);
  cr_assert_eq(memcmp(&dst.ref, &ref_before.ref, sizeof(dst.ref)), 0);
  src.url[sizeof(src.url) - 1] = '\0';
  cr_assert(sw_span_same(&dst, &src));
  src.has_ref = 1;
  strcpy(src.ref.trace_id, "t0");
  strcpy(src.ref.parent_endpoint, "/up");
  src.ref.parent_span_id = 7;
  cr_assert(!sw_span_same(&src, &dst));
  sw_span_copy(&dst, &src);
  cr_assert(sw_span_same(&dst, &src));
  cr_assert(strcmp(dst.ref.parent_endpoint, "/up") == 0);
  cr_assert_eq(dst.ref.parent_span_id, 7);
  dst.op[0] = 'X';
  cr_assert(!sw_span_same(&dst, &src));
}

/* The reference sw_span_str_copy() must agree with: strnlen, memcpy,
 * terminator (what it was before it copied 16-byte blocks). */
static void
str_copy_ref(char *d, const char *s, size_t cap)
{
  size_t n = strnlen(s, cap - 1);
  memcpy(d, s, n);
  d[n] = '\0';
}

/* Differential: for every field size of a record and every string length
 * from 0 to past the field (no terminator in it), the block copy leaves
 * the same string as the reference, and writes nothing outside the
 * field; the block length agrees with strnlen. */
Test(ring, span_str_copy_matches_reference)
{
  static const size_t caps[] = {16, 17, 31, 33, SW_ID_MAX, SW_NAME_MAX,
                                SW_OP_MAX, SW_URL_MAX, SW_PEER_MAX,
                                SW_METHOD_MAX, SW_ERRLOG_MAX};
  char src[SW_URL_MAX + 32], got[SW_URL_MAX + 64], want[SW_URL_MAX + 64];

  for (size_t ci = 0; ci < SW_ARRAY_LEN(caps); ci++) {
    size_t cap = caps[ci];
    for (size_t len = 0; len <= cap + 1; len++) {
      /* Bytes after the terminator are garbage, not zeros. */
      for (size_t i = 0; i < sizeof(src); i++)
        src[i] = (char)('a' + (i * 7 + len) % 26);
      if (len < cap)
        src[len] = '\0';
      memset(got, '#', sizeof(got));
      memset(want, '#', sizeof(want));
      sw_span_str_copy(got + 16, src, cap);
      str_copy_ref(want + 16, src, cap);
      cr_assert(strcmp(got + 16, want + 16) == 0, "cap %zu len %zu", cap, len);
      /* The length a reader (and the ring's measure) sees, likewise. */
      cr_assert_eq(sw_span_str_len(src, cap), strnlen(src, cap - 1),
                   "cap %zu len %zu: length", cap, len);
      for (size_t i = 0; i < 16; i++)
        cr_assert_eq(got[i], '#', "cap %zu len %zu: wrote before", cap, len);
      for (size_t i = 16 + cap; i < sizeof(got); i++)
        cr_assert_eq(got[i], '#', "cap %zu len %zu: wrote past", cap, len);
    }
  }
}

/* The record copy before it copied the head whole: every string through
 * strnlen. */
static void
span_copy_ref(struct sw_span_rec *dst, const struct sw_span_rec *src)
{
  memcpy(&dst->span_id, &src->span_id,
         offsetof(struct sw_span_rec, method) -
             offsetof(struct sw_span_rec, span_id));
#define REF_STR(f) str_copy_ref(dst->f, src->f, sizeof(dst->f));
  SW_SPAN_STRINGS(REF_STR)
  if (src->has_ref) {
    dst->ref.parent_span_id = src->ref.parent_span_id;
#define REF_REF(f) str_copy_ref(dst->ref.f, src->ref.f, sizeof(dst->ref.f));
    SW_REF_STRINGS(REF_REF)
#undef REF_REF
  }
#undef REF_STR
}

static uint64_t rng_state = 88172645463325252ULL;

static uint64_t
rng(void)
{
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return rng_state;
}

/* A field of garbage with a terminator at a random place, often short,
 * sometimes at the very end or missing. */
static void
rand_str(char *f, size_t cap)
{
  for (size_t i = 0; i < cap; i++)
    f[i] = (char)(' ' + rng() % 94);
  uint64_t k = rng() % 8;
  size_t len = k == 0 ? cap : k == 1 ? cap - 1 : rng() % (cap < 40 ? cap : 40);
  if (len < cap)
    f[len] = '\0';
}

/* A random record: random bytes everywhere (garbage after terminators),
 * each string of random length, filling its field or with no
 * terminator at all (rand_str), a ref or not. */
static void
rand_record(struct sw_span_rec *r)
{
  for (size_t i = 0; i < sizeof(*r); i++)
    ((unsigned char *)r)[i] = (unsigned char)rng();
  r->has_ref = (uint8_t)(rng() & 1);
#define RAND_STR(f) rand_str(r->f, sizeof(r->f));
  SW_SPAN_STRINGS(RAND_STR)
#define RAND_REF(f) rand_str(r->ref.f, sizeof(r->ref.f));
  SW_REF_STRINGS(RAND_REF)
#undef RAND_REF
#undef RAND_STR
}

/* Differential: random records (garbage after terminators, strings that
 * fill their field, none at all) copied onto random records read the
 * same through sw_span_copy as through the reference, numbers included. */
Test(ring, span_copy_matches_reference)
{
  static struct sw_span_rec src, a, b;

  for (int iter = 0; iter < 20000; iter++) {
    rand_record(&src);
    for (size_t i = 0; i < sizeof(a); i++)
      ((unsigned char *)&a)[i] = (unsigned char)rng();
    memcpy(&b, &a, sizeof(b));
    sw_span_copy(&a, &src);
    span_copy_ref(&b, &src);
    cr_assert(sw_span_same(&a, &b), "iter %d", iter);
    cr_assert(sw_span_same(&b, &a), "iter %d", iter);
    /* Every string of the copy is terminated in its field. */
#define TERM(f) cr_assert(memchr(a.f, 0, sizeof(a.f)) != NULL, #f);
    SW_SPAN_STRINGS(TERM)
#undef TERM
    cr_assert_eq(a.start_ms, src.start_ms);
    cr_assert_eq(a.nspans, src.nspans);
  }
}

/* ------------------------------------------------------- packed form */

/* A packed record with guard bytes on both sides, to catch a store that
 * leaves it, and an unpacked one likewise. */
struct guarded_packed {
  unsigned char pre[64];
  struct sw_span_packed p;
  unsigned char post[64];
};

struct guarded_rec {
  unsigned char pre[64];
  struct sw_span_rec r;
  unsigned char post[64];
};

#define GUARD 0xee

static int
all_bytes(const void *p, size_t n, unsigned char b)
{
  for (size_t i = 0; i < n; i++)
    if (((const unsigned char *)p)[i] != b)
      return 0;
  return 1;
}

/* Every string field of a record, in the packed order. */
static const struct str_field {
  const char *name;
  size_t off, cap;
  int ref;
} str_fields[] = {
#define SPAN_FIELD(f)                                                  \
  {#f, offsetof(struct sw_span_rec, f),                                \
   sizeof(((struct sw_span_rec *)0)->f), 0},
#define REF_FIELD(f)                                                   \
  {"ref." #f, offsetof(struct sw_span_rec, ref.f),                     \
   sizeof(((struct sw_span_rec *)0)->ref.f), 1},
    SW_SPAN_STRINGS(SPAN_FIELD) SW_REF_STRINGS(REF_FIELD)
#undef SPAN_FIELD
#undef REF_FIELD
};

/* What sw_span_pack() must return for src: the head and each string
 * packed, cut at its field's last byte, with its terminator. */
static size_t
packed_len_ref(const struct sw_span_rec *src)
{
  size_t n = offsetof(struct sw_span_packed, str);

  for (size_t i = 0; i < SW_ARRAY_LEN(str_fields); i++) {
    const struct str_field *f = &str_fields[i];
    if (f->ref && !src->has_ref)
      continue;
    n += strnlen((const char *)src + f->off, f->cap - 1) + 1;
  }
  return n;
}

/* Packs src into a guarded record (its bytes set to GUARD first) and
 * unpacks it into a guarded record of GUARD bytes; checks the bytes used,
 * the lengths, that no store left the packed struct or reached past 15
 * bytes after the last terminator (one block's spill), and that the
 * unpacked record reads as sw_span_copy(src) does. what names the case. */
static void
check_pack(const struct sw_span_rec *src, const char *what, size_t k)
{
  static struct guarded_packed g;
  static struct guarded_rec u, want;
  const char *s;
  size_t n, i, at;

  memset(&g, GUARD, sizeof(g));
  n = sw_span_pack(&g.p, src);
  cr_assert_eq(n, packed_len_ref(src), "%s %zu: %zu bytes used", what, k, n);
  cr_assert_leq(n, sizeof(g.p), "%s %zu", what, k);
  cr_assert(all_bytes(g.pre, sizeof(g.pre), GUARD), "%s %zu: before", what,
            k);
  cr_assert(all_bytes(g.post, sizeof(g.post), GUARD), "%s %zu: after", what,
            k);
  if (n + 15 < sizeof(g.p))
    cr_assert(all_bytes((const char *)&g.p + n + 15, sizeof(g.p) - n - 15,
                        GUARD),
              "%s %zu: stored past the last block", what, k);
  /* Without a ref, its head fields are not written either. */
  if (!src->has_ref)
    cr_assert(all_bytes(&g.p.ref_parent_span_id,
                        sizeof(g.p.ref_parent_span_id), GUARD) &&
                  all_bytes(&g.p.ref_len, sizeof(g.p.ref_len), GUARD),
              "%s %zu: ref head", what, k);
  /* The strings, back to back, each as long as its length says. */
  s = g.p.str;
  at = 0;
  for (i = 0; i < SW_ARRAY_LEN(str_fields); i++) {
    const struct str_field *f = &str_fields[i];
    const char *sf = (const char *)src + f->off;
    size_t len = strnlen(sf, f->cap - 1);
    uint16_t got;

    if (f->ref && !src->has_ref)
      break;
    memcpy(&got,
           f->ref ? (const char *)&g.p.ref_len + (i - 7) * 2
                  : (const char *)&g.p.len + i * 2,
           sizeof(got));
    cr_assert_eq(got, len, "%s %zu: %s length %u, want %zu", what, k,
                 f->name, got, len);
    cr_assert(memcmp(s + at, sf, len) == 0 && s[at + len] == '\0',
              "%s %zu: %s", what, k, f->name);
    at += len + 1;
  }

  memset(&u, GUARD, sizeof(u));
  memset(&want, GUARD, sizeof(want));
  sw_span_unpack(&u.r, &g.p);
  sw_span_copy(&want.r, src);
  cr_assert(sw_span_same(&u.r, &want.r), "%s %zu: unpacked", what, k);
  cr_assert(sw_span_same(&want.r, &u.r), "%s %zu: unpacked", what, k);
  cr_assert(all_bytes(u.pre, sizeof(u.pre), GUARD), "%s %zu", what, k);
  cr_assert(all_bytes(u.post, sizeof(u.post), GUARD), "%s %zu", what, k);
  /* Without a ref, unpack leaves the destination's alone. */
  if (!src->has_ref)
    cr_assert(all_bytes(&u.r.ref, sizeof(u.r.ref), GUARD), "%s %zu: ref",
              what, k);
  /* The ref's number travels with it; the numbers as one block. */
  if (src->has_ref)
    cr_assert_eq(u.r.ref.parent_span_id, src->ref.parent_span_id);
  cr_assert(memcmp(&u.r.span_id, &src->span_id, SW_SPAN_NUM_LEN) == 0,
            "%s %zu: numbers", what, k);
}

/* One string field at every length from empty to past its field (no
 * terminator in it: cut at the field's last byte), the others empty or
 * at their longest (so that the string under test sits at the end of
 * the arena), with and without a ref. */
Test(ring, pack_every_field_every_length)
{
  static struct sw_span_rec src;

  for (int others = 0; others < 2; others++) {
    for (size_t fi = 0; fi < SW_ARRAY_LEN(str_fields); fi++) {
      const struct str_field *f = &str_fields[fi];
      char *sf = (char *)&src + f->off;

      for (size_t len = 0; len <= f->cap + 8; len++) {
        memset(&src, 0, sizeof(src));
        src.span_id = (int32_t)len;
        src.parent_span_id = -1;
        src.nspans = 3;
        src.kind = SW_SPAN_EXIT;
        src.layer = SW_LAYER_HTTP;
        src.is_error = 1;
        src.component = SW_COMPONENT_CURL;
        src.status = 503;
        src.start_ms = 1700000000000 + (int64_t)fi;
        src.end_ms = 1700000000123;
        src.ref.parent_span_id = 9;
        src.has_ref = (uint8_t)(f->ref || (len & 1));
        for (size_t i = 0; i < SW_ARRAY_LEN(str_fields); i++) {
          const struct str_field *o = &str_fields[i];
          char *of = (char *)&src + o->off;
          /* Longest: every byte but the last; garbage after an empty
           * one, which the pack must not carry. */
          memset(of, 'A' + (int)i, o->cap);
          of[others ? o->cap - 1 : 0] = '\0';
        }
        /* Bytes after the terminator are garbage, not zeros. */
        for (size_t i = 0; i < f->cap; i++)
          sf[i] = (char)('a' + (i * 7 + len) % 26);
        if (len < f->cap)
          sf[len] = '\0';
        check_pack(&src, f->name, len);
      }
    }
  }
}

/* The block copy unpack uses: for every field size and every count, the
 * bytes asked for arrive, and nothing is written outside the field (a
 * stray store into the next field would be hidden in a record: unpack
 * fills that field afterwards). */
Test(ring, blk_copy_stays_in_field)
{
  static const size_t caps[] = {16, 17, 31, 33, SW_ID_MAX, SW_NAME_MAX,
                                SW_OP_MAX, SW_URL_MAX, SW_PEER_MAX,
                                SW_METHOD_MAX, SW_ERRLOG_MAX};
  char src[SW_URL_MAX], got[SW_URL_MAX + 32];

  for (size_t i = 0; i < sizeof(src); i++)
    src[i] = (char)('a' + i % 26);
  for (size_t ci = 0; ci < SW_ARRAY_LEN(caps); ci++) {
    size_t cap = caps[ci];
    for (size_t n = 1; n <= cap; n++) {
      memset(got, GUARD, sizeof(got));
      sw_span_blk_copy(got + 16, src, n, cap);
      cr_assert(memcmp(got + 16, src, n) == 0, "cap %zu n %zu", cap, n);
      cr_assert(all_bytes(got, 16, GUARD), "cap %zu n %zu: before", cap, n);
      cr_assert(all_bytes(got + 16 + cap, sizeof(got) - 16 - cap, GUARD),
                "cap %zu n %zu: past the field", cap, n);
    }
  }
}

/* Every string at its longest, with a ref: the most a record can use,
 * which the cell holds with no store leaving it. */
Test(ring, pack_longest_record)
{
  static struct sw_span_rec src;

  memset(&src, 'x', sizeof(src)); /* no terminator anywhere */
  src.has_ref = 1;
  check_pack(&src, "longest", 0);
  cr_assert_eq(packed_len_ref(&src), offsetof(struct sw_span_packed, str) +
                                         SW_SPAN_STR_CAPS + SW_REF_STR_CAPS);
  cr_assert_leq(packed_len_ref(&src), sizeof(struct sw_span_packed));
  src.has_ref = 0;
  check_pack(&src, "longest without ref", 0);
  cr_assert_eq(packed_len_ref(&src),
               offsetof(struct sw_span_packed, str) + SW_SPAN_STR_CAPS);
}

/* has_ref decides whether the ref's strings are packed (and unpacked):
 * off, its bytes and the ref's head fields are left alone. */
Test(ring, pack_ref_only_with_has_ref)
{
  static struct sw_span_rec src;
  static struct guarded_packed g;
  size_t with, without;

  memset(&src, 0, sizeof(src));
  strcpy(src.trace_id, "0123456789abcdef0123456789abcdef");
  strcpy(src.op, "/a");
  strcpy(src.ref.trace_id, "feedfacefeedfacefeedfacefeedface");
  strcpy(src.ref.parent_endpoint, "/up");
  strcpy(src.ref.peer, "10.1.2.3:80");
  src.ref.parent_span_id = 4;
  src.has_ref = 1;
  memset(&g, GUARD, sizeof(g));
  with = sw_span_pack(&g.p, &src);
  cr_assert_eq(g.p.ref_parent_span_id, 4);
  cr_assert_eq(g.p.ref_len.trace_id, 32);
  cr_assert_eq(g.p.ref_len.parent_endpoint, 3);
  cr_assert_eq(g.p.ref_len.parent_service, 0);
  check_pack(&src, "ref on", 0);

  src.has_ref = 0;
  memset(&g, GUARD, sizeof(g));
  without = sw_span_pack(&g.p, &src);
  cr_assert_eq(with - without, (32 + 1) + 1 + 1 + 1 + (3 + 1) + (11 + 1));
  cr_assert(all_bytes(&g.p.ref_parent_span_id, sizeof(g.p.ref_parent_span_id),
                      GUARD));
  cr_assert(all_bytes(&g.p.ref_len, sizeof(g.p.ref_len), GUARD));
  check_pack(&src, "ref off", 0);
}

/* Differential: random records (garbage after terminators, strings that
 * fill their field, none at all; a ref or not), packed and unpacked,
 * read as sw_span_copy() leaves them. */
Test(ring, pack_unpack_matches_span_copy)
{
  static struct sw_span_rec src;

  for (int iter = 0; iter < 20000; iter++) {
    rand_record(&src);
    check_pack(&src, "iter", (size_t)iter);
  }
}

/* A served request's entry span, as conn.c fills it. */
static void
served_request(struct sw_span_rec *s)
{
  memset(s, 0, sizeof(*s));
  strcpy(s->trace_id, "5f3c0a1b2c3d4e5f60718293a4b5c6d7");
  strcpy(s->segment_id, "5f3c0a1b2c3d4e5f60718293a4b5c6d8");
  s->parent_span_id = -1;
  s->nspans = 1;
  s->kind = SW_SPAN_ENTRY;
  s->layer = SW_LAYER_HTTP;
  s->component = SW_COMPONENT_HTTP;
  s->status = 200;
  s->start_ms = 1700000000000;
  s->end_ms = 1700000000001;
  strcpy(s->method, "GET");
  strcpy(s->op, "/file.txt");
  strcpy(s->url, "http://127.0.0.1:8080/file.txt");
  strcpy(s->peer, "127.0.0.1:50000");
}

/* ------------------------------------------------------------- the ring */

/* The lines a record of used packed bytes takes: its header word, the
 * record and its slack, rounded up to whole lines. */
static uint64_t
lines_for(size_t used)
{
  return (8 + used + SW_SPAN_PACKED_SLACK + 63) / 64;
}

/* The smallest records: every string empty, with and without a ref. */
#define USED_MIN (offsetof(struct sw_span_packed, str) + 7)
#define USED_MIN_REF (USED_MIN + 6)
/* The longest: every string at its longest, without and with a ref. */
#define USED_MAX_NOREF                                                 \
  (offsetof(struct sw_span_packed, str) + SW_SPAN_STR_CAPS)
#define USED_MAX                                                       \
  (offsetof(struct sw_span_packed, str) + SW_SPAN_STR_CAPS + SW_REF_STR_CAPS)

/* The byte field i of the record (tid, seq) is made of: never 0. */
static char
tag_byte(int tid, int64_t seq, size_t i)
{
  return (char)(((unsigned)(seq * 7 + tid * 13) ^ (unsigned)(i * 0x25)) | 1);
}

/* The record (tid, seq) whose packed form uses exactly used bytes: its
 * strings filled in str_fields' order, each up to its longest, with
 * bytes that depend on (tid, seq, field). used is at least USED_MIN (or
 * USED_MIN_REF with a ref) and at most the most the strings can hold. */
static void
rec_make(struct sw_span_rec *rec, int tid, int64_t seq, size_t used,
         int has_ref)
{
  size_t left = used - (has_ref ? USED_MIN_REF : USED_MIN);

  memset(rec, 0, sizeof(*rec));
  rec->span_id = tid;
  rec->start_ms = seq;
  rec->end_ms = ~seq;
  rec->has_ref = (uint8_t)has_ref;
  rec->ref.parent_span_id = (int32_t)(seq ^ tid);
  for (size_t i = 0; i < SW_ARRAY_LEN(str_fields) && left > 0; i++) {
    const struct str_field *f = &str_fields[i];
    size_t n = left < f->cap - 1 ? left : f->cap - 1;

    if (f->ref && !has_ref)
      break;
    memset((char *)rec + f->off, tag_byte(tid, seq, i), n);
    left -= n;
  }
  cr_assert_eq(left, 0, "no record of %zu bytes", used);
}

/* 1 when rec reads as rec_make() made it. */
static int
rec_ok(const struct sw_span_rec *rec, size_t used, int has_ref)
{
  static struct sw_span_rec want;

  rec_make(&want, rec->span_id, rec->start_ms, used, has_ref);
  return rec->has_ref == has_ref && sw_span_same(rec, &want) &&
         sw_span_same(&want, rec);
}

/* The same for a record read in place. */
static int
packed_ok(const struct sw_span_packed *p, size_t used, int has_ref)
{
  static struct sw_span_rec rec;

  memset(&rec, 0, sizeof(rec));
  sw_span_unpack(&rec, p);
  return rec_ok(&rec, used, has_ref);
}

static int
push_rec(struct sw_ring *r, int64_t seq, size_t used, int has_ref)
{
  static struct sw_span_rec rec;
  static struct sw_span_packed whole;

  rec_make(&rec, 0, seq, used, has_ref);
  cr_assert_eq(sw_span_pack(&whole, &rec), used);
  return sw_ring_push(r, &rec);
}

/* A record of k lines exactly (k >= 2): it fills them to the last byte. */
static int
push_lines(struct sw_ring *r, int64_t seq, uint64_t k)
{
  return push_rec(r, seq, (size_t)k * 64 - 8 - SW_SPAN_PACKED_SLACK, 0);
}

/* Pops at most max records (up to 64) and expects want of them, of used
 * bytes, tagged first, first + 1, ... */
static void
pop_n(struct sw_ring *r, size_t max, size_t want, int64_t first, size_t used,
      int has_ref)
{
  static struct sw_span_rec out[64];
  size_t n;

  cr_assert_leq(max, SW_ARRAY_LEN(out));
  n = sw_ring_pop(r, out, max);

  cr_assert_eq(n, want, "popped %zu, wanted %zu", n, want);
  for (size_t i = 0; i < n; i++) {
    cr_assert_eq(out[i].start_ms, first + (int64_t)i);
    cr_assert(rec_ok(&out[i], used, has_ref), "record %zu", i);
  }
}

/* Pops everything there is (up to 64) and expects exactly want records. */
static void
expect_pop(struct sw_ring *r, size_t want, int64_t first, size_t used,
           int has_ref)
{
  pop_n(r, 64, want, first, used, has_ref);
}

/* The first word of the ring's line i (its header when a record or a
 * pad starts there). */
static uint64_t
line_word(const struct sw_ring *r, uint64_t i)
{
  uint64_t w;

  memcpy(&w, r->buf + (i & r->mask) * 64, sizeof(w));
  return w;
}

Test(ring, lines_rounding)
{
  static const struct {
    uint32_t in, lines;
  } cases[] = {
    {0, 64},       {1, 64},        {64, 64},       {65, 128},
    {1000, 1024},  {1024, 1024},   {1025, 2048},   {32768, 32768},
  };
  struct sw_ring r;

  for (size_t i = 0; i < SW_ARRAY_LEN(cases); i++) {
    cr_assert_eq(sw_ring_init(&r, cases[i].in), 0);
    cr_assert_eq(sw_ring_cap(&r), cases[i].lines, "%u lines -> %llu",
                 cases[i].in, (unsigned long long)sw_ring_cap(&r));
    cr_assert_eq(r.map_len, (size_t)cases[i].lines * 64);
    cr_assert_not_null(r.buf);
    sw_ring_destroy(&r);
    cr_assert_null(r.buf);
  }
  /* The configured capacity counts records: 4096 of them, 2 MiB. */
  cr_assert_eq(sw_ring_init(&r, 4096 * SW_RING_LINES_PER_REC), 0);
  cr_assert_eq(r.map_len, 2u << 20);
  sw_ring_destroy(&r);
}

Test(ring, too_large)
{
  struct sw_ring r;
  const struct sw_span_packed *p[1];

  cr_assert_eq(sw_ring_init(&r, UINT32_MAX), -ENOMEM);
  cr_assert_eq(sw_ring_init(&r, (1u << 24) + 1), -ENOMEM);
  cr_assert_null(r.buf);
  /* A failed or destroyed ring is inert, not a crash. */
  cr_assert_eq(push_rec(&r, 1, USED_MIN, 0), -1);
  cr_assert_eq(sw_ring_pop(&r, NULL, 0), 0);
  cr_assert_eq(sw_ring_peek(&r, p, 1), 0);
  cr_assert_eq(sw_ring_cap(&r), 0);
}

Test(ring, empty_pop)
{
  struct sw_ring r;

  cr_assert_eq(sw_ring_init(&r, 64), 0);
  expect_pop(&r, 0, 0, USED_MIN, 0);
  sw_ring_destroy(&r);
}

/* A record takes the lines its header, its bytes and its slack need: at
 * every size, the exact boundary between k and k + 1 lines. */
Test(ring, record_lines)
{
  struct sw_ring r;
  const struct sw_span_packed *p[1];
  uint64_t before, pad;

  cr_assert_eq(lines_for(198), 4); /* a served request */
  cr_assert_eq(lines_for(USED_MAX), 23);
  cr_assert_eq(sw_ring_init(&r, 64), 0);
  for (size_t used = USED_MIN; used <= USED_MAX; used++) {
    int has_ref =
        used > USED_MAX_NOREF || (used >= USED_MIN_REF && used & 1);

    before = atomic_load(&r.head);
    cr_assert_eq(push_rec(&r, (int64_t)used, used, has_ref), 0);
    /* The pad, if any, is the rest of the buffer. */
    pad = (before & 63) + lines_for(used) > 64 ? 64 - (before & 63) : 0;
    cr_assert_eq(atomic_load(&r.head) - before, pad + lines_for(used),
                 "%zu", used);
    cr_assert_eq(sw_ring_used(&r), atomic_load(&r.head) - r.tail);
    cr_assert_eq(sw_ring_peek(&r, p, 1), 1);
    cr_assert(packed_ok(p[0], used, has_ref), "%zu", used);
    cr_assert_eq(line_word(&r, atomic_load(&r.head) - lines_for(used)),
                 lines_for(used) << 1 | 1);
    sw_ring_release(&r, 1);
  }
  cr_assert_eq(sw_ring_used(&r), 0);
  sw_ring_destroy(&r);
}

/* Records of many sizes (short, with a ref, the longest) come out in the
 * order they went in, each as it was. */
Test(ring, push_pop_order_mixed_sizes)
{
  static const struct {
    size_t used;
    int ref;
  } shapes[] = {
    {USED_MIN, 0}, {198, 0}, {USED_MIN_REF, 1}, {USED_MAX, 1}, {700, 1},
    {104, 0},      {105, 0}, {USED_MAX, 1},     {400, 0},     {USED_MIN, 0},
  };
  static struct sw_span_rec out[16];
  struct sw_ring r;
  size_t i;

  cr_assert_eq(sw_ring_init(&r, 128), 0);
  for (i = 0; i < SW_ARRAY_LEN(shapes); i++)
    cr_assert_eq(push_rec(&r, (int64_t)i, shapes[i].used, shapes[i].ref), 0);
  cr_assert_eq(sw_ring_pop(&r, out, SW_ARRAY_LEN(out)), SW_ARRAY_LEN(shapes));
  for (i = 0; i < SW_ARRAY_LEN(shapes); i++) {
    cr_assert_eq(out[i].start_ms, (int64_t)i);
    cr_assert(rec_ok(&out[i], shapes[i].used, shapes[i].ref), "%zu", i);
  }
  expect_pop(&r, 0, 0, USED_MIN, 0);
  sw_ring_destroy(&r);
}

Test(ring, pop_respects_max)
{
  struct sw_ring r;
  struct sw_span_rec out[3];
  int64_t i;

  cr_assert_eq(sw_ring_init(&r, 64), 0);
  for (i = 0; i < 7; i++)
    cr_assert_eq(push_rec(&r, i, 200, 0), 0);
  cr_assert_eq(sw_ring_pop(&r, out, 3), 3);
  cr_assert_eq(out[0].start_ms, 0);
  cr_assert_eq(out[2].start_ms, 2);
  cr_assert_eq(sw_ring_pop(&r, out, 0), 0);
  expect_pop(&r, 4, 3, 200, 0);
  sw_ring_destroy(&r);
}

/* A record that would cross the end of the buffer goes to line 0, behind
 * a pad that takes the rest: read in place as one struct, its pad skipped
 * by peek and given back by release. */
Test(ring, wrap_with_pad)
{
  struct sw_ring r;
  const struct sw_span_packed *p[4];
  int64_t i;

  cr_assert_eq(sw_ring_init(&r, 64), 0);
  /* 58 lines, then a 7-line record: 6 lines left at the end, not 7. */
  for (i = 0; i < 14; i++)
    cr_assert_eq(push_lines(&r, i, 4), 0);
  expect_pop(&r, 14, 0, 4 * 64 - 24, 0);
  cr_assert_eq(push_lines(&r, 14, 2), 0);
  expect_pop(&r, 1, 14, 2 * 64 - 24, 0);
  cr_assert_eq(r.tail, 58);
  cr_assert_eq(push_lines(&r, 15, 7), 0);
  /* The pad's header at line 58, the record's at line 0. */
  cr_assert_eq(atomic_load(&r.head), 64 + 7);
  cr_assert_eq(line_word(&r, 58), 6 << 1);
  cr_assert_eq(line_word(&r, 0), 7 << 1 | 1);
  cr_assert_eq(sw_ring_peek(&r, p, 4), 1);
  cr_assert_eq((const void *)p[0], (const void *)(r.buf + 8));
  cr_assert(packed_ok(p[0], 7 * 64 - 24, 0));
  sw_ring_release(&r, 1);
  cr_assert_eq(r.tail, 64 + 7);
  /* Released: the pad's header is gone with the record's. */
  cr_assert_eq(line_word(&r, 58), 0);
  cr_assert_eq(line_word(&r, 0), 0);
  /* A record that ends exactly at the end of the buffer needs no pad. */
  for (i = 0; i < 13; i++)
    cr_assert_eq(push_lines(&r, 16 + i, 4), 0);
  expect_pop(&r, 13, 16, 4 * 64 - 24, 0);
  cr_assert_eq(push_lines(&r, 29, 5), 0);
  cr_assert_eq(atomic_load(&r.head), 128);
  cr_assert_eq(line_word(&r, 59), 5 << 1 | 1);
  expect_pop(&r, 1, 29, 5 * 64 - 24, 0);
  sw_ring_destroy(&r);
}

/* Uneven records for many laps: head and tail cross the end of the
 * buffer at every line, with and without a pad, and a push is refused
 * only when the lines it needs are not free. */
Test(ring, wraparound_mixed_sizes)
{
  static struct sw_span_rec out[64];
  struct sw_ring r;
  int64_t next_in = 0, next_out = 0;
  uint64_t h, need;

  cr_assert_eq(sw_ring_init(&r, 64), 0);
  for (int round = 0; round < 3000; round++) {
    int batch = 1 + round % 5;
    size_t used[8];
    int64_t first = next_out;
    size_t n;

    for (int k = 0; k < batch; k++) {
      used[k] = USED_MIN + (size_t)((round * 37 + k * 101) % 500);
      h = atomic_load(&r.head);
      need = lines_for(used[k]);
      if ((h & 63) + need > 64)
        need += 64 - (h & 63);
      if (push_rec(&r, next_in, used[k], 0) != 0) {
        cr_assert(h - r.tail + need > 64, "round %d", round);
        break;
      }
      cr_assert_eq(atomic_load(&r.head), h + need);
      next_in++;
    }
    cr_assert_leq(sw_ring_used(&r), 64);
    n = sw_ring_pop(&r, out, SW_ARRAY_LEN(out));
    cr_assert_eq((int64_t)n, next_in - next_out);
    for (size_t k = 0; k < n; k++) {
      cr_assert_eq(out[k].start_ms, first + (int64_t)k);
      cr_assert(rec_ok(&out[k], used[k], 0), "round %d record %zu", round,
                k);
    }
    next_out += (int64_t)n;
    cr_assert_eq(sw_ring_used(&r), 0);
  }
  sw_ring_destroy(&r);
}

/* Full is decided to the line: a record that fits exactly goes in, one
 * line more is refused, at once and every time, with and without a pad,
 * and nothing already in the ring is touched. */
Test(ring, full_exact_boundary)
{
  struct sw_ring r;
  const struct sw_span_packed *p[1];
  int64_t i;

  cr_assert_eq(sw_ring_init(&r, 64), 0);
  for (i = 0; i < 15; i++)
    cr_assert_eq(push_lines(&r, i, 4), 0);
  /* 60 of 64 lines used. */
  cr_assert_eq(push_lines(&r, 100, 5), -1);
  cr_assert_eq(push_lines(&r, 100, 5), -1);
  cr_assert_eq(push_lines(&r, 15, 4), 0);
  cr_assert_eq(sw_ring_used(&r), 64);
  cr_assert_eq(push_lines(&r, 101, 2), -1);
  /* A peeked record still takes its lines. */
  cr_assert_eq(sw_ring_peek(&r, p, 1), 1);
  cr_assert_eq(push_lines(&r, 102, 2), -1);
  sw_ring_release(&r, 1);
  /* 4 lines free, at the start of the buffer; head at the end of it:
   * no pad needed. */
  cr_assert_eq(push_lines(&r, 103, 5), -1);
  cr_assert_eq(push_lines(&r, 16, 4), 0);
  cr_assert_eq(push_lines(&r, 104, 2), -1);
  expect_pop(&r, 16, 1, 4 * 64 - 24, 0);

  /* With a pad: head at line 61 (3 lines to the end) and tail at 3. */
  sw_ring_reset(&r);
  cr_assert_eq(push_lines(&r, 0, 3), 0);
  for (i = 1; i < 14; i++)
    cr_assert_eq(push_lines(&r, i, 4), 0);
  cr_assert_eq(push_lines(&r, 14, 6), 0);
  cr_assert_eq(atomic_load(&r.head), 61);
  cr_assert_eq(sw_ring_peek(&r, p, 1), 1);
  sw_ring_release(&r, 1);
  /* 6 lines free: a 4-line record needs the 3-line pad too. */
  cr_assert_eq(push_lines(&r, 105, 4), -1);
  cr_assert_eq(atomic_load(&r.head), 61);
  /* A 3-line one ends at the end of the buffer. */
  cr_assert_eq(push_lines(&r, 15, 3), 0);
  cr_assert_eq(atomic_load(&r.head), 64);
  cr_assert_eq(push_lines(&r, 106, 4), -1);
  cr_assert_eq(push_lines(&r, 16, 3), 0);
  cr_assert_eq(push_lines(&r, 107, 2), -1);
  /* Two more records out: 4 + 4 lines free. */
  cr_assert_eq(sw_ring_peek(&r, p, 1), 1);
  sw_ring_release(&r, 1);
  cr_assert_eq(sw_ring_peek(&r, p, 1), 1);
  sw_ring_release(&r, 1);
  /* Head at line 3, tail at 11: 8 lines, exactly. */
  cr_assert_eq(push_lines(&r, 108, 9), -1);
  cr_assert_eq(push_lines(&r, 17, 8), 0);
  cr_assert_eq(push_lines(&r, 109, 2), -1);
  sw_ring_destroy(&r);
}

/* A record reserved and not committed: later ones are not held up, but
 * peek stops at it, and they come out after it once it is committed. */
Test(ring, uncommitted_record_stops_peek)
{
  struct sw_ring r;
  static struct sw_span_rec rec;
  const struct sw_span_packed *p[8];
  struct sw_span_packed *slot;
  uint64_t pos;

  cr_assert_eq(sw_ring_init(&r, 64), 0);
  cr_assert_eq(push_rec(&r, 0, 300, 0), 0);
  slot = sw_ring_claim(&r, 300, &pos);
  cr_assert_not_null(slot);
  cr_assert_eq(pos, lines_for(300));
  cr_assert_eq(push_rec(&r, 2, 300, 0), 0);
  cr_assert_eq(push_rec(&r, 3, 300, 0), 0);
  cr_assert_eq(sw_ring_peek(&r, p, 8), 1);
  sw_ring_release(&r, 1);
  cr_assert_eq(sw_ring_peek(&r, p, 8), 0);
  /* Reserved counts as used: the reporter must not sleep long on it. */
  cr_assert_eq(sw_ring_used(&r), 3 * lines_for(300));
  rec_make(&rec, 0, 1, 300, 0);
  sw_span_pack(slot, &rec);
  sw_ring_commit(&r, pos, 300);
  cr_assert_eq(sw_ring_peek(&r, p, 8), 3);
  for (int k = 0; k < 3; k++)
    cr_assert(p[k]->start_ms == k + 1 && packed_ok(p[k], 300, 0));
  sw_ring_release(&r, 3);
  sw_ring_destroy(&r);
}

/* A stalled producer holds the consumer back, so the ring fills behind
 * it: producers are refused, never made to wait. */
Test(ring, uncommitted_record_fills_ring)
{
  struct sw_ring r;
  uint64_t pos;
  int64_t i;

  cr_assert_eq(sw_ring_init(&r, 64), 0);
  cr_assert_not_null(sw_ring_claim(&r, 4 * 64 - 24, &pos));
  for (i = 1; i < 16; i++)
    cr_assert_eq(push_lines(&r, i, 4), 0);
  expect_pop(&r, 0, 0, USED_MIN, 0);
  cr_assert_eq(push_lines(&r, 16, 2), -1);
  sw_ring_destroy(&r);
}

/* peek hands out the records where they are, and again the same ones
 * until they are released; release gives back only as many lines as the
 * records it releases took. */
Test(ring, peek_reads_in_place_until_release)
{
  struct sw_ring r;
  const struct sw_span_packed *p[16], *q[16];
  size_t i;

  cr_assert_eq(sw_ring_init(&r, 64), 0);
  cr_assert_eq(sw_ring_peek(&r, p, 8), 0);
  for (i = 0; i < 5; i++)
    cr_assert_eq(push_rec(&r, (int64_t)i, 100 + 60 * i, i & 1), 0);
  cr_assert_eq(sw_ring_peek(&r, p, 16), 5);
  for (i = 0; i < 5; i++) {
    cr_assert_eq(p[i]->start_ms, (int64_t)i);
    cr_assert(packed_ok(p[i], 100 + 60 * i, i & 1));
    /* In place: in the ring's buffer, 8 bytes into a line. */
    cr_assert((const unsigned char *)p[i] >= r.buf &&
              (const unsigned char *)p[i] < r.buf + r.map_len);
    cr_assert_eq(((const unsigned char *)p[i] - r.buf) % 64, 8);
  }
  /* Not released: the same run again; max is respected. */
  cr_assert_eq(sw_ring_peek(&r, q, 16), 5);
  cr_assert(memcmp(p, q, 5 * sizeof(p[0])) == 0);
  cr_assert_eq(sw_ring_peek(&r, q, 2), 2);
  cr_assert_eq(sw_ring_used(&r), lines_for(100) + lines_for(160) +
                                     lines_for(220) + lines_for(280) +
                                     lines_for(340));
  sw_ring_release(&r, 2);
  cr_assert_eq(sw_ring_used(&r),
               lines_for(220) + lines_for(280) + lines_for(340));
  cr_assert_eq(sw_ring_peek(&r, q, 16), 3);
  cr_assert_eq(q[0], p[2]);
  cr_assert(packed_ok(q[2], 340, 0));
  sw_ring_release(&r, 0);
  sw_ring_release(&r, 3);
  cr_assert_eq(sw_ring_peek(&r, p, 16), 0);
  cr_assert_eq(sw_ring_used(&r), 0);
  sw_ring_destroy(&r);
}

/* Release zeroes the first word of every line the released records and
 * pads took (their headers, and record bytes on the other lines), and
 * only those: the lines are free, and a header yet to come reads 0. */
Test(ring, release_zeroes_first_words)
{
  struct sw_ring r;
  const struct sw_span_packed *p[8];
  uint64_t i, end;

  cr_assert_eq(sw_ring_init(&r, 64), 0);
  /* Longest strings: every line of a record has bytes at its start. */
  cr_assert_eq(push_rec(&r, 0, USED_MAX, 1), 0);   /* lines 0..22 */
  cr_assert_eq(push_rec(&r, 1, USED_MAX, 1), 0);   /* 23..45 */
  cr_assert_eq(push_lines(&r, 2, 10), 0);          /* 46..55 */
  for (i = 1; i < 46; i++)
    cr_assert_neq(line_word(&r, i), 0, "line %llu", (unsigned long long)i);
  cr_assert_eq(sw_ring_peek(&r, p, 8), 3);
  sw_ring_release(&r, 2);
  for (i = 0; i < 46; i++)
    cr_assert_eq(line_word(&r, i), 0, "line %llu", (unsigned long long)i);
  cr_assert_eq(line_word(&r, 46), 10 << 1 | 1);
  cr_assert_neq(line_word(&r, 48), 0);
  /* Then a record behind a pad (lines 56..63), released with it. */
  cr_assert_eq(push_rec(&r, 3, 20 * 64 - 24, 1), 0);
  cr_assert_eq(line_word(&r, 56), 8 << 1);
  cr_assert_eq(sw_ring_peek(&r, p, 8), 2);
  sw_ring_release(&r, 2);
  end = atomic_load(&r.head);
  cr_assert_eq(r.tail, end);
  for (i = 0; i < 64; i++)
    cr_assert_eq(line_word(&r, i), 0, "line %llu", (unsigned long long)i);
  sw_ring_destroy(&r);
}

/* 1 when the bytes [from, to) of the ring hold what canary_fill() put
 * there. */
static int
canary_ok(const struct sw_ring *r, size_t from, size_t to)
{
  for (size_t i = from; i < to; i++)
    if (r->buf[i] != (i % 64 < 8 ? 0 : GUARD))
      return 0;
  return 1;
}

/* Canary bytes everywhere, but the lines' first words, 0 as in free
 * lines. */
static void
canary_fill(struct sw_ring *r)
{
  for (size_t i = 0; i < r->map_len; i++)
    r->buf[i] = i % 64 < 8 ? 0 : GUARD;
}

/* A push writes nothing outside the lines it reserved, and in them
 * nothing past the record's slack: for every record size, at every line
 * of the buffer as its start (with a pad when it does not fit before the
 * end). Single-threaded, canary bytes everywhere around it. */
Test(ring, push_writes_only_its_reservation)
{
  static struct sw_span_rec rec;
  struct sw_ring r;
  const struct sw_span_packed *p[2];
  uint64_t start, k, pad, first;
  size_t used, lim;

  cr_assert_eq(sw_ring_init(&r, 64), 0);
  for (used = USED_MIN; used <= USED_MAX; used++) {
    int has_ref =
        used > USED_MAX_NOREF || (used >= USED_MIN_REF && used % 3 != 0);

    rec_make(&rec, 1, (int64_t)used, used, has_ref);
    k = lines_for(used);
    for (start = 0; start < 64; start++) {
      canary_fill(&r);
      atomic_store(&r.head, 64 + start);
      atomic_store(&r.tail, 64 + start);
      cr_assert_eq(sw_ring_push(&r, &rec), 0);
      pad = start + k > 64 ? 64 - start : 0;
      first = pad ? 0 : start;
      lim = (size_t)first * 64 + 8 + used + 15;
      cr_assert_eq(atomic_load(&r.head), 64 + start + pad + k);
      /* In the record's lines: nothing 15 bytes past its terminator. */
      cr_assert(canary_ok(&r, lim, (size_t)(first + k) * 64),
                "%zu bytes at line %llu: wrote past the slack", used,
                (unsigned long long)start);
      /* Outside: nothing at all, but a pad's header. */
      for (uint64_t l = 0; l < 64; l++) {
        if (l >= first && l < first + k)
          continue;
        cr_assert_eq(line_word(&r, l), pad && l == start ? pad << 1 : 0,
                     "%zu bytes at line %llu: line %llu", used,
                     (unsigned long long)start, (unsigned long long)l);
        cr_assert(canary_ok(&r, l * 64 + 8, l * 64 + 64),
                  "%zu bytes at line %llu: wrote line %llu", used,
                  (unsigned long long)start, (unsigned long long)l);
      }
      cr_assert_eq(sw_ring_peek(&r, p, 2), 1);
      cr_assert(packed_ok(p[0], used, has_ref));
      sw_ring_release(&r, 1);
    }
  }
  sw_ring_destroy(&r);
}

static struct sw_ring sig_ring;
static volatile sig_atomic_t sig_push_rc = 99;

static void
on_sigusr1(int sig)
{
  static struct sw_span_rec rec;

  (void)sig;
  rec_make(&rec, 0, 1, 500, 1);
  sig_push_rc = sw_ring_push(&sig_ring, &rec);
}

/* Interrupted between reservation and commit: the handler's push must
 * not wait for the interrupted one (it would wait forever). The
 * interrupted record is 3 lines from the end: the handler's goes to line
 * 0, behind a pad. */
Test(ring, push_from_signal_handler_mid_push)
{
  static struct sw_span_rec rec;
  struct sigaction sa;
  struct sw_span_packed *slot;
  uint64_t pos;
  int64_t i;

  cr_assert_eq(sw_ring_init(&sig_ring, 64), 0);
  for (i = 0; i < 14; i++)
    cr_assert_eq(push_lines(&sig_ring, 100 + i, 4), 0);
  expect_pop(&sig_ring, 14, 100, 4 * 64 - 24, 0);
  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = on_sigusr1;
  sigemptyset(&sa.sa_mask);
  cr_assert_eq(sigaction(SIGUSR1, &sa, NULL), 0);
  slot = sw_ring_claim(&sig_ring, 5 * 64 - 24, &pos);
  cr_assert_not_null(slot);
  raise(SIGUSR1);
  cr_assert_eq(sig_push_rc, 0);
  cr_assert_eq(line_word(&sig_ring, 61), 3 << 1);
  rec_make(&rec, 0, 0, 5 * 64 - 24, 0);
  sw_span_pack(slot, &rec);
  sw_ring_commit(&sig_ring, pos, 5 * 64 - 24);
  pop_n(&sig_ring, 1, 1, 0, 5 * 64 - 24, 0);
  expect_pop(&sig_ring, 1, 1, 500, 1);
  sw_ring_destroy(&sig_ring);
}

Test(ring, reset_drops_everything)
{
  struct sw_ring r;
  uint64_t pos;
  int64_t i;

  cr_assert_eq(sw_ring_init(&r, 64), 0);
  for (i = 0; i < 5; i++)
    cr_assert_eq(push_lines(&r, i, 5), 0);
  cr_assert_eq(sw_ring_pop(&r, &(struct sw_span_rec){0}, 1), 1);
  /* A producer thread that was mid-push when fork() copied the process
   * does not exist in the child: its reservation must not wedge it. */
  cr_assert_not_null(sw_ring_claim(&r, 200, &pos));
  sw_ring_reset(&r);
  cr_assert_eq(atomic_load(&r.head), 0);
  cr_assert_eq(r.tail, 0);
  cr_assert_eq(sw_ring_cap(&r), 64);
  for (i = 0; i < 64; i++)
    cr_assert_eq(line_word(&r, (uint64_t)i), 0);
  expect_pop(&r, 0, 0, USED_MIN, 0);
  for (i = 0; i < 16; i++)
    cr_assert_eq(push_lines(&r, 100 + i, 4), 0);
  cr_assert_eq(push_lines(&r, 0, 2), -1);
  expect_pop(&r, 16, 100, 4 * 64 - 24, 0);
  sw_ring_destroy(&r);
}

Test(ring, reset_in_forked_child)
{
  struct sw_ring r;
  static struct sw_span_rec out[32];
  pid_t pid;
  int status, i;

  cr_assert_eq(sw_ring_init(&r, 64), 0);
  for (i = 0; i < 3; i++)
    cr_assert_eq(push_rec(&r, i, 300, 1), 0);
  pid = fork();
  cr_assert_neq(pid, -1);
  if (pid == 0) {
    /* The child: reset, then one full ring of its own records. */
    int bad = 0;

    sw_ring_reset(&r);
    bad |= sw_ring_pop(&r, out, 32) != 0;
    for (i = 0; i < 16; i++)
      bad |= push_lines(&r, 10 + i, 4) != 0;
    bad |= push_lines(&r, 99, 2) != -1;
    bad |= sw_ring_pop(&r, out, 32) != 16;
    for (i = 0; i < 16; i++)
      bad |= out[i].start_ms != 10 + i || !rec_ok(&out[i], 4 * 64 - 24, 0);
    _exit(bad ? 1 : 0);
  }
  cr_assert_eq(waitpid(pid, &status, 0), pid);
  cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
            "child status %#x", status);
  /* The child's reset did not touch the parent's records. */
  expect_pop(&r, 3, 0, 300, 1);
  sw_ring_destroy(&r);
}

/* What the packed form is for: a push of a served request writes 4 lines
 * (its header word included), where a record at fixed offsets spans 7. */
Test(ring, served_request_takes_4_lines)
{
  static struct sw_span_rec s;
  struct sw_ring r;
  const struct sw_span_packed *p[1];
  size_t last = 0;

  served_request(&s);
  cr_assert_eq(sw_ring_init(&r, 64), 0);
  canary_fill(&r);
  cr_assert_eq(sw_ring_push(&r, &s), 0);
  for (size_t i = 8; i < r.map_len; i++)
    if (r.buf[i] != GUARD && i % 64 >= 8)
      last = i;
  cr_log_info("served request: %zu bytes packed, last byte written at %zu: "
              "%zu lines",
              packed_len_ref(&s), last, last / 64 + 1);
  cr_assert_eq(atomic_load(&r.head), 4);
  cr_assert_leq(last, 4 * 64 - 1, "%zu", last);
  cr_assert_eq(sw_ring_peek(&r, p, 1), 1);
  check_pack(&s, "served", 0);
  sw_ring_release(&r, 1);
  sw_ring_destroy(&r);
}

/* A peeked run over records of different lengths, the longest included:
 * each unpacking as the record pushed reads. */
Test(ring, peek_run_over_packed_records)
{
  static struct sw_span_rec in[8], out, want;
  struct sw_ring r;
  const struct sw_span_packed *p[8];
  size_t i;

  cr_assert_eq(sw_ring_init(&r, 256), 0);
  for (i = 0; i < 8; i++) {
    served_request(&in[i]);
    in[i].start_ms += (int64_t)i;
    if (i % 3 == 1) {
      memset(&in[i], 'y', sizeof(in[i])); /* every string at its longest */
      in[i].start_ms = (int64_t)i;
      in[i].has_ref = 1;
    } else if (i % 3 == 2) {
      in[i].has_ref = 1;
      strcpy(in[i].ref.trace_id, "t");
      strcpy(in[i].ref.parent_endpoint, "/up");
      in[i].ref.parent_span_id = (int32_t)i;
    }
    cr_assert_eq(sw_ring_push(&r, &in[i]), 0);
  }
  cr_assert_eq(sw_ring_peek(&r, p, 8), 8);
  for (i = 0; i < 8; i++) {
    cr_assert_eq(p[i]->start_ms, in[i].start_ms);
    memset(&out, 0, sizeof(out));
    memset(&want, 0, sizeof(want));
    sw_span_unpack(&out, p[i]);
    sw_span_copy(&want, &in[i]);
    cr_assert(sw_span_same(&out, &want) && sw_span_same(&want, &out),
              "record %zu", i);
  }
  sw_ring_release(&r, 8);
  sw_ring_destroy(&r);
}

/* ---------------------------------------------------------------- MPSC */

#define MAX_PROD 8

/* The size of producer tid's record seq: random, from the shortest to
 * the longest, most of them of a served request's size or so. */
static size_t
mpsc_used(int tid, int64_t seq, int *has_ref)
{
  uint64_t h = (uint64_t)seq * 0x9e3779b97f4a7c15ull ^ (uint64_t)tid << 56;

  h ^= h >> 29;
  h *= 0xbf58476d1ce4e5b9ull;
  h ^= h >> 32;
  *has_ref = (int)(h & 1);
  if ((h >> 1) % 16 == 0)
    return *has_ref ? USED_MAX : USED_MAX_NOREF;
  return (*has_ref ? USED_MIN_REF : USED_MIN) + (size_t)((h >> 8) % 400);
}

struct mpsc {
  struct sw_ring ring;
  int nprod;
  int64_t per_prod;
  atomic_int go;
  atomic_int done;
  /* dropped[t][s]: producer t's push of sequence s returned -1. Written by
   * producer t only, read by the consumer after joining it. */
  unsigned char *dropped[MAX_PROD];
  int64_t ndropped[MAX_PROD];
};

struct prod_arg {
  struct mpsc *m;
  int tid;
};

static void *
producer(void *arg)
{
  struct prod_arg *pa = arg;
  struct mpsc *m = pa->m;
  struct sw_span_rec *rec = malloc(sizeof(*rec));
  int64_t s;
  int has_ref;

  cr_assert_not_null(rec);
  /* Start together, to maximise contention on head. */
  while (!atomic_load_explicit(&m->go, memory_order_acquire))
    sched_yield();
  for (s = 0; s < m->per_prod; s++) {
    size_t used = mpsc_used(pa->tid, s, &has_ref);

    rec_make(rec, pa->tid, s, used, has_ref);
    if (sw_ring_push(&m->ring, rec) != 0) {
      m->dropped[pa->tid][s] = 1;
      m->ndropped[pa->tid]++;
      /* Full: give the consumer the CPU (2 cores shared by everyone). */
      sched_yield();
    }
  }
  free(rec);
  atomic_fetch_add_explicit(&m->done, 1, memory_order_release);
  return NULL;
}

/* nprod producers push per_prod records each, of random sizes, into a
 * ring of lines lines while this thread takes them out; then checks every
 * (producer, sequence) was either taken exactly once, intact, or counted
 * as dropped, never both, and that each producer's records came out in
 * the order it pushed them. */
static void
run_mpsc(int nprod, int64_t per_prod, uint32_t lines, int expect_no_drops,
         int in_place)
{
  static struct mpsc m;
  struct prod_arg pa[MAX_PROD];
  pthread_t th[MAX_PROD];
  static struct sw_span_rec buf[32];
  const struct sw_span_packed *run[32];
  unsigned char *seen[MAX_PROD];
  int64_t last[MAX_PROD], popped = 0, dropped = 0, bad_tag = 0;
  int64_t dup = 0, reorder = 0, torn = 0, both = 0, missing = 0;
  int t, finished = 0, has_ref;
  int64_t s;
  size_t n, i, used;

  cr_assert_leq(nprod, MAX_PROD);
  memset(&m, 0, sizeof(m));
  cr_assert_eq(sw_ring_init(&m.ring, lines), 0);
  m.nprod = nprod;
  m.per_prod = per_prod;
  for (t = 0; t < nprod; t++) {
    m.dropped[t] = calloc((size_t)per_prod, 1);
    seen[t] = calloc((size_t)per_prod, 1);
    cr_assert(m.dropped[t] != NULL && seen[t] != NULL);
    last[t] = -1;
    pa[t].m = &m;
    pa[t].tid = t;
    cr_assert_eq(pthread_create(&th[t], NULL, producer, &pa[t]), 0);
  }
  atomic_store_explicit(&m.go, 1, memory_order_release);

  for (;;) {
    if (in_place)
      n = sw_ring_peek(&m.ring, run, SW_ARRAY_LEN(run));
    else
      n = sw_ring_pop(&m.ring, buf, SW_ARRAY_LEN(buf));
    for (i = 0; i < n; i++) {
      const struct sw_span_rec *rec = &buf[i];

      if (in_place) {
        /* Read in place: unpacked straight from the ring, before the
         * release below hands it back. */
        sw_span_unpack(&buf[0], run[i]);
        rec = &buf[0];
      }

      t = rec->span_id;
      s = rec->start_ms;
      if (t < 0 || t >= nprod || s < 0 || s >= per_prod) {
        bad_tag++;
        continue;
      }
      used = mpsc_used(t, s, &has_ref);
      if (!rec_ok(rec, used, has_ref))
        torn++;
      if (seen[t][s]++)
        dup++;
      if (s <= last[t])
        reorder++;
      last[t] = s;
      popped++;
    }
    if (in_place)
      sw_ring_release(&m.ring, n);
    if (n > 0)
      continue;
    if (finished)
      break;
    /* Acquire, pairs with each producer's release increment: once all
     * have finished, every push they made is committed, so one more
     * round of pops until empty drains the ring. */
    if (atomic_load_explicit(&m.done, memory_order_acquire) == nprod)
      finished = 1;
    else
      sched_yield();
  }
  for (t = 0; t < nprod; t++)
    cr_assert_eq(pthread_join(th[t], NULL), 0);

  for (t = 0; t < nprod; t++) {
    dropped += m.ndropped[t];
    for (s = 0; s < per_prod; s++) {
      if (seen[t][s] && m.dropped[t][s])
        both++;
      else if (!seen[t][s] && !m.dropped[t][s])
        missing++;
    }
  }
  cr_assert_eq(bad_tag, 0, "%lld records with impossible tags",
               (long long)bad_tag);
  cr_assert_eq(torn, 0, "%lld torn records", (long long)torn);
  cr_assert_eq(dup, 0, "%lld duplicates", (long long)dup);
  cr_assert_eq(reorder, 0, "%lld out of order", (long long)reorder);
  cr_assert_eq(both, 0, "%lld popped although reported dropped",
               (long long)both);
  cr_assert_eq(missing, 0, "%lld lost", (long long)missing);
  cr_assert_eq(popped + dropped, (int64_t)nprod * per_prod,
               "sent %lld != popped %lld + dropped %lld",
               (long long)nprod * per_prod, (long long)popped,
               (long long)dropped);
  if (expect_no_drops)
    cr_assert_eq(dropped, 0);
  cr_assert_eq(sw_ring_pop(&m.ring, buf, SW_ARRAY_LEN(buf)), 0);
  cr_assert_eq(sw_ring_used(&m.ring), 0);
  cr_log_info("mpsc %d x %lld, %u lines: popped %lld, dropped %lld", nprod,
              (long long)per_prod, lines, (long long)popped,
              (long long)dropped);
  for (t = 0; t < nprod; t++) {
    free(m.dropped[t]);
    free(seen[t]);
  }
  sw_ring_destroy(&m.ring);
}

/* A small ring: constant wraparound and pads, contention and drops. */
Test(ring_mpsc, four_producers_small_ring, .timeout = 240)
{
  run_mpsc(4, 100000, 256, 0, 0);
}

/* The same, the consumer reading in place: a producer must never write
 * into lines the consumer is still reading. */
Test(ring_mpsc, four_producers_small_ring_in_place, .timeout = 240)
{
  run_mpsc(4, 100000, 256, 0, 1);
}

/* The smallest ring: a few records at a time, pads all the time. */
Test(ring_mpsc, four_producers_smallest_ring, .timeout = 240)
{
  run_mpsc(4, 50000, 64, 0, 0);
}

Test(ring_mpsc, four_producers_smallest_ring_in_place, .timeout = 240)
{
  run_mpsc(4, 50000, 64, 0, 1);
}

/* Room for everything: nothing may be dropped at all. */
Test(ring_mpsc, eight_producers_no_drops, .timeout = 240)
{
  run_mpsc(8, 4096, 8 * 4096 * 24, 1, 0);
}
