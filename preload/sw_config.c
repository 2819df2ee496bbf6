/* sw_config.c: every SW_* environment variable, read once at start.
 *
 * Runs once, from the library constructor, before any hook is live. It
 * must not allocate (malloc may itself be interposed or not yet usable),
 * so everything lands in the fixed buffers of struct sw_config; snprintf
 * and strtol are fine here. Values may be arbitrarily long: they are
 * measured and compared in place, and only what fits is copied.
 *
 * Names and defaults follow the SkyWalking Python agent, with these
 * differences:
 * - The default service is the executable's name, the default instance
 *   "<pid>@<host>" (Python: a uuid), the default log level WARNING
 *   (Python: INFO) so that a preloaded program stays quiet.
 * - Booleans accept true/false/1/0/yes/no/on/off in any case; Python
 *   compares with 'true' or 'false' and silently treats anything else as
 *   the other value. Anything else here is reported and ignored.
 * - An empty value means "unset", as in Python; a value that is only
 *   white space is malformed.
 * - Malformed values fall back to the default after exactly one warn()
 *   call per variable, instead of raising at import time.
 *
 * Start-up cost: every preloaded process runs this, traced or not, so it
 * writes only what it sets (no clearing of the 25 KB struct), formats
 * without stdio, and the constructor looks variables up in a table of
 * the environment's SW_* entries made in one pass (struct sw_env).
 * Whether the process is traced at all is decided first, from three
 * variables, by sw_config_traced(). */
#include "sw_common.h"

#include "sw_config.h"

#include <errno.h>
#include <fnmatch.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "filter.h"

#define SW_DEFAULT_SUFFIX \
  ".jpg,.jpeg,.js,.css,.png,.bmp,.gif,.ico,.mp3,.mp4,.html,.svg"
#define SW_DEFAULT_GRPC_BACKEND "127.0.0.1:11800"
#define SW_DEFAULT_HTTP_BACKEND "127.0.0.1:12800"

struct cfg_ctx {
  sw_getenv_fn get;
  sw_warn_fn warn;
  void *ud;
  int zeroed; /* the struct is all zero: an empty list is left unwritten */
};

/* The value of name, or NULL when it is unset or empty. */
static const char *
env(struct cfg_ctx *x, const char *name)
{
  const char *v = x->get(name, x->ud);

  return (v != NULL && v[0] != '\0') ? v : NULL;
}

static void
bad(struct cfg_ctx *x, const char *name, const char *value, const char *used)
{
  if (x->warn != NULL)
    x->warn(name, value, used, x->ud);
}

/* Python's str.strip() set, restricted to ASCII (the same set as filter.c
 * strips from Ant patterns). */
static int
is_space(unsigned char c)
{
  return c == ' ' || (c >= '\t' && c <= '\r') || (c >= 0x1c && c <= 0x1f);
}

/* Narrows [*b, *e) to its non-space part. */
static void
trim(const char **b, const char **e)
{
  while (*b < *e && is_space((unsigned char)**b))
    (*b)++;
  while (*e > *b && is_space((unsigned char)(*e)[-1]))
    (*e)--;
}

