/* test_config.c: SW_* environment parsing.
 *
 * Defaults, every variable with a good value, every variable with
 * malformed values (empty, 1 MB, negative, non-numeric, out of range,
 * trailing junk), which must each produce exactly one warning naming the
 * variable and leave the default in place, plus the derived values:
 * "<name>|<namespace>", the power-of-two ring size, the HTTP default
 * port, list truncation. */
#include "sw_common.h"

#include "sw_config.h"

#include <criterion/criterion.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>

#define HUGE_LEN (1024 * 1024)

/* ---------------------------------------------------------------- fixture */

/* A fake environment: a NULL-terminated name, value, name, value... list. */
static const char *
env_get(const char *name, void *ud)
{
  const char *const *kv = ud;
  size_t i;

  for (i = 0; kv[i] != NULL; i += 2) {
    if (strcmp(kv[i], name) == 0)
      return kv[i + 1];
  }
  return NULL;
}

struct warning {
  const char *name;
  const char *value;
  char used[160];
};

static struct warning warnings[64];
static int nwarn;

static void
record_warn(const char *name, const char *value, const char *used, void *ud)
{
  if (nwarn < (int)SW_ARRAY_LEN(warnings)) {
    warnings[nwarn].name = name;
    warnings[nwarn].value = value;
    sw_strlcpy(warnings[nwarn].used, used, sizeof(warnings[nwarn].used));
  }
  nwarn++;
}

static struct sw_config cfg, defaults;

static void
parse(const char *const *kv)
{
  nwarn = 0;
  sw_config_parse(&cfg, env_get, record_warn, (void *)kv, "myapp", 4242,
                  "myhost");
}

static void
parse_defaults(void)
{
  static const char *const none[] = {NULL};

  parse(none);
  cr_assert_eq(nwarn, 0);
  defaults = cfg;
  /* The list items point into cfg's buffers; re-point them into the
   * copy so the two stay independent. */
#define REBASE(l)                                                        \
  for (int i_ = 0; i_ < defaults.l.n; i_++)                              \
    defaults.l.item[i_] = defaults.l.buf + (cfg.l.item[i_] - cfg.l.buf);
  REBASE(ignore_path)
  REBASE(ignore_suffix)
  REBASE(ignore_method)
  REBASE(exclude)
  REBASE(include)
#undef REBASE
}

static char huge_x[HUGE_LEN + 1];
static char huge_9[HUGE_LEN + 1];

static void
init_huge(void)
{
  memset(huge_x, 'x', HUGE_LEN);
  memset(huge_9, '9', HUGE_LEN);
}

static int
list_equal(const struct sw_list *a, const struct sw_list *b)
{
  int i;

  if (a->n != b->n)
    return 0;
  for (i = 0; i < a->n; i++) {
    if (strcmp(a->item[i], b->item[i]) != 0)
      return 0;
  }
  return 1;
}

/* Field-by-field equality (the lists hold pointers into their struct). */
static void
expect_config_eq(const struct sw_config *a, const struct sw_config *b,
                 const char *what)
{
  cr_expect_eq(a->disabled, b->disabled, "%s: disabled", what);
  cr_expect_str_eq(a->service, b->service, "%s: service", what);
  cr_expect_str_eq(a->instance, b->instance, "%s: instance", what);
  cr_expect_eq(a->instance_is_default, b->instance_is_default,
               "%s: instance_is_default", what);
  cr_expect_str_eq(a->namespace_, b->namespace_, "%s: namespace", what);
  cr_expect_str_eq(a->backend, b->backend, "%s: backend", what);
  cr_expect_eq(a->protocol, b->protocol, "%s: protocol", what);
  cr_expect_eq(a->force_tls, b->force_tls, "%s: force_tls", what);
  cr_expect_str_eq(a->authentication, b->authentication,
                   "%s: authentication", what);
  cr_expect_eq(a->heartbeat_period_s, b->heartbeat_period_s,
               "%s: heartbeat", what);
  cr_expect_eq(a->properties_factor, b->properties_factor,
               "%s: properties factor", what);
  cr_expect_eq(a->ring_size, b->ring_size, "%s: ring size", what);
  cr_expect_eq(a->log_level, b->log_level, "%s: log level", what);
  cr_expect_eq(a->flush_timeout_ms, b->flush_timeout_ms, "%s: flush", what);
  cr_expect_eq(a->queue_timeout_ms, b->queue_timeout_ms, "%s: queue", what);
  cr_expect(list_equal(&a->ignore_path, &b->ignore_path), "%s: paths", what);
  cr_expect(list_equal(&a->ignore_suffix, &b->ignore_suffix),
            "%s: suffixes", what);
  cr_expect(list_equal(&a->ignore_method, &b->ignore_method),
            "%s: methods", what);
  cr_expect_eq(a->inject_headers, b->inject_headers, "%s: inject", what);
  cr_expect_eq(a->params_length_threshold, b->params_length_threshold,
               "%s: params threshold", what);
  cr_expect_eq(a->log_safe_mode, b->log_safe_mode, "%s: safe mode", what);
  cr_expect_str_eq(a->file_path, b->file_path, "%s: file path", what);
  cr_expect(list_equal(&a->exclude, &b->exclude), "%s: exclude", what);
  cr_expect(list_equal(&a->include, &b->include), "%s: include", what);
  cr_expect_str_eq(a->kafka_servers, b->kafka_servers, "%s: kafka", what);
  cr_expect_str_eq(a->kafka_namespace, b->kafka_namespace,
                   "%s: kafka namespace", what);
  cr_expect_str_eq(a->kafka_topic_segment, b->kafka_topic_segment,
                   "%s: segment topic", what);
  cr_expect_str_eq(a->kafka_topic_management, b->kafka_topic_management,
                   "%s: management topic", what);
}

/* Exactly one warning, for name, carrying the value as given. */
static void
expect_one_warning(const char *name, const char *value, const char *used)
{
  cr_expect_eq(nwarn, 1, "%s=%.40s: %d warnings", name, value, nwarn);
  if (nwarn < 1)
    return;
  cr_expect_str_eq(warnings[0].name, name);
  cr_expect_eq(warnings[0].value, value,
               "%s: the value is passed through, not copied", name);
  if (used != NULL)
    cr_expect_str_eq(warnings[0].used, used, "%s=%.40s: used", name, value);
}

static const char *const all_vars[] = {
  "SW_AGENT_DISABLE",
  "SW_AGENT_NAME",
  "SW_AGENT_NAMESPACE",
  "SW_AGENT_INSTANCE_NAME",
  "SW_AGENT_COLLECTOR_BACKEND_SERVICES",
  "SW_AGENT_PROTOCOL",
  "SW_AGENT_FORCE_TLS",
  "SW_AGENT_AUTHENTICATION",
  "SW_AGENT_COLLECTOR_HEARTBEAT_PERIOD",
  "SW_AGENT_COLLECTOR_PROPERTIES_REPORT_PERIOD_FACTOR",
  "SW_AGENT_TRACE_REPORTER_MAX_BUFFER_SIZE",
  "SW_AGENT_LOGGING_LEVEL",
  "SW_AGENT_FLUSH_TIMEOUT_MS",
  "SW_AGENT_QUEUE_TIMEOUT",
  "SW_AGENT_TRACE_IGNORE_PATH",
  "SW_AGENT_IGNORE_SUFFIX",
  "SW_PLUGIN_HTTP_IGNORE_METHOD",
  "SW_AGENT_INJECT_HEADERS",
  "SW_PLUGIN_HTTP_HTTP_PARAMS_LENGTH_THRESHOLD",
  "SW_AGENT_LOG_REPORTER_SAFE_MODE",
  "SW_AGENT_FILE_PATH",
  "SW_AGENT_EXCLUDE",
  "SW_AGENT_INCLUDE",
  "SW_KAFKA_BOOTSTRAP_SERVERS",
  "SW_KAFKA_NAMESPACE",
  "SW_KAFKA_TOPIC_SEGMENT",
  "SW_KAFKA_TOPIC_MANAGEMENT",
};

/* ---------------------------------------------------------------- defaults */

