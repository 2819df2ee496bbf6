/* filter.h: which requests are not traced.
 *
 * Pure, non-allocating and async-signal-safe: called from hooks.
 * - Ant-style ignore paths, with the exact semantics of the SkyWalking
 *   Python agent's regex translation (see README): ? * ** and /<star><star>/.
 *   Case-sensitive, whole-string match.
 * - Ignore suffixes: the operation name ends with one of the items.
 * - Ignore methods: case-insensitive exact match against a list (this
 *   deliberately differs from the Python agent's prefix quirk). */
#ifndef SW_PRELOAD_FILTER_H
#define SW_PRELOAD_FILTER_H

#include <stddef.h>
#include <stdint.h>

#include "sw_config.h"

/* Longest Ant pattern handled is SW_ANT_PATTERN_MAX - 1 bytes; longer ones
 * never match (the configuration drops them with a warning). This bounds
 * the matcher's stack and time. */
#define SW_ANT_PATTERN_MAX 1024

/* 1 when path matches the single Ant pattern pat (whole string). */
int sw_ant_match(const char *pat, const char *path);

/* 1 when op is matched by any ignore-path pattern or ignore suffix, or
 * method by the ignore-method list. method may be NULL. The reference:
 * every list item looked at on every call. */
int sw_filter_ignored(const struct sw_config *c, const char *method,
                      const char *op);

/* The same decisions with what can be worked out once per configuration
 * worked out once: the suffix lengths, and a bitmap of the suffixes' last
 * bytes, so that an operation name whose last byte ends no suffix (most
 * of them: "/", "/api/users") costs one bit test. */
struct sw_filter {
  const struct sw_config *cfg;
  int nsuffix;
  /* 1 when no ignore-method and no ignore-path item is configured: the
   * suffixes alone decide (sw_filter_quick_pass). */
  int suffix_only;
  uint64_t last[4]; /* bit b: some suffix ends in byte b */
  uint16_t suffix_len[SW_MAX_PATTERNS];
};

/* Prepares f for c, which must stay unchanged while f is used. */
void sw_filter_prepare(struct sw_filter *f, const struct sw_config *c);

/* sw_filter_ignored(f->cfg, method, op) for op of length oplen
 * (strlen(op)). */
int sw_filter_match(const struct sw_filter *f, const char *method,
                    const char *op, size_t oplen);

/* 1 when sw_filter_match(f, any method, op, oplen) is 0 for certain
 * without a call: the common case (no method or path lists, the default
 * suffixes, an operation name whose last byte ends none of them). 0 says
 * nothing: ask sw_filter_match(). */
static inline int
sw_filter_quick_pass(const struct sw_filter *f, const char *op, size_t oplen)
{
  unsigned char e;

  if (!f->suffix_only || oplen == 0)
    return 0;
  e = (unsigned char)op[oplen - 1];
  return !(f->last[e / 64] & ((uint64_t)1 << (e % 64)));
}

#endif
