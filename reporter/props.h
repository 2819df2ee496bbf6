/* props.h: the instance properties reported to the backend.
 *
 * Collected once into a plain key/value list, so that every encoder
 * (protobuf for gRPC and Kafka, JSON for HTTP) writes the same list. */
#ifndef SW_REPORTER_PROPS_H
#define SW_REPORTER_PROPS_H

#include "sw_config.h"

#define SW_PROPS_MAX 24
#define SW_PROP_KEY_MAX 32
#define SW_PROP_VALUE_MAX 128

struct sw_props {
  int n;
  struct {
    char key[SW_PROP_KEY_MAX];
    char value[SW_PROP_VALUE_MAX];
  } kv[SW_PROPS_MAX];
};

/* Fills p, in this order: language=C, OS Name (uname sysname, e.g.
 * "Linux"), Process No., hostname, one ipv4 per non-loopback IPv4
 * address of the host (127.0.0.1 when there is none), agent=swpreload,
 * agent_version, and namespace when set. hostname may be NULL or "". */
void sw_props_collect(struct sw_props *p, const struct sw_config *cfg,
                      int pid, const char *hostname);

/* Appends one pair; silently ignored when p is full. */
void sw_props_add(struct sw_props *p, const char *key, const char *value);

#endif