Test(config, defaults)
{
  static const char *const suffixes[] = {
    ".jpg", ".jpeg", ".js", ".css", ".png", ".bmp", ".gif", ".ico", ".mp3",
    ".mp4", ".html", ".svg"};
  static const char *const none[] = {NULL};
  size_t i;

  parse(none);
  cr_expect_eq(nwarn, 0);
  cr_expect_eq(cfg.disabled, 0);
  cr_expect_str_eq(cfg.service, "myapp");
  cr_expect_str_eq(cfg.namespace_, "");
  cr_expect_str_eq(cfg.instance, "4242@myhost");
  cr_expect_eq(cfg.instance_is_default, 1);
  cr_expect_str_eq(cfg.backend, "127.0.0.1:11800");
  cr_expect_eq(cfg.protocol, SW_PROTO_GRPC);
  cr_expect_eq(cfg.force_tls, 0);
  cr_expect_str_eq(cfg.authentication, "");
  cr_expect_eq(cfg.heartbeat_period_s, 30);
  cr_expect_eq(cfg.properties_factor, 10);
  cr_expect_eq(cfg.ring_size, 4096);
  cr_expect_eq(cfg.log_level, SW_LOG_WARNING);
  cr_expect_eq(cfg.flush_timeout_ms, 2000);
  cr_expect_eq(cfg.queue_timeout_ms, 1000);
  cr_expect_eq(cfg.ignore_path.n, 0);
  cr_assert_eq(cfg.ignore_suffix.n, (int)SW_ARRAY_LEN(suffixes));
  for (i = 0; i < SW_ARRAY_LEN(suffixes); i++)
    cr_expect_str_eq(cfg.ignore_suffix.item[i], suffixes[i]);
  cr_expect_eq(cfg.ignore_method.n, 0);
  cr_expect_eq(cfg.inject_headers, 1);
  cr_expect_eq(cfg.params_length_threshold, 1024);
  cr_expect_eq(cfg.log_safe_mode, 0);
  cr_expect_str_eq(cfg.file_path, "swpreload-segments.jsonl");
  cr_expect_eq(cfg.exclude.n, 0);
  cr_expect_eq(cfg.include.n, 0);
  cr_expect_str_eq(cfg.kafka_servers, "localhost:9092");
  cr_expect_str_eq(cfg.kafka_namespace, "");
  cr_expect_str_eq(cfg.kafka_topic_segment, "skywalking-segments");
  cr_expect_str_eq(cfg.kafka_topic_management, "skywalking-managements");
}

Test(config, missing_exe_and_host)
{
  static const char *const none[] = {NULL};

  nwarn = 0;
  sw_config_parse(&cfg, env_get, record_warn, (void *)none, NULL, 7, NULL);
  cr_expect_eq(nwarn, 0);
  cr_expect_str_eq(cfg.service, "unknown");
  cr_expect_str_eq(cfg.instance, "7@unknown");
  sw_config_parse(&cfg, env_get, NULL, (void *)none, "", 7, "");
  cr_expect_str_eq(cfg.service, "unknown");
}

Test(config, long_host_truncates_default_instance)
{
  static const char *const none[] = {NULL};
  char host[300];

  memset(host, 'h', sizeof(host) - 1);
  host[sizeof(host) - 1] = '\0';
  nwarn = 0;
  sw_config_parse(&cfg, env_get, record_warn, (void *)none, "a", 1, host);
  cr_expect_eq(nwarn, 0, "the host is not a variable");
  cr_expect_eq(strlen(cfg.instance), SW_NAME_MAX - 1);
  cr_expect_eq(strncmp(cfg.instance, "1@hhh", 5), 0);
}

Test(config, empty_values_mean_unset, .init = parse_defaults)
{
  const char *kv[3] = {NULL, "", NULL};
  size_t i;

  for (i = 0; i < SW_ARRAY_LEN(all_vars); i++) {
    kv[0] = all_vars[i];
    parse(kv);
    cr_expect_eq(nwarn, 0, "%s=\"\" warned", all_vars[i]);
    expect_config_eq(&cfg, &defaults, all_vars[i]);
  }
}

/* ---------------------------------------------------------------- good values */

Test(config, every_variable_with_a_good_value)
{
  static const char *const kv[] = {
    "SW_AGENT_DISABLE", "TRUE",
    "SW_AGENT_NAME", "checkout",
    "SW_AGENT_INSTANCE_NAME", "checkout-1",
    "SW_AGENT_COLLECTOR_BACKEND_SERVICES", " oap.example:11900 ",
    "SW_AGENT_PROTOCOL", "Kafka",
    "SW_AGENT_FORCE_TLS", "yes",
    "SW_AGENT_AUTHENTICATION", "s3cret",
    "SW_AGENT_COLLECTOR_HEARTBEAT_PERIOD", "60",
    "SW_AGENT_COLLECTOR_PROPERTIES_REPORT_PERIOD_FACTOR", "5",
    "SW_AGENT_TRACE_REPORTER_MAX_BUFFER_SIZE", "1000",
    "SW_AGENT_LOGGING_LEVEL", "debug",
    "SW_AGENT_FLUSH_TIMEOUT_MS", "0",
    "SW_AGENT_QUEUE_TIMEOUT", "60",
    "SW_AGENT_TRACE_IGNORE_PATH", " /health , /static/** ,,",
    "SW_AGENT_IGNORE_SUFFIX", ".txt,.bin",
    "SW_PLUGIN_HTTP_IGNORE_METHOD", "options, head",
    "SW_AGENT_INJECT_HEADERS", "off",
    "SW_PLUGIN_HTTP_HTTP_PARAMS_LENGTH_THRESHOLD", "256",
    "SW_AGENT_LOG_REPORTER_SAFE_MODE", "On",
    "SW_AGENT_FILE_PATH", "/var/tmp/segments.jsonl",
    "SW_AGENT_EXCLUDE", "ssh*, *sh",
    "SW_AGENT_INCLUDE", "nginx,python3*",
    "SW_KAFKA_BOOTSTRAP_SERVERS", "k1:9092,k2:9092",
    "SW_KAFKA_NAMESPACE", "prod",
    "SW_KAFKA_TOPIC_SEGMENT", "segs",
    "SW_KAFKA_TOPIC_MANAGEMENT", "mgmt",
    NULL};

  parse(kv);
  cr_expect_eq(nwarn, 0, "%d warnings, first for %s", nwarn,
               nwarn > 0 ? warnings[0].name : "-");
  cr_expect_eq(cfg.disabled, 1);
  cr_expect_str_eq(cfg.service, "checkout");
  cr_expect_str_eq(cfg.instance, "checkout-1");
  cr_expect_eq(cfg.instance_is_default, 0);
  cr_expect_str_eq(cfg.backend, "oap.example:11900");
  cr_expect_eq(cfg.protocol, SW_PROTO_KAFKA);
  cr_expect_eq(cfg.force_tls, 1);
  cr_expect_str_eq(cfg.authentication, "s3cret");
  cr_expect_eq(cfg.heartbeat_period_s, 60);
  cr_expect_eq(cfg.properties_factor, 5);
  cr_expect_eq(cfg.ring_size, 1024);
  cr_expect_eq(cfg.log_level, SW_LOG_DEBUG);
  cr_expect_eq(cfg.flush_timeout_ms, 0);
  cr_expect_eq(cfg.queue_timeout_ms, 60000);
  cr_assert_eq(cfg.ignore_path.n, 2);
  cr_expect_str_eq(cfg.ignore_path.item[0], "/health");
  cr_expect_str_eq(cfg.ignore_path.item[1], "/static/**");
  cr_assert_eq(cfg.ignore_suffix.n, 2);
  cr_expect_str_eq(cfg.ignore_suffix.item[0], ".txt");
  cr_expect_str_eq(cfg.ignore_suffix.item[1], ".bin");
  cr_assert_eq(cfg.ignore_method.n, 2);
  cr_expect_str_eq(cfg.ignore_method.item[0], "OPTIONS");
  cr_expect_str_eq(cfg.ignore_method.item[1], "HEAD");
  cr_expect_eq(cfg.inject_headers, 0);
  cr_expect_eq(cfg.params_length_threshold, 256);
  cr_expect_eq(cfg.log_safe_mode, 1);
  cr_expect_str_eq(cfg.file_path, "/var/tmp/segments.jsonl");
  cr_assert_eq(cfg.exclude.n, 2);
  cr_expect_str_eq(cfg.exclude.item[0], "ssh*");
  cr_expect_str_eq(cfg.exclude.item[1], "*sh");
  cr_assert_eq(cfg.include.n, 2);
  cr_expect_str_eq(cfg.include.item[1], "python3*");
  cr_expect_str_eq(cfg.kafka_servers, "k1:9092,k2:9092");
  cr_expect_str_eq(cfg.kafka_namespace, "prod");
  cr_expect_str_eq(cfg.kafka_topic_segment, "segs");
  cr_expect_str_eq(cfg.kafka_topic_management, "mgmt");
}

