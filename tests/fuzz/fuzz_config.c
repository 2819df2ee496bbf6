/* fuzz_config.c: libFuzzer target for SW_* parsing.
 *
 * The input is split on '\n' into values, which are handed out in order
 * to the variables below (missing ones are unset; an empty line is an
 * empty value). The target checks the invariants the rest of the agent
 * relies on: at most one warning per variable, every string terminated
 * inside its field, numbers within their ranges, a power-of-two ring,
 * list items non-empty, trimmed and inside the list buffer. The parsed
 * lists are then used by the filter, as the hooks would. The constructor's
 * fast paths are checked against the full parse: parsing into a struct
 * full of garbage, or with sw_config_parse_zeroed() into a zeroed one,
 * gives the same configuration, and sw_config_traced() the same decision
 * (and the same "would warn" answer) as matching the parsed lists.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -Ipreload \
 *     tests/fuzz/fuzz_config.c preload/sw_config.c preload/filter.c \
 *     -o fuzz_config
 *   ./fuzz_config -max_total_time=30 tests/fuzz/corpus/config */
#include "sw_common.h"

#include "filter.h"
#include "sw_config.h"

#include <stdlib.h>

static const char *const vars[] = {
  "SW_AGENT_COLLECTOR_BACKEND_SERVICES",
  "SW_AGENT_PROTOCOL",
  "SW_AGENT_NAME",
  "SW_AGENT_NAMESPACE",
  "SW_AGENT_TRACE_IGNORE_PATH",
  "SW_AGENT_IGNORE_SUFFIX",
  "SW_PLUGIN_HTTP_IGNORE_METHOD",
  "SW_AGENT_COLLECTOR_HEARTBEAT_PERIOD",
  "SW_AGENT_TRACE_REPORTER_MAX_BUFFER_SIZE",
  "SW_AGENT_LOGGING_LEVEL",
  "SW_PLUGIN_HTTP_HTTP_PARAMS_LENGTH_THRESHOLD",
  "SW_AGENT_DISABLE",
  "SW_AGENT_INSTANCE_NAME",
  "SW_AGENT_QUEUE_TIMEOUT",
  "SW_AGENT_FILE_PATH",
  "SW_AGENT_EXCLUDE",
  "SW_KAFKA_TOPIC_SEGMENT",
  "SW_AGENT_AUTHENTICATION",
  "SW_AGENT_INCLUDE",
};

#define NVARS (sizeof(vars) / sizeof(vars[0]))

struct fuzz_env {
  const char *value[NVARS];
  int warned[NVARS];
};

static const char *
fuzz_get(const char *name, void *ud)
{
  struct fuzz_env *e = ud;
  size_t i;

  for (i = 0; i < NVARS; i++) {
    if (strcmp(vars[i], name) == 0)
      return e->value[i];
  }
  return NULL;
}

static void
fuzz_warn(const char *name, const char *value, const char *used, void *ud)
{
  struct fuzz_env *e = ud;
  size_t i;

  if (name == NULL || value == NULL || used == NULL)
    abort();
  (void)strlen(used);
  for (i = 0; i < NVARS; i++) {
    if (strcmp(vars[i], name) == 0) {
      if (e->value[i] != value || e->warned[i]++ != 0)
        abort(); /* a copy, or a second warning for the same variable */
      return;
    }
  }
  abort(); /* a warning for a variable that was not set */
}

static void
check_str(const char *s, size_t cap)
{
  if (memchr(s, '\0', cap) == NULL)
    abort();
}

static void
check_list(const struct sw_list *l, size_t maxlen)
{
  size_t len;
  int i;

  if (l->n < 0 || l->n > SW_MAX_PATTERNS)
    abort();
  for (i = 0; i < l->n; i++) {
    if (l->item[i] < l->buf || l->item[i] >= l->buf + SW_PATTERN_BUF)
      abort();
    len = strnlen(l->item[i], (size_t)(l->buf + SW_PATTERN_BUF - l->item[i]));
    if (len == 0 || len > maxlen || l->item[i] + len >= l->buf + SW_PATTERN_BUF)
      abort();
    if (l->item[i][0] == ' ' || l->item[i][len - 1] == ' ')
      abort();
  }
}

static void
same_str(const char *a, const char *b)
{
  if (strcmp(a, b) != 0)
    abort();
}

static void
same_list(const struct sw_list *a, const struct sw_list *b)
{
  int i;

  if (a->n != b->n)
    abort();
  for (i = 0; i < a->n; i++)
    same_str(a->item[i], b->item[i]);
}

