/* sw_config.h: every SW_* environment variable, read once at start.
 *
 * sw_config_parse() is pure: it takes a lookup function instead of calling
 * getenv(), and reports each malformed value once through a warn callback
 * (variable name, bad value, default used), so unit tests can drive it.
 * The result is read-only after init (const struct sw_config *). */
#ifndef SW_PRELOAD_SW_CONFIG_H
#define SW_PRELOAD_SW_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "sw_span.h"

#define SW_MAX_PATTERNS 64  /* ignore-path / suffix / method / exclude items */
#define SW_PATTERN_BUF 4096 /* bytes for all items of one list */
#define SW_BACKEND_MAX 256
#define SW_AUTH_MAX 256
#define SW_PATH_MAX 512

enum sw_protocol { SW_PROTO_GRPC = 0, SW_PROTO_HTTP, SW_PROTO_KAFKA, SW_PROTO_FILE };

enum sw_log_level {
  SW_LOG_DEBUG = 0,
  SW_LOG_INFO,
  SW_LOG_WARNING,
  SW_LOG_ERROR,
  SW_LOG_OFF
};

/* A comma-separated list split into trimmed, NUL-terminated items that
 * live in buf. Empty items are skipped. */
struct sw_list {
  int n;
  const char *item[SW_MAX_PATTERNS];
  char buf[SW_PATTERN_BUF];
};

struct sw_config {
  int disabled;                      /* SW_AGENT_DISABLE */
  char service[SW_NAME_MAX];         /* SW_AGENT_NAME (+ "|namespace") */
  char instance[SW_NAME_MAX];        /* SW_AGENT_INSTANCE_NAME */
  int instance_is_default;           /* recomputed after fork */
  char namespace_[SW_NAME_MAX];      /* SW_AGENT_NAMESPACE */
  char backend[SW_BACKEND_MAX];      /* SW_AGENT_COLLECTOR_BACKEND_SERVICES */
  enum sw_protocol protocol;         /* SW_AGENT_PROTOCOL */
  int force_tls;                     /* SW_AGENT_FORCE_TLS */
  char authentication[SW_AUTH_MAX];  /* SW_AGENT_AUTHENTICATION */
  int heartbeat_period_s;            /* SW_AGENT_COLLECTOR_HEARTBEAT_PERIOD */
  int properties_factor;             /* ..._PROPERTIES_REPORT_PERIOD_FACTOR */
  uint32_t ring_size;                /* SW_AGENT_TRACE_REPORTER_MAX_BUFFER_SIZE,
                                        rounded up to a power of two */
  enum sw_log_level log_level;       /* SW_AGENT_LOGGING_LEVEL */
  int flush_timeout_ms;              /* SW_AGENT_FLUSH_TIMEOUT_MS */
  int queue_timeout_ms;              /* SW_AGENT_QUEUE_TIMEOUT (s) */
  struct sw_list ignore_path;        /* SW_AGENT_TRACE_IGNORE_PATH */
  struct sw_list ignore_suffix;      /* SW_AGENT_IGNORE_SUFFIX */
  struct sw_list ignore_method;      /* SW_PLUGIN_HTTP_IGNORE_METHOD (upper) */
  int inject_headers;                /* SW_AGENT_INJECT_HEADERS */
  int params_length_threshold;       /* SW_PLUGIN_HTTP_HTTP_PARAMS_LENGTH_THRESHOLD */
  int log_safe_mode;                 /* SW_AGENT_LOG_REPORTER_SAFE_MODE */
  char file_path[SW_PATH_MAX];       /* SW_AGENT_FILE_PATH */
  struct sw_list exclude;            /* SW_AGENT_EXCLUDE */
  struct sw_list include;            /* SW_AGENT_INCLUDE */
  char kafka_servers[SW_BACKEND_MAX];/* SW_KAFKA_BOOTSTRAP_SERVERS */
  char kafka_namespace[SW_NAME_MAX]; /* SW_KAFKA_NAMESPACE */
  char kafka_topic_segment[128];     /* SW_KAFKA_TOPIC_SEGMENT */
  char kafka_topic_management[128];  /* SW_KAFKA_TOPIC_MANAGEMENT */
};

/* Returns the value of an environment variable, or NULL. */
typedef const char *(*sw_getenv_fn)(const char *name, void *ud);
/* Called once per malformed variable. */
typedef void (*sw_warn_fn)(const char *name, const char *value,
                           const char *used, void *ud);

/* Fills *c from the environment given by get. exe_name is the basename of
 * the executable (default service name); pid and host make the default
 * instance name "pid@host". Never fails: bad values fall back to defaults
 * after one warn() each. */
void sw_config_parse(struct sw_config *c, sw_getenv_fn get, sw_warn_fn warn,
                     void *ud, const char *exe_name, int pid,
                     const char *host);

/* Splits s on commas into l; upper-cases items when upper is set.
 * Returns 0, or -1 when items were dropped (too many or too long). */
int sw_list_parse(struct sw_list *l, const char *s, int upper);

const char *sw_protocol_name(enum sw_protocol p);

/* Writes the effective settings, one "SW_NAME=value" line per variable
 * (the authentication token shown only as "(set)"), into buf, truncated
 * and terminated like snprintf. Returns the length the full text needs.
 * With an empty environment this is the list of defaults. */
size_t sw_config_format(const struct sw_config *c, char *buf, size_t cap);

#endif