Test(config, booleans)
{
  static const struct {
    const char *v;
    int want;
  } cases[] = {{"true", 1},  {"TRUE", 1},  {"True", 1},   {"1", 1},
               {"yes", 1},   {"YES", 1},   {"on", 1},     {" on ", 1},
               {"false", 0}, {"FALSE", 0}, {"0", 0},      {"no", 0},
               {"No", 0},    {"off", 0},   {"\tOFF\n", 0}};
  const char *kv[] = {"SW_AGENT_FORCE_TLS", NULL, "SW_AGENT_INJECT_HEADERS",
                      NULL, NULL};
  size_t i;

  for (i = 0; i < SW_ARRAY_LEN(cases); i++) {
    kv[1] = kv[3] = cases[i].v;
    parse(kv);
    cr_expect_eq(nwarn, 0, "\"%s\"", cases[i].v);
    cr_expect_eq(cfg.force_tls, cases[i].want, "\"%s\"", cases[i].v);
    cr_expect_eq(cfg.inject_headers, cases[i].want, "\"%s\"", cases[i].v);
  }
}

Test(config, protocols_and_levels)
{
  static const struct {
    const char *v;
    enum sw_protocol p;
  } protos[] = {{"grpc", SW_PROTO_GRPC},
                {"GRPC", SW_PROTO_GRPC},
                {"http", SW_PROTO_HTTP},
                {"kafka", SW_PROTO_KAFKA},
                {" File ", SW_PROTO_FILE}};
  static const struct {
    const char *v;
    enum sw_log_level l;
  } levels[] = {{"DEBUG", SW_LOG_DEBUG},     {"info", SW_LOG_INFO},
                {"Warning", SW_LOG_WARNING}, {"WARN", SW_LOG_WARNING},
                {"error", SW_LOG_ERROR},     {"CRITICAL", SW_LOG_ERROR},
                {"off", SW_LOG_OFF}};
  const char *kv[] = {NULL, NULL, NULL};
  size_t i;

  kv[0] = "SW_AGENT_PROTOCOL";
  for (i = 0; i < SW_ARRAY_LEN(protos); i++) {
    kv[1] = protos[i].v;
    parse(kv);
    cr_expect_eq(nwarn, 0, "%s", protos[i].v);
    cr_expect_eq(cfg.protocol, protos[i].p, "%s", protos[i].v);
  }
  kv[0] = "SW_AGENT_LOGGING_LEVEL";
  for (i = 0; i < SW_ARRAY_LEN(levels); i++) {
    kv[1] = levels[i].v;
    parse(kv);
    cr_expect_eq(nwarn, 0, "%s", levels[i].v);
    cr_expect_eq(cfg.log_level, levels[i].l, "%s", levels[i].v);
  }
}

Test(config, integer_edges)
{
  static const struct {
    const char *name, *v;
    int want;
  } cases[] = {
    {"SW_AGENT_COLLECTOR_HEARTBEAT_PERIOD", "1", 1},
    {"SW_AGENT_COLLECTOR_HEARTBEAT_PERIOD", "86400", 86400},
    {"SW_AGENT_COLLECTOR_HEARTBEAT_PERIOD", " 45 ", 45},
    {"SW_AGENT_COLLECTOR_HEARTBEAT_PERIOD", "+45", 45},
    {"SW_AGENT_COLLECTOR_HEARTBEAT_PERIOD", "0045", 45},
    {"SW_AGENT_COLLECTOR_PROPERTIES_REPORT_PERIOD_FACTOR", "1", 1},
    {"SW_AGENT_COLLECTOR_PROPERTIES_REPORT_PERIOD_FACTOR", "10000", 10000},
    {"SW_AGENT_FLUSH_TIMEOUT_MS", "60000", 60000},
    {"SW_AGENT_QUEUE_TIMEOUT", "0", 0},
    {"SW_PLUGIN_HTTP_HTTP_PARAMS_LENGTH_THRESHOLD", "0", 0},
    {"SW_PLUGIN_HTTP_HTTP_PARAMS_LENGTH_THRESHOLD", "-1", -1},
    {"SW_PLUGIN_HTTP_HTTP_PARAMS_LENGTH_THRESHOLD", "-500", -1},
    {"SW_PLUGIN_HTTP_HTTP_PARAMS_LENGTH_THRESHOLD", "2147483647", 2147483647},
  };
  const char *kv[] = {NULL, NULL, NULL};
  size_t i;
  int got;

  for (i = 0; i < SW_ARRAY_LEN(cases); i++) {
    kv[0] = cases[i].name;
    kv[1] = cases[i].v;
    parse(kv);
    cr_expect_eq(nwarn, 0, "%s=%s", cases[i].name, cases[i].v);
    if (strstr(cases[i].name, "HEARTBEAT") != NULL)
      got = cfg.heartbeat_period_s;
    else if (strstr(cases[i].name, "FACTOR") != NULL)
      got = cfg.properties_factor;
    else if (strstr(cases[i].name, "FLUSH") != NULL)
      got = cfg.flush_timeout_ms;
    else if (strstr(cases[i].name, "QUEUE") != NULL)
      got = cfg.queue_timeout_ms / 1000;
    else
      got = cfg.params_length_threshold;
    cr_expect_eq(got, cases[i].want, "%s=%s", cases[i].name, cases[i].v);
  }
}

Test(config, ring_size_rounds_up_to_a_power_of_two)
{
  static const struct {
    const char *v;
    uint32_t want;
  } cases[] = {{"16", 16},       {"17", 32},         {"31", 32},
               {"32", 32},       {"1000", 1024},     {"4096", 4096},
               {"4097", 8192},   {"10000", 16384},   {"524289", 1048576},
               {"1048576", 1048576}};
  const char *kv[] = {"SW_AGENT_TRACE_REPORTER_MAX_BUFFER_SIZE", NULL, NULL};
  size_t i;

  for (i = 0; i < SW_ARRAY_LEN(cases); i++) {
    kv[1] = cases[i].v;
    parse(kv);
    cr_expect_eq(nwarn, 0, "%s", cases[i].v);
    cr_expect_eq(cfg.ring_size, cases[i].want, "%s -> %u", cases[i].v,
                 (unsigned)cfg.ring_size);
  }
}

/* ---------------------------------------------------------------- derived */

Test(config, namespace_joins_the_service_name)
{
  static const char *const kv[] = {
    "SW_AGENT_NAME", "checkout", "SW_AGENT_NAMESPACE", "prod", NULL};
  static const char *const ns_only[] = {"SW_AGENT_NAMESPACE", "dev", NULL};

  parse(kv);
  cr_expect_eq(nwarn, 0);
  cr_expect_str_eq(cfg.service, "checkout|prod");
  cr_expect_str_eq(cfg.namespace_, "prod");
  parse(ns_only);
  cr_expect_eq(nwarn, 0);
  cr_expect_str_eq(cfg.service, "myapp|dev", "the default name, too");
}

Test(config, namespace_that_does_not_fit)
{
  static char name[SW_NAME_MAX - 3], ns[SW_NAME_MAX + 10];
  const char *kv[] = {"SW_AGENT_NAME", name, "SW_AGENT_NAMESPACE", ns, NULL};

  memset(name, 'n', sizeof(name) - 1);
  memset(ns, 's', 10);
  parse(kv);
  cr_expect_eq(strlen(cfg.service), SW_NAME_MAX - 1);
  expect_one_warning("SW_AGENT_NAMESPACE", ns, cfg.service);
  cr_expect_str_eq(cfg.namespace_, "ssssssssss");

  /* Too long for its own field as well: still one warning. */
  memset(ns, 's', sizeof(ns) - 1);
  parse(kv);
  expect_one_warning("SW_AGENT_NAMESPACE", ns, NULL);
  cr_expect_eq(strlen(cfg.namespace_), SW_NAME_MAX - 1);
  cr_expect_eq(strlen(cfg.service), SW_NAME_MAX - 1);
}