/* Field by field (bytes after terminators and items past n may differ). */
static void
same_config(const struct sw_config *a, const struct sw_config *b)
{
  if (a->disabled != b->disabled || a->instance_is_default != b->instance_is_default ||
      a->protocol != b->protocol || a->force_tls != b->force_tls ||
      a->heartbeat_period_s != b->heartbeat_period_s ||
      a->properties_factor != b->properties_factor ||
      a->ring_size != b->ring_size || a->log_level != b->log_level ||
      a->flush_timeout_ms != b->flush_timeout_ms ||
      a->queue_timeout_ms != b->queue_timeout_ms ||
      a->inject_headers != b->inject_headers ||
      a->params_length_threshold != b->params_length_threshold ||
      a->log_safe_mode != b->log_safe_mode)
    abort();
  same_str(a->service, b->service);
  same_str(a->instance, b->instance);
  same_str(a->namespace_, b->namespace_);
  same_str(a->backend, b->backend);
  same_str(a->authentication, b->authentication);
  same_str(a->file_path, b->file_path);
  same_str(a->kafka_servers, b->kafka_servers);
  same_str(a->kafka_namespace, b->kafka_namespace);
  same_str(a->kafka_topic_segment, b->kafka_topic_segment);
  same_str(a->kafka_topic_management, b->kafka_topic_management);
  same_list(&a->ignore_suffix, &b->ignore_suffix);
  same_list(&a->exclude, &b->exclude);
  same_list(&a->include, &b->include);
  same_list(&a->ignore_path, &b->ignore_path);
  same_list(&a->ignore_method, &b->ignore_method);
}

static size_t
var_index(const char *name)
{
  size_t i;

  for (i = 0; i < NVARS; i++) {
    if (strcmp(vars[i], name) == 0)
      return i;
  }
  abort();
}

/* sw_config_traced() against the parsed configuration, for exe. */
static void
check_traced(const struct sw_config *c, struct fuzz_env *e, const char *exe)
{
  int clean = -1, want_clean, want;

  want = !c->disabled && !sw_list_match(&c->exclude, exe) &&
         (c->include.n == 0 || sw_list_match(&c->include, exe));
  want_clean = !e->warned[var_index("SW_AGENT_DISABLE")] &&
               !e->warned[var_index("SW_AGENT_EXCLUDE")] &&
               !e->warned[var_index("SW_AGENT_INCLUDE")];
  if (sw_config_traced(fuzz_get, e, exe, &clean) != want ||
      clean != want_clean)
    abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  static struct sw_config c, other;
  struct fuzz_env e;
  char *buf, *p, *nl, *end;
  char out[256];
  size_t i;
  int k;

  buf = malloc(size + 1);
  if (buf == NULL)
    abort();
  memcpy(buf, data, size);
  buf[size] = '\0';
  memset(&e, 0, sizeof(e));
  p = buf;
  end = buf + size;
  for (i = 0; i < NVARS && p <= end; i++) {
    nl = memchr(p, '\n', (size_t)(end - p));
    if (nl != NULL)
      *nl = '\0';
    e.value[i] = p;
    if (nl == NULL)
      break;
    p = nl + 1;
  }

  sw_config_parse(&c, fuzz_get, fuzz_warn, &e, "fuzz", 1, "host");

  check_str(c.service, sizeof(c.service));
  check_str(c.instance, sizeof(c.instance));
  check_str(c.namespace_, sizeof(c.namespace_));
  check_str(c.backend, sizeof(c.backend));
  check_str(c.authentication, sizeof(c.authentication));
  check_str(c.file_path, sizeof(c.file_path));
  check_str(c.kafka_topic_segment, sizeof(c.kafka_topic_segment));
  if (c.backend[0] == '\0' || strrchr(c.backend, ':') == NULL)
    abort();
  if (c.protocol > SW_PROTO_FILE || c.log_level > SW_LOG_OFF)
    abort();
  if (c.heartbeat_period_s < 1 || c.heartbeat_period_s > 86400)
    abort();
  if (c.ring_size < 16 || c.ring_size > 1048576 ||
      (c.ring_size & (c.ring_size - 1)) != 0)
    abort();
  if (c.queue_timeout_ms < 0 || c.queue_timeout_ms > 60000)
    abort();
  if (c.params_length_threshold < -1)
    abort();
  check_list(&c.ignore_path, SW_ANT_PATTERN_MAX - 1);
  check_list(&c.ignore_suffix, SW_PATTERN_BUF - 1);
  check_list(&c.ignore_method, SW_PATTERN_BUF - 1);
  check_list(&c.exclude, SW_PATTERN_BUF - 1);
  for (k = 0; k < c.ignore_method.n; k++) {
    for (p = (char *)c.ignore_method.item[k]; *p != '\0'; p++) {
      if (*p >= 'a' && *p <= 'z')
        abort();
    }
  }

  /* Use the lists as the hooks would, with operations from the input. */
  (void)sw_filter_ignored(&c, "GET", "/");
  for (k = 0; k < c.ignore_path.n && k < 4; k++) {
    (void)sw_filter_ignored(&c, c.ignore_path.item[k], c.ignore_path.item[k]);
    (void)sw_filter_ignored(&c, "get", c.service);
  }
  if (sw_config_format(&c, out, sizeof(out)) < strlen(out))
    abort();

  /* The constructor's fast paths. */
  memset(&other, 0xa5, sizeof(other));
  sw_config_parse(&other, fuzz_get, NULL, &e, "fuzz", 1, "host");
  same_config(&other, &c);
  memset(&other, 0, sizeof(other));
  sw_config_parse_zeroed(&other, fuzz_get, NULL, &e, "fuzz", 1, "host");
  same_config(&other, &c);
  check_traced(&c, &e, "fuzz");
  check_traced(&c, &e, c.service);
  if (c.exclude.n > 0)
    check_traced(&c, &e, c.exclude.item[0]);
  if (c.include.n > 0)
    check_traced(&c, &e, c.include.item[c.include.n - 1]);

  free(buf);
  return 0;
}
