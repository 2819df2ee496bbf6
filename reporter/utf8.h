/* utf8.h: UTF-8 validation for the encoders.
 *
 * Whatever the application put on the wire ends up in span strings, and
 * both wire formats want valid UTF-8: a proto3 string field that is not
 * makes the backend's parser reject the whole message (and with it a
 * whole gRPC call of up to a thousand segments), and JSON must be valid
 * UTF-8 too. So every byte that does not belong to a valid sequence
 * (RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF)
 * is replaced with U+FFFD, one per byte. */
#ifndef SW_REPORTER_UTF8_H
#define SW_REPORTER_UTF8_H

#include <stddef.h>
#include <stdint.h>

#define SW_UTF8_REPLACEMENT "\xef\xbf\xbd"

/* The length of the valid sequence starting at p (1 to 4), or 0 when the
 * byte at p does not start one. p is NUL-terminated: the terminator is
 * never a continuation byte, so a sequence cut short is invalid. */
size_t sw_utf8_seq_len(const uint8_t *p);

/* 1 when the NUL-terminated s is valid UTF-8. */
int sw_utf8_valid(const char *s);

/* A malloc()ed copy of s with every invalid byte replaced by U+FFFD, or
 * NULL when out of memory. */
char *sw_utf8_sanitize(const char *s);

#endif