Test(config, http_protocol_defaults_to_port_12800)
{
  static const char *const http[] = {"SW_AGENT_PROTOCOL", "http", NULL};
  static const char *const http_set[] = {
    "SW_AGENT_PROTOCOL", "HTTP",
    "SW_AGENT_COLLECTOR_BACKEND_SERVICES", "oap:8080", NULL};
  static const char *const http_bad[] = {
    "SW_AGENT_PROTOCOL", "http",
    "SW_AGENT_COLLECTOR_BACKEND_SERVICES", "oap", NULL};
  static const char *const grpc_bad[] = {
    "SW_AGENT_COLLECTOR_BACKEND_SERVICES", "oap", NULL};

  parse(http);
  cr_expect_eq(nwarn, 0);
  cr_expect_str_eq(cfg.backend, "127.0.0.1:12800");
  parse(http_set);
  cr_expect_eq(nwarn, 0);
  cr_expect_str_eq(cfg.backend, "oap:8080");
  parse(http_bad);
  expect_one_warning("SW_AGENT_COLLECTOR_BACKEND_SERVICES", "oap",
                     "127.0.0.1:12800");
  cr_expect_str_eq(cfg.backend, "127.0.0.1:12800");
  parse(grpc_bad);
  expect_one_warning("SW_AGENT_COLLECTOR_BACKEND_SERVICES", "oap",
                     "127.0.0.1:11800");
  cr_expect_str_eq(cfg.backend, "127.0.0.1:11800");
}

Test(config, backend_shapes)
{
  static const char *const good[] = {
    "oap:11800", "10.0.0.1:1", "[::1]:11800", "a:65535",
    "http://oap:12800", "oap1:11800,oap2:11800"};
  const char *kv[] = {"SW_AGENT_COLLECTOR_BACKEND_SERVICES", NULL, NULL};
  size_t i;

  for (i = 0; i < SW_ARRAY_LEN(good); i++) {
    kv[1] = good[i];
    parse(kv);
    cr_expect_eq(nwarn, 0, "%s", good[i]);
    cr_expect_str_eq(cfg.backend, good[i]);
  }
}

Test(config, instance_name_set)
{
  static const char *const kv[] = {"SW_AGENT_INSTANCE_NAME", "i-1", NULL};

  parse(kv);
  cr_expect_str_eq(cfg.instance, "i-1");
  cr_expect_eq(cfg.instance_is_default, 0);
}

/* ---------------------------------------------------------------- garbage */

struct garbage {
  const char *name;
  const char *value;
  const char *used; /* expected "used" text */
};

/* Each of these must warn once and leave every field at its default. */
static const struct garbage garbage[] = {
  {"SW_AGENT_DISABLE", "maybe", "false"},
  {"SW_AGENT_DISABLE", "2", "false"},
  {"SW_AGENT_DISABLE", "truee", "false"},
  {"SW_AGENT_DISABLE", "-1", "false"},
  {"SW_AGENT_DISABLE", "  ", "false"},
  {"SW_AGENT_FORCE_TLS", "y", "false"},
  {"SW_AGENT_INJECT_HEADERS", "nope", "true"},
  {"SW_AGENT_INJECT_HEADERS", "true false", "true"},
  {"SW_AGENT_LOG_REPORTER_SAFE_MODE", "enabled", "false"},
  {"SW_AGENT_PROTOCOL", "grpcs", "grpc"},
  {"SW_AGENT_PROTOCOL", "http2", "grpc"},
  {"SW_AGENT_PROTOCOL", "-1", "grpc"},
  {"SW_AGENT_PROTOCOL", " ", "grpc"},
  {"SW_AGENT_LOGGING_LEVEL", "verbose", "WARNING"},
  {"SW_AGENT_LOGGING_LEVEL", "3", "WARNING"},
  {"SW_AGENT_LOGGING_LEVEL", "-1", "WARNING"},
  {"SW_AGENT_COLLECTOR_BACKEND_SERVICES", "localhost", "127.0.0.1:11800"},
  {"SW_AGENT_COLLECTOR_BACKEND_SERVICES", ":11800", "127.0.0.1:11800"},
  {"SW_AGENT_COLLECTOR_BACKEND_SERVICES", "oap:", "127.0.0.1:11800"},
  {"SW_AGENT_COLLECTOR_BACKEND_SERVICES", "oap:0", "127.0.0.1:11800"},
  {"SW_AGENT_COLLECTOR_BACKEND_SERVICES", "oap:-1", "127.0.0.1:11800"},
  {"SW_AGENT_COLLECTOR_BACKEND_SERVICES", "oap:65536", "127.0.0.1:11800"},
  {"SW_AGENT_COLLECTOR_BACKEND_SERVICES", "oap:0000011800",
   "127.0.0.1:11800"},
  {"SW_AGENT_COLLECTOR_BACKEND_SERVICES", "oap:11800x", "127.0.0.1:11800"},
  {"SW_AGENT_COLLECTOR_BACKEND_SERVICES", "oap:1 1", "127.0.0.1:11800"},
  {"SW_AGENT_COLLECTOR_BACKEND_SERVICES", "   ", "127.0.0.1:11800"},
  {"SW_AGENT_COLLECTOR_HEARTBEAT_PERIOD", "30s", "30"},
  {"SW_AGENT_COLLECTOR_HEARTBEAT_PERIOD", "abc", "30"},
  {"SW_AGENT_COLLECTOR_HEARTBEAT_PERIOD", "-5", "30"},
  {"SW_AGENT_COLLECTOR_HEARTBEAT_PERIOD", "0", "30"},
  {"SW_AGENT_COLLECTOR_HEARTBEAT_PERIOD", "86401", "30"},
  {"SW_AGENT_COLLECTOR_HEARTBEAT_PERIOD", "3.5", "30"},
  {"SW_AGENT_COLLECTOR_HEARTBEAT_PERIOD", "0x10", "30"},
  {"SW_AGENT_COLLECTOR_HEARTBEAT_PERIOD", "1e3", "30"},
  {"SW_AGENT_COLLECTOR_HEARTBEAT_PERIOD", "+", "30"},
  {"SW_AGENT_COLLECTOR_HEARTBEAT_PERIOD", "- 5", "30"},
  {"SW_AGENT_COLLECTOR_HEARTBEAT_PERIOD", " ", "30"},
  {"SW_AGENT_COLLECTOR_HEARTBEAT_PERIOD", "99999999999999999999", "30"},
  {"SW_AGENT_COLLECTOR_HEARTBEAT_PERIOD", "-99999999999999999999", "30"},
  {"SW_AGENT_COLLECTOR_PROPERTIES_REPORT_PERIOD_FACTOR", "0", "10"},
  {"SW_AGENT_COLLECTOR_PROPERTIES_REPORT_PERIOD_FACTOR", "10001", "10"},
  {"SW_AGENT_COLLECTOR_PROPERTIES_REPORT_PERIOD_FACTOR", "ten", "10"},
  {"SW_AGENT_TRACE_REPORTER_MAX_BUFFER_SIZE", "15", "4096"},
  {"SW_AGENT_TRACE_REPORTER_MAX_BUFFER_SIZE", "1048577", "4096"},
  {"SW_AGENT_TRACE_REPORTER_MAX_BUFFER_SIZE", "-4096", "4096"},
  {"SW_AGENT_TRACE_REPORTER_MAX_BUFFER_SIZE", "4k", "4096"},
  {"SW_AGENT_FLUSH_TIMEOUT_MS", "-1", "2000"},
  {"SW_AGENT_FLUSH_TIMEOUT_MS", "60001", "2000"},
  {"SW_AGENT_FLUSH_TIMEOUT_MS", "2000ms", "2000"},
  {"SW_AGENT_QUEUE_TIMEOUT", "61", "1"},
  {"SW_AGENT_QUEUE_TIMEOUT", "-1", "1"},
  {"SW_AGENT_QUEUE_TIMEOUT", "1s", "1"},
  {"SW_PLUGIN_HTTP_HTTP_PARAMS_LENGTH_THRESHOLD", "2147483648", "1024"},
  {"SW_PLUGIN_HTTP_HTTP_PARAMS_LENGTH_THRESHOLD", "-9999999999999999999999",
   "1024"},
  {"SW_PLUGIN_HTTP_HTTP_PARAMS_LENGTH_THRESHOLD", "1024 bytes", "1024"},
  {"SW_PLUGIN_HTTP_HTTP_PARAMS_LENGTH_THRESHOLD", "unlimited", "1024"},
};

