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

#include "sw_config.h"

/* Longest Ant pattern handled is SW_ANT_PATTERN_MAX - 1 bytes; longer ones
 * never match (the configuration drops them with a warning). This bounds
 * the matcher's stack and time. */
#define SW_ANT_PATTERN_MAX 1024

/* 1 when path matches the single Ant pattern pat (whole string). */
int sw_ant_match(const char *pat, const char *path);

/* 1 when op is matched by any ignore-path pattern or ignore suffix, or
 * method by the ignore-method list. method may be NULL. */
int sw_filter_ignored(const struct sw_config *c, const char *method,
                      const char *op);

#endif
