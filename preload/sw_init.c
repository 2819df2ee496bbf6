/* sw_init.c: constructor, destructor and fork handling.
 *
 * The constructor reads the configuration once, decides whether this
 * process is traced at all (SW_AGENT_DISABLE, SW_AGENT_EXCLUDE,
 * SW_AGENT_INCLUDE), preallocates every table the hooks use, and only then
 * turns the hooks on (sw_active). An excluded process allocates nothing,
 * starts no thread and dlopen()s nothing; its hooks pass straight through.
 * Hooks entered before the constructor ran (another library's
 * constructor) also pass straight through.
 *
 * Start-up cost: every process started with the preload pays for this
 * constructor, traced or not, so it does the least first. One pass over
 * environ collects the SW_* entries; the three variables that decide
 * whether the process is traced are read (and the exclude and include
 * patterns matched) before anything else. An excluded process then stops:
 * the full configuration is parsed only when some other SW_* variable is
 * set or one of the three is malformed (its warnings are still printed,
 * once), and it does not even resolve the real functions: its first hook
 * does that (sw_real_init()). Nothing written at start lives in the big
 * tables, which are filled or mapped only for a traced process. */
#include "sw_common.h"

#include <dlfcn.h>
#include <errno.h>
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

/* What the constructor of a traced process writes, placed where it costs
 * no page fault of its own: the small variables in .data, whose page the
 * loader has already written (relocations). Of the configuration's 25 KB,
 * a default one (sw_config_parse_zeroed()) writes the first 2.5 KB only.
 * (Aligning it to a page would align all of .bss, which then no longer
 * shares the .data page: one more fault in every process, at exit.) */
#define SW_LOADER_DIRTY __attribute__((section(".data")))
static struct sw_config cfg_store;
const struct sw_config *sw_cfg = &cfg_store;
_Atomic int sw_active SW_LOADER_DIRTY;
static char hostname[256] SW_LOADER_DIRTY;

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

static uint64_t
make_seed(pid_t pid)
{
  uint64_t seed = 0;
  struct timespec ts;
  if (syscall(SYS_getrandom, &seed, sizeof(seed), 0) == sizeof(seed))
    return seed ^ ((uint64_t)pid << 32);
  /* No getrandom (old kernel, seccomp): the clock makes the seed differ
   * between processes that reuse a pid. Not read otherwise: the first
   * clock_gettime() of a process pages in the vDSO. */
  seed = 0;
  clock_gettime(CLOCK_REALTIME, &ts);
  return seed ^ ((uint64_t)pid << 32) ^ (uint64_t)ts.tv_nsec ^
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

/* glibc's own symbol, absent from every other C library. Looked up
 * after this object only (the C library always comes after a preloaded
 * one): half the cost of searching from the executable on. */
static int
libc_is_glibc(void)
{
  return dlsym(RTLD_NEXT, "gnu_get_libc_version") != NULL;
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
  sw_trace_atfork_child(make_seed(getpid()));
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

/* The variables sw_config_traced() reads (and reports, through *clean). */
static const char *const decide_vars[] = {"SW_AGENT_DISABLE", "SW_AGENT_EXCLUDE",
                                          "SW_AGENT_INCLUDE"};

__attribute__((constructor)) static void
sw_ctor(void)
{
  int saved = errno;
  struct sw_env env;
  int clean;
  sw_tls_busy++;
  sw_env_scan(&env, environ);
  const char *exe = program_invocation_short_name;
  if (!exe || !exe[0])
    exe = "unknown";
  if (!sw_config_traced(sw_env_get, &env, exe, &clean)) {
    /* Disabled or excluded. Its malformed variables are still reported,
     * as a traced process reports them: parse everything unless nothing
     * but the three deciding variables is set and they are well formed.
     * The instance name is never used here: no host name is asked for. */
    if (!clean || !sw_env_only(&env, decide_vars, SW_ARRAY_LEN(decide_vars)))
      sw_config_parse_zeroed(&cfg_store, sw_env_get, env_warn, &env, exe,
                             (int)getpid(), NULL);
    goto out;
  }

  if (gethostname(hostname, sizeof(hostname) - 1) != 0)
    sw_strlcpy(hostname, "localhost", sizeof(hostname));
  pid_t pid = getpid();
  sw_config_parse_zeroed(&cfg_store, sw_env_get, env_warn, &env, exe,
                         (int)pid, hostname);
  sw_log_set_level(cfg_store.log_level);
  /* A glibc build loaded by another C library's loader (musl's does load
   * it): the ABI details the hooks and the reporter rely on are glibc's,
   * so the process is left alone, as an excluded one is. */
  if (!libc_is_glibc()) {
    SW_DEBUG("the C library is not glibc: not tracing %s", exe);
    goto out;
  }
  sw_real_init();

  struct rlimit rl;
  uint32_t max_fds = 65536;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_max != RLIM_INFINITY &&
      rl.rlim_max > max_fds)
    max_fds = rl.rlim_max > SW_MAX_FDS ? SW_MAX_FDS : (uint32_t)rl.rlim_max;
  char libdir[PATH_MAX];
  libdir_of_self(libdir, sizeof(libdir));
  sw_trace_init(make_seed(pid));
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