Test(config, garbage_warns_once_and_keeps_the_default,
     .init = parse_defaults)
{
  const char *kv[3] = {NULL, NULL, NULL};
  char what[160];
  size_t i;

  for (i = 0; i < SW_ARRAY_LEN(garbage); i++) {
    kv[0] = garbage[i].name;
    kv[1] = garbage[i].value;
    parse(kv);
    expect_one_warning(garbage[i].name, garbage[i].value, garbage[i].used);
    snprintf(what, sizeof(what), "%s=\"%s\"", garbage[i].name,
             garbage[i].value);
    expect_config_eq(&cfg, &defaults, what);
  }
}

/* Variables whose default is used for any malformed value, 1 MB values
 * included. */
static const struct garbage huge_defaults[] = {
  {"SW_AGENT_DISABLE", NULL, "false"},
  {"SW_AGENT_FORCE_TLS", NULL, "false"},
  {"SW_AGENT_INJECT_HEADERS", NULL, "true"},
  {"SW_AGENT_LOG_REPORTER_SAFE_MODE", NULL, "false"},
  {"SW_AGENT_PROTOCOL", NULL, "grpc"},
  {"SW_AGENT_LOGGING_LEVEL", NULL, "WARNING"},
  {"SW_AGENT_COLLECTOR_BACKEND_SERVICES", NULL, "127.0.0.1:11800"},
  {"SW_AGENT_COLLECTOR_HEARTBEAT_PERIOD", NULL, "30"},
  {"SW_AGENT_COLLECTOR_PROPERTIES_REPORT_PERIOD_FACTOR", NULL, "10"},
  {"SW_AGENT_TRACE_REPORTER_MAX_BUFFER_SIZE", NULL, "4096"},
  {"SW_AGENT_FLUSH_TIMEOUT_MS", NULL, "2000"},
  {"SW_AGENT_QUEUE_TIMEOUT", NULL, "1"},
  {"SW_PLUGIN_HTTP_HTTP_PARAMS_LENGTH_THRESHOLD", NULL, "1024"},
  /* A cut-short path or address would name something else. */
  {"SW_AGENT_FILE_PATH", NULL, "swpreload-segments.jsonl"},
  {"SW_KAFKA_BOOTSTRAP_SERVERS", NULL, "localhost:9092"},
};

Test(config, huge_values_keep_the_default, .init = parse_defaults)
{
  const char *kv[3] = {NULL, NULL, NULL};
  const char *values[2];
  char what[160];
  size_t i, j;

  init_huge();
  values[0] = huge_x;
  values[1] = huge_9;
  for (i = 0; i < SW_ARRAY_LEN(huge_defaults); i++) {
    for (j = 0; j < SW_ARRAY_LEN(values); j++) {
      kv[0] = huge_defaults[i].name;
      kv[1] = values[j];
      parse(kv);
      expect_one_warning(kv[0], values[j], huge_defaults[i].used);
      snprintf(what, sizeof(what), "%s=1 MB of '%c'", kv[0], values[j][0]);
      expect_config_eq(&cfg, &defaults, what);
    }
  }
}

/* Plain strings keep what fits. */
Test(config, huge_strings_are_truncated_with_one_warning)
{
  static const struct {
    const char *name;
    size_t off, cap;
  } cases[] = {
    {"SW_AGENT_NAME", offsetof(struct sw_config, service), SW_NAME_MAX},
    {"SW_AGENT_INSTANCE_NAME", offsetof(struct sw_config, instance),
     SW_NAME_MAX},
    {"SW_AGENT_NAMESPACE", offsetof(struct sw_config, namespace_),
     SW_NAME_MAX},
    {"SW_AGENT_AUTHENTICATION", offsetof(struct sw_config, authentication),
     SW_AUTH_MAX},
    {"SW_KAFKA_NAMESPACE", offsetof(struct sw_config, kafka_namespace),
     SW_NAME_MAX},
    {"SW_KAFKA_TOPIC_SEGMENT", offsetof(struct sw_config, kafka_topic_segment),
     sizeof(cfg.kafka_topic_segment)},
    {"SW_KAFKA_TOPIC_MANAGEMENT",
     offsetof(struct sw_config, kafka_topic_management),
     sizeof(cfg.kafka_topic_management)},
  };
  const char *kv[3] = {NULL, huge_x, NULL};
  const char *field;
  size_t i;

  init_huge();
  for (i = 0; i < SW_ARRAY_LEN(cases); i++) {
    kv[0] = cases[i].name;
    parse(kv);
    expect_one_warning(kv[0], huge_x, NULL);
    field = (const char *)&cfg + cases[i].off;
    cr_expect_eq(strlen(field), cases[i].cap - 1, "%s", kv[0]);
    cr_expect_eq(strspn(field, "x"), cases[i].cap - 1, "%s", kv[0]);
  }

  /* The instance name is no longer the default one. */
  kv[0] = "SW_AGENT_INSTANCE_NAME";
  parse(kv);
  cr_expect_eq(cfg.instance_is_default, 0);
}

Test(config, huge_list_values)
{
  static const char *const lists[] = {
    "SW_AGENT_TRACE_IGNORE_PATH", "SW_AGENT_IGNORE_SUFFIX",
    "SW_PLUGIN_HTTP_IGNORE_METHOD", "SW_AGENT_EXCLUDE", "SW_AGENT_INCLUDE"};
  const char *kv[3] = {NULL, huge_x, NULL};
  size_t i;

  init_huge();
  for (i = 0; i < SW_ARRAY_LEN(lists); i++) {
    kv[0] = lists[i];
    parse(kv);
    expect_one_warning(kv[0], huge_x, "the 0 items that fit");
  }
  cr_expect_eq(cfg.include.n, 0);
}

Test(config, too_many_list_items_keep_those_that_fit)
{
  static char many[SW_MAX_PATTERNS * 8 + 64];
  const char *kv[] = {"SW_AGENT_EXCLUDE", many, NULL};
  char item[16];
  size_t off = 0;
  int i;

  for (i = 0; i < SW_MAX_PATTERNS + 5; i++)
    off += (size_t)snprintf(many + off, sizeof(many) - off, "%sp%d",
                            i > 0 ? "," : "", i);
  parse(kv);
  expect_one_warning("SW_AGENT_EXCLUDE", many, "the 64 items that fit");
  cr_assert_eq(cfg.exclude.n, SW_MAX_PATTERNS);
  for (i = 0; i < SW_MAX_PATTERNS; i++) {
    snprintf(item, sizeof(item), "p%d", i);
    cr_expect_str_eq(cfg.exclude.item[i], item);
  }
}

Test(config, list_buffer_full_keeps_later_items_that_fit)
{
  /* 3 x 1500 bytes do not fit 4096: the third long item is dropped, the
   * short one after it is kept. */
  static char v[3 * 1501 + 8];
  const char *kv[] = {"SW_AGENT_IGNORE_SUFFIX", v, NULL};
  int i;

  for (i = 0; i < 3; i++) {
    memset(v + i * 1501, 'a' + i, 1500);
    v[i * 1501 + 1500] = ',';
  }
  memcpy(v + 3 * 1501, ".x", 3);
  parse(kv);
  expect_one_warning("SW_AGENT_IGNORE_SUFFIX", v, "the 3 items that fit");
  cr_assert_eq(cfg.ignore_suffix.n, 3);
  cr_expect_eq(cfg.ignore_suffix.item[0][0], 'a');
  cr_expect_eq(cfg.ignore_suffix.item[1][0], 'b');
  cr_expect_str_eq(cfg.ignore_suffix.item[2], ".x");
}

Test(config, ignore_paths_longer_than_the_matcher_limit_are_dropped)
{
  /* A 2000-byte pattern fits the list buffer but not the matcher. */
  static char v[2000 + 16];
  const char *kv[] = {"SW_AGENT_TRACE_IGNORE_PATH", v, NULL};

  memcpy(v, "/a,", 3);
  memset(v + 3, 'p', 2000);
  memcpy(v + 2003, ",/b/**", 7);
  parse(kv);
  expect_one_warning("SW_AGENT_TRACE_IGNORE_PATH", v, "the 2 items that fit");
  cr_assert_eq(cfg.ignore_path.n, 2);
  cr_expect_str_eq(cfg.ignore_path.item[0], "/a");
  cr_expect_str_eq(cfg.ignore_path.item[1], "/b/**");
}

