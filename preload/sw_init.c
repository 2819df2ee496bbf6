/* sw_init.c: constructor, destructor and fork handling.
 *
 * The constructor reads the configuration once, decides whether this
 * process is traced at all (SW_AGENT_DISABLE, SW_AGENT_EXCLUDE,
 * SW_AGENT_INCLUDE), preallocates every table the hooks use, and only then
 * turns the hooks on (sw_active). An excluded process allocates nothing,
 * starts no thread and dlopen()s nothing; its hooks pass straight through.
 * Hooks entered before the constructor ran (another library's
 * constructor) also pass straight through. */
#include "sw_common.h"

#include <dlfcn.h>
#include <errno.h>
#include <fnmatch.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "conn.h"
#include "sw_config.h"
#include "sw_guard.h"
#include "sw_log.h"
#include "sw_real.h"
#include "sw_runtime.h"
#include "sw_stats.h"
#include "trace.h"

#define SW_CONN_SLOTS 4096
#define SW_MAX_FDS (1u << 20)

__thread int sw_tls_busy __attribute__((tls_model("initial-exec")));

static struct sw_config cfg_store;
const struct sw_config *sw_cfg = &cfg_store;
_Atomic int sw_active;
static char hostname[256];

static const char *
env_get(const char *name, void *ud)
{
  (void)ud;
  return getenv(name);
}

static void
env_warn(const char *name, const char *value, const char *used, void *ud)
{
  (void)ud;
  size_t len = strlen(value);
  /* Shown at the default level (WARNING): the configured level is only
   * applied once parsing is over, so these always reach stderr. */
  sw_log(SW_LOG_WARNING, "%s=\"%.64s%s\" is not valid; using %s", name, value,
         len > 64 ? "..." : "", used);
}

static int
list_match(const struct sw_list *l, const char *name)
{
  for (int i = 0; i < l->n; i++)
    if (fnmatch(l->item[i], name, 0) == 0)
      return 1;
  return 0;
}

static uint64_t
make_seed(void)
{
  uint64_t seed = 0;
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  if (syscall(SYS_getrandom, &seed, sizeof(seed), 0) != sizeof(seed))
    seed = 0;
  return seed ^ ((uint64_t)getpid() << 32) ^ (uint64_t)ts.tv_nsec ^
         ((uint64_t)ts.tv_sec << 20);
}

/* pthread_atfork() is not in libc.so: glibc links every caller with a
 * small wrapper (libc_nonshared.a) that calls __register_atfork() with the
 * caller's __dso_handle, so that the handlers go away with the object.
 * This is that wrapper, with __register_atfork() referenced weakly.
 * A strong reference to that glibc-only symbol would make musl's loader,
 * which maps this object and binds its libc.so.6 imports to musl itself,
 * refuse to start the program at all ("symbol not found"); with a weak
 * one the program starts and the constructor stands down (see sw_ctor).
 * Hidden like everything but the hooks: hook_curl.c's calls bind here
 * and the application's never do. */
extern int __register_atfork(void (*prepare)(void), void (*parent)(void),
                             void (*child)(void), void *dso)
    __attribute__((weak));
extern void *__dso_handle __attribute__((weak, visibility("hidden")));

int
pthread_atfork(void (*prepare)(void), void (*parent)(void),
               void (*child)(void))
{
  if (!__register_atfork)
    return ENOSYS;
  return __register_atfork(prepare, parent, child,
                           &__dso_handle == NULL ? NULL : __dso_handle);
}

/* glibc's own symbol, absent from every other C library. */
static int
libc_is_glibc(void)
{
  return dlsym(RTLD_DEFAULT, "gnu_get_libc_version") != NULL;
}

static void
atfork_child(void)
{
  if (!atomic_load_explicit(&sw_active, memory_order_relaxed))
    return;
  sw_tls_busy++;
  /* A default instance name follows the new pid. */
  if (cfg_store.instance_is_default)
    snprintf(cfg_store.instance, sizeof(cfg_store.instance), "%d@%.60s",
             (int)getpid(), hostname);
  sw_trace_atfork_child(make_seed());
  sw_conn_atfork_child();
  sw_reporter_atfork_child();
  /* The counters describe this process: the parent reports its own. */
#define SW_STATS_ZERO(name) \
  atomic_store_explicit(&sw_stats.name, 0, memory_order_relaxed);
  SW_STATS_FIELDS(SW_STATS_ZERO)
#undef SW_STATS_ZERO
  sw_tls_busy--;
}

static void
libdir_of_self(char *out, size_t cap)
{
  Dl_info info;
  out[0] = '\0';
  if (dladdr((void *)&libdir_of_self, &info) && info.dli_fname) {
    const char *slash = strrchr(info.dli_fname, '/');
    if (slash)
      sw_strlcpyn(out, cap, info.dli_fname, (size_t)(slash - info.dli_fname));
    else
      sw_strlcpy(out, ".", cap);
  }
}

__attribute__((constructor)) static void
sw_ctor(void)
{
  int saved = errno;
  sw_tls_busy++;
  sw_real_init();
  if (gethostname(hostname, sizeof(hostname) - 1) != 0)
    sw_strlcpy(hostname, "localhost", sizeof(hostname));
  const char *exe = program_invocation_short_name;
  if (!exe || !exe[0])
    exe = "unknown";
  sw_config_parse(&cfg_store, env_get, env_warn, NULL, exe, (int)getpid(),
                  hostname);
  sw_log_set_level(cfg_store.log_level);
  /* A glibc build loaded by another C library's loader (musl's does load
   * it): the ABI details the hooks and the reporter rely on are glibc's,
   * so the process is left alone, as an excluded one is. */
  if (!libc_is_glibc()) {
    SW_DEBUG("the C library is not glibc: not tracing %s", exe);
    goto out;
  }
  if (cfg_store.disabled || list_match(&cfg_store.exclude, exe) ||
      (cfg_store.include.n > 0 && !list_match(&cfg_store.include, exe)))
    goto out;

  struct rlimit rl;
  uint32_t max_fds = 65536;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_max != RLIM_INFINITY &&
      rl.rlim_max > max_fds)
    max_fds = rl.rlim_max > SW_MAX_FDS ? SW_MAX_FDS : (uint32_t)rl.rlim_max;
  char libdir[PATH_MAX];
  libdir_of_self(libdir, sizeof(libdir));
  sw_trace_init(make_seed());
  if (sw_conn_init(&cfg_store, max_fds, SW_CONN_SLOTS) != 0 ||
      sw_reporter_setup(&cfg_store, libdir, hostname) != 0) {
    sw_log(SW_LOG_ERROR, "cannot allocate tables: not tracing");
    goto out;
  }
  pthread_atfork(NULL, NULL, atfork_child);
  SW_DEBUG("tracing %s as service \"%s\" instance \"%s\", %s to %s", exe,
           cfg_store.service, cfg_store.instance,
           sw_protocol_name(cfg_store.protocol),
           cfg_store.protocol == SW_PROTO_KAFKA  ? cfg_store.kafka_servers
           : cfg_store.protocol == SW_PROTO_FILE ? cfg_store.file_path
                                                 : cfg_store.backend);
  /* Release: every table above is visible to a hook that sees 1. */
  atomic_store_explicit(&sw_active, 1, memory_order_release);
out:
  sw_tls_busy--;
  errno = saved;
}

__attribute__((destructor)) static void
sw_dtor(void)
{
  if (!atomic_load_explicit(&sw_active, memory_order_acquire))
    return;
  int saved = errno;
  sw_tls_busy++;
  sw_reporter_flush_at_exit();
  sw_tls_busy--;
  errno = saved;
}
