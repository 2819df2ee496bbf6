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

/* The fields that every start-up writes come first, then the one list
 * with a default (its items and bytes land in the same page), and the
 * four lists that are usually empty (4.6 KB each) last: parsed with
 * sw_config_parse_zeroed() into a page-aligned struct, a default
 * configuration writes to its first page only. */
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
  int inject_headers;                /* SW_AGENT_INJECT_HEADERS */
  int params_length_threshold;       /* SW_PLUGIN_HTTP_HTTP_PARAMS_LENGTH_THRESHOLD */
  int log_safe_mode;                 /* SW_AGENT_LOG_REPORTER_SAFE_MODE */
  char file_path[SW_PATH_MAX];       /* SW_AGENT_FILE_PATH */
  char kafka_servers[SW_BACKEND_MAX];/* SW_KAFKA_BOOTSTRAP_SERVERS */
  char kafka_namespace[SW_NAME_MAX]; /* SW_KAFKA_NAMESPACE */
  char kafka_topic_segment[128];     /* SW_KAFKA_TOPIC_SEGMENT */
  char kafka_topic_management[128];  /* SW_KAFKA_TOPIC_MANAGEMENT */
  struct sw_list ignore_suffix;      /* SW_AGENT_IGNORE_SUFFIX */
  struct sw_list exclude;            /* SW_AGENT_EXCLUDE */
  struct sw_list include;            /* SW_AGENT_INCLUDE */
  struct sw_list ignore_path;        /* SW_AGENT_TRACE_IGNORE_PATH */
  struct sw_list ignore_method;      /* SW_PLUGIN_HTTP_IGNORE_METHOD (upper) */
};

/* Returns the value of an environment variable, or NULL. */
typedef const char *(*sw_getenv_fn)(const char *name, void *ud);
/* Called once per malformed variable. */
typedef void (*sw_warn_fn)(const char *name, const char *value,
                           const char *used, void *ud);

/* Fills *c from the environment given by get. exe_name is the basename of
 * the executable (default service name); pid and host make the default
 * instance name "pid@host". Never fails: bad values fall back to defaults
 * after one warn() each. Every field is set, but only up to what it holds:
 * bytes after a string's terminator and list items past n keep whatever
 * was there (the agent's own configuration starts out zeroed; clearing all
 * 25 KB again used to cost more than the rest of the parse). */
void sw_config_parse(struct sw_config *c, sw_getenv_fn get, sw_warn_fn warn,
                     void *ud, const char *exe_name, int pid,
                     const char *host);

/* sw_config_parse() into a struct that is all zero (never written since
 * it was zeroed). Same result, but what is already zero is not written
 * again: a list left empty is never touched, so neither is its page. */
void sw_config_parse_zeroed(struct sw_config *c, sw_getenv_fn get,
                            sw_warn_fn warn, void *ud, const char *exe_name,
                            int pid, const char *host);

/* Whether the process named exe_name is traced: 0 when SW_AGENT_DISABLE
 * is true, when exe_name matches a pattern of SW_AGENT_EXCLUDE, or when
 * SW_AGENT_INCLUDE has patterns and it matches none of them (fnmatch(),
 * no flags). Reads only these three variables and gives the same answer
 * as sw_config_parse() followed by sw_list_match() on its lists, without
 * writing a struct sw_config or warning. When clean is not NULL, *clean
 * is set to 1 when sw_config_parse() would report none of the three, and
 * to 0 otherwise. */
int sw_config_traced(sw_getenv_fn get, void *ud, const char *exe_name,
                     int *clean);

/* 1 when name matches one of l's patterns (fnmatch(), no flags). */
int sw_list_match(const struct sw_list *l, const char *name);

/* The SW_* entries of an environment, found in one pass over it, so that
 * looking up the 27 variables compares against those entries only instead
 * of scanning the whole environment each time as getenv() does. */
#define SW_ENV_MAX 64
struct sw_env {
  char *const *envp; /* scanned whole by lookups when over SW_ENV_MAX */
  int n;             /* entries found, or -1 when there were too many */
  const char *entry[SW_ENV_MAX]; /* "SW_...", in environment order */
};

/* Collects the entries of envp (NULL-terminated, or NULL) that start with
 * "SW_". envp must stay unchanged while e is used. */
void sw_env_scan(struct sw_env *e, char *const *envp);

/* getenv(name) over the environment e was scanned from (an sw_getenv_fn
 * whose ud is the struct sw_env): the value of the first entry
 * "name=...", or NULL. */
const char *sw_env_get(const char *name, void *ud);

/* 1 when every SW_* variable with a non-empty value is one of names[0..n):
 * sw_config_parse() can then report nothing about the others. */
int sw_env_only(const struct sw_env *e, const char *const *names, size_t n);

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