Test(config, several_bad_variables_one_warning_each)
{
  static const char *const kv[] = {
    "SW_AGENT_DISABLE", "perhaps",
    "SW_AGENT_COLLECTOR_HEARTBEAT_PERIOD", "30s",
    "SW_AGENT_PROTOCOL", "smoke-signals",
    "SW_AGENT_QUEUE_TIMEOUT", "x",
    NULL};
  int i, seen = 0;

  parse(kv);
  cr_expect_eq(nwarn, 4);
  for (i = 0; i < nwarn && i < 4; i++) {
    if (strcmp(warnings[i].name, "SW_AGENT_DISABLE") == 0 ||
        strcmp(warnings[i].name, "SW_AGENT_COLLECTOR_HEARTBEAT_PERIOD") == 0 ||
        strcmp(warnings[i].name, "SW_AGENT_PROTOCOL") == 0 ||
        strcmp(warnings[i].name, "SW_AGENT_QUEUE_TIMEOUT") == 0)
      seen++;
  }
  cr_expect_eq(seen, 4);
}

Test(config, no_warn_callback)
{
  static const char *const kv[] = {"SW_AGENT_DISABLE", "perhaps", NULL};

  sw_config_parse(&cfg, env_get, NULL, (void *)kv, "a", 1, "h");
  cr_expect_eq(cfg.disabled, 0);
}

/* ---------------------------------------------------------------- helpers */

Test(config, list_parse)
{
  static struct sw_list l;

  cr_expect_eq(sw_list_parse(&l, " a ,, b\t,c ", 0), 0);
  cr_assert_eq(l.n, 3);
  cr_expect_str_eq(l.item[0], "a");
  cr_expect_str_eq(l.item[1], "b");
  cr_expect_str_eq(l.item[2], "c");
  cr_expect_null(l.item[3]);
  cr_expect_eq(sw_list_parse(&l, "get,Post", 1), 0);
  cr_assert_eq(l.n, 2);
  cr_expect_str_eq(l.item[0], "GET");
  cr_expect_str_eq(l.item[1], "POST");
  cr_expect_eq(sw_list_parse(&l, "", 0), 0);
  cr_expect_eq(l.n, 0);
  cr_expect_eq(sw_list_parse(&l, " , ,", 0), 0);
  cr_expect_eq(l.n, 0);
  cr_expect_eq(sw_list_parse(&l, NULL, 0), 0);
  cr_expect_eq(l.n, 0);
}

Test(config, protocol_names)
{
  cr_expect_str_eq(sw_protocol_name(SW_PROTO_GRPC), "grpc");
  cr_expect_str_eq(sw_protocol_name(SW_PROTO_HTTP), "http");
  cr_expect_str_eq(sw_protocol_name(SW_PROTO_KAFKA), "kafka");
  cr_expect_str_eq(sw_protocol_name(SW_PROTO_FILE), "file");
  cr_expect_str_eq(sw_protocol_name((enum sw_protocol)42), "unknown");
}

Test(config, format_lists_the_defaults, .init = parse_defaults)
{
  static char buf[8192];
  static const char *const kv[] = {"SW_AGENT_AUTHENTICATION", "s3cret", NULL};
  char small[16];
  size_t n;

  n = sw_config_format(&defaults, buf, sizeof(buf));
  cr_expect_eq(n, strlen(buf));
  cr_expect_not_null(strstr(buf, "SW_AGENT_NAME=myapp\n"));
  cr_expect_not_null(strstr(buf, "SW_AGENT_INSTANCE_NAME=4242@myhost\n"));
  cr_expect_not_null(strstr(buf, "SW_AGENT_PROTOCOL=grpc\n"));
  cr_expect_not_null(
    strstr(buf, "SW_AGENT_COLLECTOR_BACKEND_SERVICES=127.0.0.1:11800\n"));
  cr_expect_not_null(strstr(buf, "SW_AGENT_LOGGING_LEVEL=WARNING\n"));
  cr_expect_not_null(strstr(buf, "SW_AGENT_TRACE_REPORTER_MAX_BUFFER_SIZE="
                                 "4096\n"));
  cr_expect_not_null(strstr(buf, "SW_AGENT_IGNORE_SUFFIX=.jpg,.jpeg,.js,.css,"
                                 ".png,.bmp,.gif,.ico,.mp3,.mp4,.html,.svg\n"));
  cr_expect_not_null(strstr(buf, "SW_AGENT_TRACE_IGNORE_PATH=\n"));
  cr_expect_not_null(strstr(buf, "SW_AGENT_QUEUE_TIMEOUT=1\n"));

  /* Truncation: terminated, and the full length is still reported. */
  memset(small, 'z', sizeof(small));
  cr_expect_eq(sw_config_format(&defaults, small, sizeof(small)), n);
  cr_expect_eq(small[sizeof(small) - 1], '\0');
  cr_expect_eq(sw_config_format(&defaults, NULL, 0), n);

  /* The token is a secret. */
  parse(kv);
  sw_config_format(&cfg, buf, sizeof(buf));
  cr_expect_null(strstr(buf, "s3cret"));
  cr_expect_not_null(strstr(buf, "SW_AGENT_AUTHENTICATION=(set)\n"));
}

Test(config, string_length_boundaries)
{
  static char v[SW_PATH_MAX + 1];
  const char *kv[] = {NULL, v, NULL};

  /* SW_NAME_MAX - 1 bytes fit, one more does not. */
  kv[0] = "SW_AGENT_NAME";
  memset(v, 'n', SW_NAME_MAX - 1);
  parse(kv);
  cr_expect_eq(nwarn, 0);
  cr_expect_str_eq(cfg.service, v);
  v[SW_NAME_MAX - 1] = 'n';
  parse(kv);
  expect_one_warning("SW_AGENT_NAME", v, NULL);
  cr_expect_eq(strlen(cfg.service), SW_NAME_MAX - 1);

  memset(v, 0, sizeof(v));
  kv[0] = "SW_AGENT_FILE_PATH";
  memset(v, 'f', SW_PATH_MAX - 1);
  parse(kv);
  cr_expect_eq(nwarn, 0);
  cr_expect_str_eq(cfg.file_path, v);
  v[SW_PATH_MAX - 1] = 'f';
  parse(kv);
  expect_one_warning("SW_AGENT_FILE_PATH", v, "swpreload-segments.jsonl");
  cr_expect_str_eq(cfg.file_path, "swpreload-segments.jsonl");

  /* The longest backend that fits. */
  memset(v, 0, sizeof(v));
  kv[0] = "SW_AGENT_COLLECTOR_BACKEND_SERVICES";
  memset(v, 'b', SW_BACKEND_MAX - 1);
  memcpy(v + SW_BACKEND_MAX - 7, ":11800", 6);
  parse(kv);
  cr_expect_eq(nwarn, 0);
  cr_expect_str_eq(cfg.backend, v);
  memcpy(v + SW_BACKEND_MAX - 7, "b:11800", 7);
  parse(kv);
  expect_one_warning("SW_AGENT_COLLECTOR_BACKEND_SERVICES", v,
                     "127.0.0.1:11800");
}

/* ---------------------------------------------------------------- start-up
 *
 * The constructor's fast paths, each against the slow path it replaces:
 * sw_config_parse() without clearing the struct (into garbage, and
 * sw_config_parse_zeroed() into zeroes) against a parse into a cleared
 * struct; sw_config_traced() against parsing everything and matching the
 * lists; sw_env_get() against getenv(); fmt_pid_at() against snprintf(). */

void fmt_pid_at(char *dst, size_t cap, int pid, const char *host);

/* Parses kv three ways and expects the same configuration and warnings:
 * into a cleared struct (the reference), into one full of garbage, and
 * with sw_config_parse_zeroed() into a cleared one. */