static int
to_lower(int c)
{
  return (c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c;
}

static int
to_upper(int c)
{
  return (c >= 'a' && c <= 'z') ? c - 'a' + 'A' : c;
}

/* 1 when v, trimmed, equals word (lower case) ignoring ASCII case. */
static int
word_is(const char *v, const char *word)
{
  const char *b = v, *e = v + strlen(v);
  size_t n = strlen(word), i;

  trim(&b, &e);
  if ((size_t)(e - b) != n)
    return 0;
  for (i = 0; i < n; i++) {
    if (to_lower((unsigned char)b[i]) != word[i])
      return 0;
  }
  return 1;
}

/* The boolean v (not NULL) spells: 1, 0, or -1 when it is none of the
 * words. */
static int
bool_word(const char *v)
{
  static const char *const yes[] = {"true", "1", "yes", "on"};
  static const char *const no[] = {"false", "0", "no", "off"};
  size_t i;

  for (i = 0; i < SW_ARRAY_LEN(yes); i++) {
    if (word_is(v, yes[i]))
      return 1;
    if (word_is(v, no[i]))
      return 0;
  }
  return -1;
}

static void
get_bool(struct cfg_ctx *x, const char *name, int def, int *out)
{
  const char *v = env(x, name);
  int b;

  *out = def;
  if (v == NULL)
    return;
  b = bool_word(v);
  if (b >= 0) {
    *out = b;
    return;
  }
  bad(x, name, v, def ? "true" : "false");
}

/* Whole-string decimal integer within [lo, hi]; surrounding white space
 * is allowed, as Python's int() allows it. */
static void
get_int(struct cfg_ctx *x, const char *name, long def, long lo, long hi,
        long *out)
{
  const char *v = env(x, name), *p;
  char *end;
  char used[32];
  long r;

  *out = def;
  if (v == NULL)
    return;
  p = v;
  while (is_space((unsigned char)*p))
    p++;
  if ((*p < '0' || *p > '9') && *p != '-' && *p != '+')
    goto fail;
  errno = 0;
  r = strtol(p, &end, 10);
  if (end == p || errno == ERANGE)
    goto fail;
  while (is_space((unsigned char)*end))
    end++;
  if (*end != '\0' || r < lo || r > hi)
    goto fail;
  *out = r;
  return;
fail:
  snprintf(used, sizeof(used), "%ld", def);
  bad(x, name, v, used);
}

/* Copies v into dst; a value that does not fit is truncated after one
 * warning. */
static void
put_str(struct cfg_ctx *x, const char *name, const char *v, char *dst,
        size_t cap)
{
  size_t n = strlen(v);

  sw_strlcpyn(dst, cap, v, n);
  if (n >= cap)
    bad(x, name, v, dst);
}

static void
get_str(struct cfg_ctx *x, const char *name, const char *def, char *dst,
        size_t cap)
{
  const char *v = env(x, name);

  if (v == NULL)
    sw_strlcpy(dst, def, cap);
  else
    put_str(x, name, v, dst, cap);
}

/* Walks a comma-separated value the way list_parse() fills a list:
 * items trimmed, empty ones skipped, and each at most maxlen bytes. Items
 * that do not fit (too many, too long, buffer full) are dropped; later
 * ones that fit are still kept. */
struct list_iter {
  const char *s; /* the rest of the value; NULL at the end */
  size_t maxlen; /* longest item kept */
  int n;         /* items kept so far */
  size_t used;   /* bytes of the list buffer they take, NULs included */
  int dropped;   /* some item did not fit */
};

static void
list_iter_init(struct list_iter *it, const char *s, size_t maxlen)
{
  it->s = s;
  it->maxlen = maxlen;
  it->n = 0;
  it->used = 0;
  it->dropped = 0;
}

/* The next kept item, [*b, *b + *len); 0 at the end. */
static int
list_next(struct list_iter *it, const char **b, size_t *len)
{
  const char *s, *e, *comma;
  size_t n;

  while ((s = it->s) != NULL) {
    /* A loop, not strchr() and strlen(): see item_match(). */
    for (e = s; *e != '\0' && *e != ','; e++)
      ;
    comma = *e == ',' ? e : NULL;
    it->s = comma != NULL ? comma + 1 : NULL;
    trim(&s, &e);
    n = (size_t)(e - s);
    if (n == 0)
      continue;
    if (it->n >= SW_MAX_PATTERNS || n > it->maxlen ||
        n + 1 > SW_PATTERN_BUF - it->used) {
      it->dropped = 1;
      continue;
    }
    it->n++;
    it->used += n + 1;
    *b = s;
    *len = n;
    return 1;
  }
  return 0;
}

/* Splits s on commas into l (see struct list_iter), upper-cased when
 * asked. Writes l->n, the items kept and their bytes, nothing else.
 * Returns 0, or -1 when something was dropped. */
static int
list_parse(struct sw_list *l, const char *s, int upper, size_t maxlen)
{
  struct list_iter it;
  const char *b;
  char *dst;
  size_t len, i;

  list_iter_init(&it, s, maxlen);
  while (list_next(&it, &b, &len)) {
    dst = l->buf + (it.used - len - 1);
    if (upper) {
      for (i = 0; i < len; i++)
        dst[i] = (char)to_upper((unsigned char)b[i]);
    } else {
      memcpy(dst, b, len);
    }
    dst[len] = '\0';
    l->item[it.n - 1] = dst;
  }
  l->n = it.n;
  return it.dropped ? -1 : 0;
}

int
sw_list_parse(struct sw_list *l, const char *s, int upper)
{
  /* Unlike the configuration's own lists, a list given here is cleared
   * whole first (items past n are NULL). */
  memset(l, 0, sizeof(*l));
  return list_parse(l, s, upper, SW_PATTERN_BUF - 1);
}

static void
get_list(struct cfg_ctx *x, const char *name, const char *def, int upper,
         size_t maxlen, struct sw_list *l)
{
  const char *v = env(x, name);
  char used[64];

  if (v == NULL) {
    if (def != NULL || !x->zeroed)
      list_parse(l, def, upper, maxlen);
    return;
  }
  if (list_parse(l, v, upper, maxlen) < 0) {
    snprintf(used, sizeof(used), "the %d item%s that fit", l->n,
             l->n == 1 ? "" : "s");
    bad(x, name, v, used);
  }
}

/* Loose "host:port": something before the last ':', and after it a
 * decimal port in 1..65535. IPv6 "[::1]:11800" and a comma list whose
 * last entry has a port both pass; the transport reports the rest. */
static int
valid_hostport(const char *b, const char *e)
{
  const char *colon = NULL, *p;
  long port = 0;

  for (p = b; p < e; p++) {
    if (*p == ':')
      colon = p;
  }
  if (colon == NULL || colon == b || colon + 1 == e || e - colon > 6)
    return 0;
  for (p = colon + 1; p < e; p++) {
    if (*p < '0' || *p > '9')
      return 0;
    port = port * 10 + (*p - '0');
  }
  return port >= 1 && port <= 65535;
}

/* SW_AGENT_COLLECTOR_BACKEND_SERVICES. A truncated address would only
 * point somewhere else, so a value that is malformed or too long gives
 * the protocol's default address. */
static void
get_backend(struct cfg_ctx *x, struct sw_config *c)
{
  const char *name = "SW_AGENT_COLLECTOR_BACKEND_SERVICES";
  const char *def = c->protocol == SW_PROTO_HTTP ? SW_DEFAULT_HTTP_BACKEND
                                                 : SW_DEFAULT_GRPC_BACKEND;
  const char *v = env(x, name), *b, *e;

  sw_strlcpy(c->backend, def, sizeof(c->backend));
  if (v == NULL)
    return;
  b = v;
  e = v + strlen(v);
  trim(&b, &e);
  if ((size_t)(e - b) >= sizeof(c->backend) || !valid_hostport(b, e)) {
    bad(x, name, v, def);
    return;
  }
  sw_strlcpyn(c->backend, sizeof(c->backend), b, (size_t)(e - b));
}

static void
get_protocol(struct cfg_ctx *x, struct sw_config *c)
{
  static const struct {
    const char *word;
    enum sw_protocol p;
  } map[] = {{"grpc", SW_PROTO_GRPC},
             {"http", SW_PROTO_HTTP},
             {"kafka", SW_PROTO_KAFKA},
             {"file", SW_PROTO_FILE}};
  const char *v = env(x, "SW_AGENT_PROTOCOL");
  size_t i;

  c->protocol = SW_PROTO_GRPC;
  if (v == NULL)
    return;
  for (i = 0; i < SW_ARRAY_LEN(map); i++) {
    if (word_is(v, map[i].word)) {
      c->protocol = map[i].p;
      return;
    }
  }
  bad(x, "SW_AGENT_PROTOCOL", v, "grpc");
}

static void
get_log_level(struct cfg_ctx *x, struct sw_config *c)
{
  /* WARN and CRITICAL are Python logging's aliases. */
  static const struct {
    const char *word;
    enum sw_log_level l;
  } map[] = {{"debug", SW_LOG_DEBUG},     {"info", SW_LOG_INFO},
             {"warning", SW_LOG_WARNING}, {"warn", SW_LOG_WARNING},
             {"error", SW_LOG_ERROR},     {"critical", SW_LOG_ERROR},
             {"off", SW_LOG_OFF}};
  const char *v = env(x, "SW_AGENT_LOGGING_LEVEL");
  size_t i;

  c->log_level = SW_LOG_WARNING;
  if (v == NULL)
    return;
  for (i = 0; i < SW_ARRAY_LEN(map); i++) {
    if (word_is(v, map[i].word)) {
      c->log_level = map[i].l;
      return;
    }
  }
  bad(x, "SW_AGENT_LOGGING_LEVEL", v, "WARNING");
}

/* Service "<name>" or, with a namespace, "<name>|<namespace>" (Python's
 * service_name). The OAP cuts names at 70 characters anyway. */
static void
get_service(struct cfg_ctx *x, struct sw_config *c, const char *exe_name)
{
  const char *name = env(x, "SW_AGENT_NAME");
  const char *ns = env(x, "SW_AGENT_NAMESPACE");
  size_t len, nslen;

  if (name != NULL)
    put_str(x, "SW_AGENT_NAME", name, c->service, sizeof(c->service));
  else
    sw_strlcpy(c->service, exe_name != NULL && exe_name[0] != '\0' ? exe_name
                                                                 : "unknown",
               sizeof(c->service));
  if (ns == NULL) {
    c->namespace_[0] = '\0';
    return;
  }
  nslen = strlen(ns);
  sw_strlcpyn(c->namespace_, sizeof(c->namespace_), ns, nslen);
  len = strlen(c->service);
  if (len + 1 < sizeof(c->service)) {
    c->service[len] = '|';
    sw_strlcpy(c->service + len + 1, c->namespace_,
               sizeof(c->service) - len - 1);
  }
  /* One warning for the namespace, whether it overflowed its own field or
   * the combined service name. */
  if (nslen >= sizeof(c->namespace_) || len + 1 + nslen >= sizeof(c->service))
    bad(x, "SW_AGENT_NAMESPACE", ns, c->service);
}

/* snprintf(dst, cap, "%d@%s", pid, host), without stdio: the only
 * formatting a default start-up needs, and printf would be the one
 * reason to page in its code. */
SW_STATIC void
fmt_pid_at(char *dst, size_t cap, int pid, const char *host)
{
  char num[16];
  char *p = num + sizeof(num);
  unsigned int u = pid < 0 ? 0u - (unsigned int)pid : (unsigned int)pid;
  size_t n;

  do {
    *--p = (char)('0' + u % 10);
    u /= 10;
  } while (u != 0);
  if (pid < 0)
    *--p = '-';
  n = sw_strlcpyn(dst, cap, p, (size_t)(num + sizeof(num) - p));
  if (n + 1 < cap) {
    dst[n] = '@';
    sw_strlcpy(dst + n + 1, host, cap - n - 1);
  }
}

static void
get_instance(struct cfg_ctx *x, struct sw_config *c, int pid,
             const char *host)
{
  const char *v = env(x, "SW_AGENT_INSTANCE_NAME");

  if (v != NULL) {
    put_str(x, "SW_AGENT_INSTANCE_NAME", v, c->instance, sizeof(c->instance));
    c->instance_is_default = 0;
    return;
  }
  fmt_pid_at(c->instance, sizeof(c->instance), pid,
             host != NULL && host[0] != '\0' ? host : "unknown");
  c->instance_is_default = 1;
}

/* A path or an address cut short would name something else, so these
 * fall back to the default when they do not fit. */
static void
get_whole_str(struct cfg_ctx *x, const char *name, const char *def,
              char *dst, size_t cap)
{
  const char *v = env(x, name);

  sw_strlcpy(dst, def, cap);
  if (v == NULL)
    return;
  if (strlen(v) >= cap) {
    bad(x, name, v, def);
    return;
  }
  sw_strlcpy(dst, v, cap);
}

static uint32_t
pow2_ceil(uint32_t v)
{
  uint32_t r = 1;

  while (r < v)
    r <<= 1;
  return r;
}

static void
parse(struct cfg_ctx *xp, struct sw_config *c, const char *exe_name, int pid,
      const char *host)
{
  struct cfg_ctx x = *xp;
  long v;

  get_bool(&x, "SW_AGENT_DISABLE", 0, &c->disabled);
  get_service(&x, c, exe_name);
  get_instance(&x, c, pid, host);
  /* The protocol first: it decides the default backend. */
  get_protocol(&x, c);
  get_backend(&x, c);
  get_bool(&x, "SW_AGENT_FORCE_TLS", 0, &c->force_tls);
  get_str(&x, "SW_AGENT_AUTHENTICATION", "", c->authentication,
          sizeof(c->authentication));

  get_int(&x, "SW_AGENT_COLLECTOR_HEARTBEAT_PERIOD", 30, 1, 86400, &v);
  c->heartbeat_period_s = (int)v;
  get_int(&x, "SW_AGENT_COLLECTOR_PROPERTIES_REPORT_PERIOD_FACTOR", 10, 1,
          10000, &v);
  c->properties_factor = (int)v;
  get_int(&x, "SW_AGENT_TRACE_REPORTER_MAX_BUFFER_SIZE", 4096, 16, 1048576,
          &v);
  c->ring_size = pow2_ceil((uint32_t)v);
  get_log_level(&x, c);
  get_int(&x, "SW_AGENT_FLUSH_TIMEOUT_MS", 2000, 0, 60000, &v);
  c->flush_timeout_ms = (int)v;
  get_int(&x, "SW_AGENT_QUEUE_TIMEOUT", 1, 0, 60, &v);
  c->queue_timeout_ms = (int)v * 1000;

  /* Ignore-path items must fit the matcher (filter.c), which does not
   * match longer patterns. */
  get_list(&x, "SW_AGENT_TRACE_IGNORE_PATH", NULL, 0, SW_ANT_PATTERN_MAX - 1,
           &c->ignore_path);
  get_list(&x, "SW_AGENT_IGNORE_SUFFIX", SW_DEFAULT_SUFFIX, 0,
           SW_PATTERN_BUF - 1, &c->ignore_suffix);
  get_list(&x, "SW_PLUGIN_HTTP_IGNORE_METHOD", NULL, 1, SW_PATTERN_BUF - 1,
           &c->ignore_method);
  get_bool(&x, "SW_AGENT_INJECT_HEADERS", 1, &c->inject_headers);
  /* Python: a negative threshold means unlimited. */
  get_int(&x, "SW_PLUGIN_HTTP_HTTP_PARAMS_LENGTH_THRESHOLD", 1024, LONG_MIN,
          INT_MAX, &v);
  c->params_length_threshold = v < 0 ? -1 : (int)v;
  get_bool(&x, "SW_AGENT_LOG_REPORTER_SAFE_MODE", 0, &c->log_safe_mode);
  get_whole_str(&x, "SW_AGENT_FILE_PATH", "swpreload-segments.jsonl",
                c->file_path, sizeof(c->file_path));
  get_list(&x, "SW_AGENT_EXCLUDE", NULL, 0, SW_PATTERN_BUF - 1, &c->exclude);
  get_list(&x, "SW_AGENT_INCLUDE", NULL, 0, SW_PATTERN_BUF - 1, &c->include);

  /* The "<namespace>-" topic prefix is applied by the Kafka transport. */
  get_whole_str(&x, "SW_KAFKA_BOOTSTRAP_SERVERS", "localhost:9092",
                c->kafka_servers, sizeof(c->kafka_servers));
  get_str(&x, "SW_KAFKA_NAMESPACE", "", c->kafka_namespace,
          sizeof(c->kafka_namespace));
  get_str(&x, "SW_KAFKA_TOPIC_SEGMENT", "skywalking-segments",
          c->kafka_topic_segment, sizeof(c->kafka_topic_segment));
  get_str(&x, "SW_KAFKA_TOPIC_MANAGEMENT", "skywalking-managements",
          c->kafka_topic_management, sizeof(c->kafka_topic_management));
}

void
sw_config_parse(struct sw_config *c, sw_getenv_fn get, sw_warn_fn warn,
                void *ud, const char *exe_name, int pid, const char *host)
{
  struct cfg_ctx x = {get, warn, ud, 0};

  parse(&x, c, exe_name, pid, host);
}

void
sw_config_parse_zeroed(struct sw_config *c, sw_getenv_fn get,
                       sw_warn_fn warn, void *ud, const char *exe_name,
                       int pid, const char *host)
{
  struct cfg_ctx x = {get, warn, ud, 1};

  parse(&x, c, exe_name, pid, host);
}

/* fnmatch() with the item [b, b + len) as the pattern. */
static __attribute__((noinline)) int
item_match_long(const char *b, size_t len, const char *name)
{
  char pat[SW_PATTERN_BUF];

  sw_strlcpyn(pat, sizeof(pat), b, len);
  return fnmatch(pat, name, 0) == 0;
}

/* fnmatch(item, name, 0) == 0 for the item [b, b + len). The decision
 * of an excluded process makes no libc call but this fnmatch(), and none
 * at all for a pattern without wildcards (compared here: fnmatch() with
 * no flags matches such a pattern literally). A first call to a libc
 * function costs this object a lazy symbol lookup (~750 instructions)
 * and often a page fault on the function's code. */
static int
item_match(const char *b, size_t len, const char *name)
{
  char pat[128];
  size_t i;

  for (i = 0; i < len; i++) {
    if (b[i] == '*' || b[i] == '?' || b[i] == '[' || b[i] == '\\')
      break;
  }
  if (i == len) {
    for (i = 0; i < len; i++) {
      if (name[i] != b[i])
        return 0;
    }
    return name[len] == '\0';
  }
  if (len >= sizeof(pat))
    return item_match_long(b, len, name);
  memcpy(pat, b, len);
  pat[len] = '\0';
  return fnmatch(pat, name, 0) == 0;
}

/* Whether name matches an item that get_list() would keep of v (NULL:
 * none); *kept is how many it keeps, and *clean is cleared when it would
 * drop one (and warn). */
static int
value_match(const char *v, const char *name, int *kept, int *clean)
{
  struct list_iter it;
  const char *b;
  size_t len;
  int hit = 0;

  list_iter_init(&it, v, SW_PATTERN_BUF - 1);
  while (list_next(&it, &b, &len)) {
    if (!hit && item_match(b, len, name))
      hit = 1;
  }
  *kept = it.n;
  if (it.dropped)
    *clean = 0;
  return hit;
}

int
sw_config_traced(sw_getenv_fn get, void *ud, const char *exe_name,
                 int *clean)
{
  struct cfg_ctx x = {get, NULL, ud, 0};
  const char *v, *name = exe_name != NULL ? exe_name : "";
  int ok = 1, disabled = 0, excluded, included, nexclude, ninclude;

  v = env(&x, "SW_AGENT_DISABLE");
  if (v != NULL) {
    disabled = bool_word(v);
    if (disabled < 0) {
      disabled = 0;
      ok = 0;
    }
  }
  excluded = value_match(env(&x, "SW_AGENT_EXCLUDE"), name, &nexclude, &ok);
  included = value_match(env(&x, "SW_AGENT_INCLUDE"), name, &ninclude, &ok);
  if (clean != NULL)
    *clean = ok;
  return !disabled && !excluded && (ninclude == 0 || included);
}

int
sw_list_match(const struct sw_list *l, const char *name)
{
  int i;

  for (i = 0; i < l->n; i++) {
    if (fnmatch(l->item[i], name, 0) == 0)
      return 1;
  }
  return 0;
}

void
sw_env_scan(struct sw_env *e, char *const *envp)
{
  char *const *p;

  e->envp = envp;
  e->n = 0;
  if (envp == NULL)
    return;
  for (p = envp; *p != NULL; p++) {
    if ((*p)[0] != 'S' || (*p)[1] != 'W' || (*p)[2] != '_')
      continue;
    if (e->n == SW_ENV_MAX) {
      e->n = -1;
      return;
    }
    e->entry[e->n++] = *p;
  }
}

/* The value of entry when it is "name=value" (name not empty). Loops,
 * not strlen() and strncmp(): see item_match(). */
static const char *
entry_value(const char *entry, const char *name)
{
  while (*name != '\0' && *entry == *name) {
    entry++;
    name++;
  }
  return *name == '\0' && *entry == '=' ? entry + 1 : NULL;
}

const char *
sw_env_get(const char *name, void *ud)
{
  const struct sw_env *e = ud;
  const char *v;
  char *const *p;
  int i;

  if (name[0] == '\0')
    return NULL;
  if (e->n >= 0 && name[0] == 'S' && name[1] == 'W' && name[2] == '_') {
    for (i = 0; i < e->n; i++) {
      if ((v = entry_value(e->entry[i], name)) != NULL)
        return v;
    }
    return NULL;
  }
  /* Too many SW_* entries to keep, or another name: as getenv() does. */
  if (e->envp == NULL)
    return NULL;
  for (p = e->envp; *p != NULL; p++) {
    if ((v = entry_value(*p, name)) != NULL)
      return v;
  }
  return NULL;
}

int
sw_env_only(const struct sw_env *e, const char *const *names, size_t n)
{
  const char *eq;
  size_t i;
  int k;

  if (e->n < 0)
    return 0;
  for (k = 0; k < e->n; k++) {
    for (eq = e->entry[k]; *eq != '\0' && *eq != '='; eq++)
      ;
    if (*eq == '\0' || eq[1] == '\0')
      continue; /* never a value, or an empty one: unset */
    for (i = 0; i < n; i++) {
      if (names[i][0] != '\0' && entry_value(e->entry[k], names[i]) != NULL)
        break;
    }
    if (i == n)
      return 0;
  }
  return 1;
}

const char *
sw_protocol_name(enum sw_protocol p)
{
  switch (p) {
  case SW_PROTO_GRPC:
    return "grpc";
  case SW_PROTO_HTTP:
    return "http";
  case SW_PROTO_KAFKA:
    return "kafka";
  case SW_PROTO_FILE:
    return "file";
  }
  return "unknown";
}

static const char *
log_level_name(enum sw_log_level l)
{
  static const char *const names[] = {"DEBUG", "INFO", "WARNING", "ERROR",
                                      "OFF"};

  return (unsigned)l < SW_ARRAY_LEN(names) ? names[l] : "unknown";
}

struct fmt {
  char *buf;
  size_t cap;
  size_t len; /* what would have been written, as snprintf counts */
};

static void __attribute__((format(printf, 2, 3)))
fmt_add(struct fmt *f, const char *fmt, ...)
{
  va_list ap;
  int n;

  va_start(ap, fmt);
  n = vsnprintf(f->len < f->cap ? f->buf + f->len : NULL,
                f->len < f->cap ? f->cap - f->len : 0, fmt, ap);
  va_end(ap);
  if (n > 0)
    f->len += (size_t)n;
}

static void
fmt_list(struct fmt *f, const char *name, const struct sw_list *l)
{
  int i;

  fmt_add(f, "%s=", name);
  for (i = 0; i < l->n; i++)
    fmt_add(f, "%s%s", i > 0 ? "," : "", l->item[i]);
  fmt_add(f, "\n");
}

size_t
sw_config_format(const struct sw_config *c, char *buf, size_t cap)
{
  struct fmt f = {buf, cap, 0};

  if (cap > 0)
    buf[0] = '\0';
  fmt_add(&f, "SW_AGENT_DISABLE=%s\n", c->disabled ? "true" : "false");
  fmt_add(&f, "SW_AGENT_NAME=%s\n", c->service);
  fmt_add(&f, "SW_AGENT_NAMESPACE=%s\n", c->namespace_);
  fmt_add(&f, "SW_AGENT_INSTANCE_NAME=%s\n", c->instance);
  fmt_add(&f, "SW_AGENT_PROTOCOL=%s\n", sw_protocol_name(c->protocol));
  fmt_add(&f, "SW_AGENT_COLLECTOR_BACKEND_SERVICES=%s\n", c->backend);
  fmt_add(&f, "SW_AGENT_FORCE_TLS=%s\n", c->force_tls ? "true" : "false");
  /* The token itself is a secret. */
  fmt_add(&f, "SW_AGENT_AUTHENTICATION=%s\n",
          c->authentication[0] != '\0' ? "(set)" : "");
  fmt_add(&f, "SW_AGENT_COLLECTOR_HEARTBEAT_PERIOD=%d\n",
          c->heartbeat_period_s);
  fmt_add(&f, "SW_AGENT_COLLECTOR_PROPERTIES_REPORT_PERIOD_FACTOR=%d\n",
          c->properties_factor);
  fmt_add(&f, "SW_AGENT_TRACE_REPORTER_MAX_BUFFER_SIZE=%u\n",
          (unsigned)c->ring_size);
  fmt_add(&f, "SW_AGENT_LOGGING_LEVEL=%s\n", log_level_name(c->log_level));
  fmt_add(&f, "SW_AGENT_FLUSH_TIMEOUT_MS=%d\n", c->flush_timeout_ms);
  fmt_add(&f, "SW_AGENT_QUEUE_TIMEOUT=%d\n", c->queue_timeout_ms / 1000);
  fmt_list(&f, "SW_AGENT_TRACE_IGNORE_PATH", &c->ignore_path);
  fmt_list(&f, "SW_AGENT_IGNORE_SUFFIX", &c->ignore_suffix);
  fmt_list(&f, "SW_PLUGIN_HTTP_IGNORE_METHOD", &c->ignore_method);
  fmt_add(&f, "SW_AGENT_INJECT_HEADERS=%s\n",
          c->inject_headers ? "true" : "false");
  fmt_add(&f, "SW_PLUGIN_HTTP_HTTP_PARAMS_LENGTH_THRESHOLD=%d\n",
          c->params_length_threshold);
  fmt_add(&f, "SW_AGENT_LOG_REPORTER_SAFE_MODE=%s\n",
          c->log_safe_mode ? "true" : "false");
  fmt_add(&f, "SW_AGENT_FILE_PATH=%s\n", c->file_path);
  fmt_list(&f, "SW_AGENT_EXCLUDE", &c->exclude);
  fmt_list(&f, "SW_AGENT_INCLUDE", &c->include);
  fmt_add(&f, "SW_KAFKA_BOOTSTRAP_SERVERS=%s\n", c->kafka_servers);
  fmt_add(&f, "SW_KAFKA_NAMESPACE=%s\n", c->kafka_namespace);
  fmt_add(&f, "SW_KAFKA_TOPIC_SEGMENT=%s\n", c->kafka_topic_segment);
  fmt_add(&f, "SW_KAFKA_TOPIC_MANAGEMENT=%s\n", c->kafka_topic_management);
  return f.len;
}