static void
expect_parse_ways_agree(const char *const *kv, const char *what)
{
  static struct sw_config ref, other;
  int nref;

  memset(&ref, 0, sizeof(ref));
  nwarn = 0;
  sw_config_parse(&ref, env_get, record_warn, (void *)kv, "myapp", 4242,
                  "myhost");
  nref = nwarn;

  memset(&other, 0xa5, sizeof(other));
  nwarn = 0;
  sw_config_parse(&other, env_get, record_warn, (void *)kv, "myapp", 4242,
                  "myhost");
  cr_expect_eq(nwarn, nref, "%s: warnings into garbage", what);
  expect_config_eq(&other, &ref, what);

  memset(&other, 0, sizeof(other));
  nwarn = 0;
  sw_config_parse_zeroed(&other, env_get, record_warn, (void *)kv, "myapp",
                         4242, "myhost");
  cr_expect_eq(nwarn, nref, "%s: warnings, zeroed", what);
  expect_config_eq(&other, &ref, what);
}

Test(config, parse_sets_every_field_without_clearing)
{
  static const char *const none[] = {NULL};
  static const char *const good[] = {
    "SW_AGENT_NAME", "checkout",
    "SW_AGENT_NAMESPACE", "prod",
    "SW_AGENT_INSTANCE_NAME", "checkout-1",
    "SW_AGENT_PROTOCOL", "http",
    "SW_AGENT_AUTHENTICATION", "s3cret",
    "SW_AGENT_TRACE_IGNORE_PATH", "/health,/static/**",
    "SW_AGENT_IGNORE_SUFFIX", ".txt",
    "SW_PLUGIN_HTTP_IGNORE_METHOD", "options,head",
    "SW_AGENT_EXCLUDE", "a*,b",
    "SW_AGENT_INCLUDE", " , ,",
    "SW_KAFKA_NAMESPACE", "ns",
    NULL};
  const char *kv[3] = {NULL, NULL, NULL};
  char what[160];
  size_t i;

  expect_parse_ways_agree(none, "defaults");
  expect_parse_ways_agree(good, "good values");
  for (i = 0; i < SW_ARRAY_LEN(garbage); i++) {
    kv[0] = garbage[i].name;
    kv[1] = garbage[i].value;
    snprintf(what, sizeof(what), "%s=\"%s\"", kv[0], kv[1]);
    expect_parse_ways_agree(kv, what);
  }
  for (i = 0; i < SW_ARRAY_LEN(all_vars); i++) {
    kv[0] = all_vars[i];
    kv[1] = "";
    expect_parse_ways_agree(kv, all_vars[i]);
  }
}

Test(config, parse_zeroed_leaves_unset_lists_untouched)
{
  static const char *const none[] = {NULL};
  static struct sw_config c;
  static const unsigned char zero[sizeof(struct sw_list)];

  memset(&c, 0, sizeof(c));
  sw_config_parse_zeroed(&c, env_get, NULL, (void *)none, "a", 1, "h");
  cr_expect(memcmp(&c.exclude, zero, sizeof(zero)) == 0);
  cr_expect(memcmp(&c.include, zero, sizeof(zero)) == 0);
  cr_expect(memcmp(&c.ignore_path, zero, sizeof(zero)) == 0);
  cr_expect(memcmp(&c.ignore_method, zero, sizeof(zero)) == 0);
  cr_expect_gt(c.ignore_suffix.n, 0);
  /* A default configuration writes only the first 2.5 KB or so. */
  cr_expect_lt((const char *)c.ignore_suffix.item[c.ignore_suffix.n - 1] -
                   (const char *)&c,
               3072);
}

/* The reference: everything parsed, then the lists matched as the
 * constructor used to match them. */
static int
traced_by_parse(const char *const *kv, const char *exe, int *clean)
{
  static struct sw_config c;
  int i;

  nwarn = 0;
  sw_config_parse(&c, env_get, record_warn, (void *)kv, exe, 1, "h");
  *clean = 1;
  for (i = 0; i < nwarn && i < (int)SW_ARRAY_LEN(warnings); i++) {
    if (strcmp(warnings[i].name, "SW_AGENT_DISABLE") == 0 ||
        strcmp(warnings[i].name, "SW_AGENT_EXCLUDE") == 0 ||
        strcmp(warnings[i].name, "SW_AGENT_INCLUDE") == 0)
      *clean = 0;
  }
  return !c.disabled && !sw_list_match(&c.exclude, exe) &&
         (c.include.n == 0 || sw_list_match(&c.include, exe));
}

static void
expect_traced_agrees(const char *const *kv, const char *exe,
                     const char *what)
{
  int clean_ref, clean = -1, traced_ref, traced;

  traced_ref = traced_by_parse(kv, exe, &clean_ref);
  nwarn = 0;
  traced = sw_config_traced(env_get, (void *)kv, exe, &clean);
  cr_expect_eq(nwarn, 0, "%s: sw_config_traced() warned", what);
  cr_expect_eq(traced, traced_ref, "%s (exe %s): traced %d, parse says %d",
               what, exe, traced, traced_ref);
  cr_expect_eq(clean, clean_ref, "%s: clean %d, parse says %d", what, clean,
               clean_ref);
  cr_expect_eq(sw_config_traced(env_get, (void *)kv, exe, NULL), traced);
}

Test(config, traced_decision_matches_the_full_parse)
{
  static char many[64 * 4 + 64], long_item[5000], long_pat[300],
      full[SW_PATTERN_BUF + 64];
  static const char *const exes[] = {"true", "nginx", "proc_client", "sh",
                                     "x", "[", "a,b", "true2", long_pat};
  struct {
    const char *name, *value;
  } cases[] = {
    {NULL, NULL},
    {"SW_AGENT_DISABLE", "true"},
    {"SW_AGENT_DISABLE", " On "},
    {"SW_AGENT_DISABLE", "no"},
    {"SW_AGENT_DISABLE", "maybe"},
    {"SW_AGENT_DISABLE", ""},
    {"SW_AGENT_DISABLE", "  "},
    {"SW_AGENT_EXCLUDE", "true"},
    {"SW_AGENT_EXCLUDE", "hyperfine,true"},
    {"SW_AGENT_EXCLUDE", " nginx , tr*"},
    {"SW_AGENT_EXCLUDE", "proc_cl?ent,[a-z]"},
    {"SW_AGENT_EXCLUDE", "[,x"},
    {"SW_AGENT_EXCLUDE", ",,, ,"},
    {"SW_AGENT_EXCLUDE", "*"},
    {"SW_AGENT_EXCLUDE", many},
    {"SW_AGENT_EXCLUDE", long_item},
    {"SW_AGENT_EXCLUDE", long_pat},
    {"SW_AGENT_EXCLUDE", full},
    {"SW_AGENT_INCLUDE", "python3,sh"},
    {"SW_AGENT_INCLUDE", "proc_*"},
    {"SW_AGENT_INCLUDE", " , "},
    {"SW_AGENT_INCLUDE", many},
    {"SW_AGENT_INCLUDE", long_item},
    {"SW_AGENT_INCLUDE", long_pat},
    {"SW_AGENT_INCLUDE", full},
  };
  const char *kv[7];
  char what[64];
  size_t i, j, k, at = 0;

  /* 70 items: the last six are dropped ("x" is item 66). */
  for (i = 0; i < 70; i++)
    at += (size_t)sprintf(many + at, "%s%c", i ? "," : "", i == 65 ? 'x' : 'q');
  /* An item over the buffer, then one that fits. */
  memset(long_item, 'l', sizeof(long_item) - 5);
  memcpy(long_item + sizeof(long_item) - 5, ",sh", 4);
  /* Longer than the short pattern buffer, and matching long_pat. */
  memset(long_pat, 'p', sizeof(long_pat) - 1);
  long_pat[sizeof(long_pat) - 2] = '*';
  /* Items filling the 4 KB buffer, then one that no longer fits. */
  memset(full, 'f', sizeof(full) - 1);
  for (i = 1000; i < sizeof(full) - 1; i += 1000)
    full[i] = ',';
  memcpy(full + sizeof(full) - 4, ",sh", 4);

  for (i = 0; i < SW_ARRAY_LEN(cases); i++) {
    for (j = 0; j < SW_ARRAY_LEN(exes); j++) {
      kv[0] = cases[i].name;
      kv[1] = cases[i].value;
      kv[2] = NULL;
      snprintf(what, sizeof(what), "case %zu", i);
      expect_traced_agrees(kv, exes[j], what);
      /* Combined with each other case of another variable. */
      for (k = 0; k < SW_ARRAY_LEN(cases); k++) {
        if (cases[k].name == NULL || cases[i].name == NULL ||
            strcmp(cases[k].name, cases[i].name) == 0)
          continue;
        kv[2] = cases[k].name;
        kv[3] = cases[k].value;
        kv[4] = NULL;
        snprintf(what, sizeof(what), "cases %zu+%zu", i, k);
        expect_traced_agrees(kv, exes[j], what);
      }
    }
  }
}

Test(config, traced_decision_random_lists)
{
  static const char alphabet[] = "ab*?[]!,, \t-";
  char excl[40], incl[40], dis[8], exe[6];
  const char *kv[7];
  unsigned int seed = 12345;
  int round;
  size_t i, n;

  for (round = 0; round < 20000; round++) {
    n = (size_t)(rand_r(&seed) % 12);
    for (i = 0; i < n; i++)
      excl[i] = alphabet[rand_r(&seed) % (sizeof(alphabet) - 1)];
    excl[n] = '\0';
    n = (size_t)(rand_r(&seed) % 12);
    for (i = 0; i < n; i++)
      incl[i] = alphabet[rand_r(&seed) % (sizeof(alphabet) - 1)];
    incl[n] = '\0';
    n = (size_t)(rand_r(&seed) % 4);
    for (i = 0; i < n; i++)
      exe[i] = "ab-["[rand_r(&seed) % 4];
    exe[n] = '\0';
    snprintf(dis, sizeof(dis), "%s", (const char *[]){"", "0", "1", "x"}
                                         [rand_r(&seed) % 4]);
    kv[0] = "SW_AGENT_EXCLUDE";
    kv[1] = excl;
    kv[2] = "SW_AGENT_INCLUDE";
    kv[3] = incl;
    kv[4] = "SW_AGENT_DISABLE";
    kv[5] = dis;
    kv[6] = NULL;
    expect_traced_agrees(kv, exe, excl);
  }
}

/* getenv()'s rule, over a NULL-terminated array. */
static const char *
ref_getenv(char *const *envp, const char *name)
{
  size_t len = strlen(name);

  if (len == 0)
    return NULL;
  for (; envp != NULL && *envp != NULL; envp++) {
    if (strncmp(*envp, name, len) == 0 && (*envp)[len] == '=')
      return *envp + len + 1;
  }
  return NULL;
}

static const char *const lookups[] = {
  "SW_AGENT_NAME", "SW_AGENT_NAMESPACE", "SW_AGENT", "SW_", "SW",
  "SW_AGENT_EXCLUDE", "SW_X", "PATH", "HOME", "SW_AGENT_NAME=", "",
  "SW_Y", "SW_PRELOAD_LIB", "SW_AGENT_INCLUDE"};

static void
expect_env_agrees(char *const *envp, const char *what)
{
  struct sw_env e;
  size_t i;

  sw_env_scan(&e, envp);
  for (i = 0; i < SW_ARRAY_LEN(lookups); i++) {
    cr_expect_eq(sw_env_get(lookups[i], &e), ref_getenv(envp, lookups[i]),
                 "%s: %s", what, lookups[i]);
  }
}

Test(config, env_lookup_is_getenv)
{
  static char *const none[] = {NULL};
  static char *const mixed[] = {
    "PATH=/bin", "SW_AGENT_NAMESPACE=ns", "SW_AGENT_NAME", "SW_AGENT_NAME=a",
    "SW_AGENT_NAME=second", "HOME=/root", "SW_=x", "SW_X=", "SW_AGENT=1",
    "SW_AGENT_EXCLUDE=true", "SW", "=", "SW_Y==", NULL};
  static char entries[SW_ENV_MAX + 10][32];
  static char *many[SW_ENV_MAX + 12];
  size_t i;

  expect_env_agrees(none, "empty");
  expect_env_agrees(NULL, "NULL");
  expect_env_agrees(mixed, "mixed");
  /* More SW_* entries than the table holds: lookups scan everything. */
  for (i = 0; i < SW_ENV_MAX + 10; i++) {
    snprintf(entries[i], sizeof(entries[i]), "SW_V%zu=%zu", i, i);
    many[i] = entries[i];
  }
  many[SW_ENV_MAX + 5] = "SW_X=late";
  many[SW_ENV_MAX + 6] = "SW_AGENT_NAME=late";
  many[SW_ENV_MAX + 10] = "PATH=/bin";
  many[SW_ENV_MAX + 11] = NULL;
  expect_env_agrees(many, "many");
  /* Exactly SW_ENV_MAX of them still fit. */
  many[SW_ENV_MAX] = NULL;
  expect_env_agrees(many, "SW_ENV_MAX");
}

Test(config, env_lookup_matches_real_getenv)
{
  extern char **environ;
  struct sw_env e;
  size_t i;

  setenv("SW_AGENT_NAME", "from-test", 1);
  setenv("SW_AGENT_EXCLUDE", "a,b", 1);
  setenv("SW_X", "", 1);
  sw_env_scan(&e, environ);
  for (i = 0; i < SW_ARRAY_LEN(lookups); i++) {
    if (lookups[i][0] == '\0' || strchr(lookups[i], '=') != NULL)
      continue; /* not a name getenv() is defined for */
    cr_expect_eq(sw_env_get(lookups[i], &e), getenv(lookups[i]), "%s",
                 lookups[i]);
  }
  for (i = 0; i < SW_ARRAY_LEN(all_vars); i++)
    cr_expect_eq(sw_env_get(all_vars[i], &e), getenv(all_vars[i]), "%s",
                 all_vars[i]);
}

Test(config, env_only)
{
  static const char *const three[] = {"SW_AGENT_DISABLE", "SW_AGENT_EXCLUDE",
                                      "SW_AGENT_INCLUDE"};
  static char *const only[] = {"PATH=/bin", "SW_AGENT_EXCLUDE=true",
                               "SW_AGENT_INCLUDE=", "SW_AGENT_NAME=",
                               "SW_NOVALUE", NULL};
  static char *const other[] = {"SW_AGENT_EXCLUDE=true", "SW_AGENT_NAME=a",
                                NULL};
  static char *const prefix[] = {"SW_AGENT_EXCLUDEX=1", NULL};
  static char *const shorter[] = {"SW_AGENT_EXCL=1", NULL};
  static char entries[SW_ENV_MAX + 1][32];
  static char *many[SW_ENV_MAX + 2];
  struct sw_env e;
  size_t i;

  sw_env_scan(&e, only);
  cr_expect_eq(sw_env_only(&e, three, 3), 1);
  sw_env_scan(&e, other);
  cr_expect_eq(sw_env_only(&e, three, 3), 0);
  sw_env_scan(&e, prefix);
  cr_expect_eq(sw_env_only(&e, three, 3), 0);
  sw_env_scan(&e, shorter);
  cr_expect_eq(sw_env_only(&e, three, 3), 0);
  sw_env_scan(&e, NULL);
  cr_expect_eq(sw_env_only(&e, three, 3), 1);
  for (i = 0; i < SW_ENV_MAX + 1; i++) {
    snprintf(entries[i], sizeof(entries[i]), "SW_AGENT_EXCLUDE=%zu", i);
    many[i] = entries[i];
  }
  many[SW_ENV_MAX + 1] = NULL;
  sw_env_scan(&e, many);
  cr_expect_eq(sw_env_only(&e, three, 3), 0, "too many to tell");
}

Test(config, fmt_pid_at_is_snprintf)
{
  static const int pids[] = {0, 1, 7, 42, 4242, 99999, 4194304, INT_MAX,
                             -1, -42, INT_MIN};
  static const size_t caps[] = {1, 2, 3, 5, 8, 12, 13, 72, 300};
  char host[260], want[301], got[301];
  size_t i, j, h;

  for (i = 0; i < SW_ARRAY_LEN(pids); i++) {
    for (h = 0; h < sizeof(host); h += 37) {
      memset(host, 'h', h);
      host[h] = '\0';
      for (j = 0; j < SW_ARRAY_LEN(caps); j++) {
        memset(want, 'W', sizeof(want));
        memset(got, 'W', sizeof(got));
        snprintf(want, caps[j], "%d@%s", pids[i], host);
        fmt_pid_at(got, caps[j], pids[i], host);
        cr_expect(memcmp(got, want, caps[j]) == 0 &&
                      got[caps[j]] == 'W',
                  "pid %d, host %zu bytes, cap %zu: \"%s\" vs \"%s\"", pids[i],
                  h, caps[j], got, want);
      }
    }
  }
}
