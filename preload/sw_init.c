/* sw_init.c: constructor, destructor, fork handling and the lazy set-up
 * of the tables.
 *
 * The constructor reads the configuration once, decides whether this
 * process is traced at all (SW_AGENT_DISABLE, SW_AGENT_EXCLUDE,
 * SW_AGENT_INCLUDE) and turns the hooks on (sw_active). It allocates
 * nothing: the tables the hooks use (ids, the fd map and connection
 * slots, the span ring) are set up by sw_runtime_ready(), on the first
 * call that may start tracing a connection (accept, an AF_INET/AF_INET6
 * connect, a libcurl transfer). A process that never does (sh, ls, sed,
 * a program that only talks to AF_UNIX sockets) pays nothing for them;
 * until then the fd map is empty, so every I/O hook takes its untracked
 * fast path. An excluded process allocates nothing, starts no thread and
 * dlopen()s nothing; its hooks pass straight through. Hooks entered
 * before the constructor ran (another library's constructor) also pass
 * straight through.
 *
 * Start-up cost: every process started with the preload pays for this
 * constructor, traced or not, so it does the least first. One pass over
 * environ collects the SW_* entries; the three variables that decide
 * whether the process is traced are read (and the exclude and include
 * patterns matched) before anything else. An excluded process then stops:
 * the full configuration is parsed only when some other SW_* variable is
 * set or one of the three is malformed (its warnings are still printed,
 * once). Neither kind of process resolves the real functions here: the
 * first hook does that (sw_real_init()). Nothing written at start lives in
 * the big tables. */
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

/* glibc's own symbol, absent from every other C library: the weak
 * reference pthread_atfork() above needs anyway, bound by the loader, so
 * asking costs one load (a dlsym() of gnu_get_libc_version cost ~2,500
 * instructions at every start). */
static int
libc_is_glibc(void)
{
  return __register_atfork != NULL;
}

/* sw_runtime_ready()'s state word (sw_runtime.h). In .data: written at
 * set-up, and its page is already dirty. */
_Atomic int sw_setup_state SW_LOADER_DIRTY;

static void
atfork_child(void)
{
  if (!atomic_load_explicit(&sw_active, memory_order_relaxed))
    return;
  sw_tls_busy++;
  switch (atomic_load_explicit(&sw_setup_state, memory_order_acquire)) {
  case SW_SETUP_READY:
    /* A default instance name follows the new pid (before the set-up it
     * is made there, with the pid of the time). */
    if (cfg_store.instance_is_default)
      snprintf(cfg_store.instance, sizeof(cfg_store.instance), "%d@%.60s",
               (int)getpid(), hostname);
    sw_trace_atfork_child(make_seed(getpid()));
    sw_conn_atfork_child();
    sw_reporter_atfork_child();
    break;
  case SW_SETUP_RUNNING:
    /* Another thread of the parent was setting up: it does not exist
     * here. Start again at the next connection (what it had mapped is
     * left behind; the fd map is still empty, nothing was tracked). */
    atomic_store_explicit(&sw_setup_state, SW_SETUP_NONE,
                          memory_order_relaxed);
    break;
  default:
    break;
  }
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

/* The tables of a traced process: ids, the fd map and slots, the ring.
 * Only system calls (mmap, getrlimit, getrandom) and lock-free code, but
 * for dladdr() (the loader's recursive lock). 0, or -1 when a table cannot
 * be had. */
static int
setup_tables(void)
{
  struct rlimit rl;
  uint32_t max_fds = 65536;
  char libdir[PATH_MAX];
  /* Resolved now if no hook did it yet: the tracked paths use sw_real_*
   * without looking. */
  sw_real_init();
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_max != RLIM_INFINITY &&
      rl.rlim_max > max_fds)
    max_fds = rl.rlim_max > SW_MAX_FDS ? SW_MAX_FDS : (uint32_t)rl.rlim_max;
  libdir_of_self(libdir, sizeof(libdir));
  if (gethostname(hostname, sizeof(hostname) - 1) != 0)
    sw_strlcpy(hostname, "localhost", sizeof(hostname));
  /* What sw_config_parse_zeroed() makes of pid and host name. */
  if (cfg_store.instance_is_default)
    snprintf(cfg_store.instance, sizeof(cfg_store.instance), "%d@%s",
             (int)getpid(), hostname[0] ? hostname : "unknown");
  const char *exe = program_invocation_short_name;
  SW_DEBUG("tracing %s as service \"%s\" instance \"%s\", %s to %s",
           exe && exe[0] ? exe : "unknown", cfg_store.service,
           cfg_store.instance, sw_protocol_name(cfg_store.protocol),
           cfg_store.protocol == SW_PROTO_KAFKA  ? cfg_store.kafka_servers
           : cfg_store.protocol == SW_PROTO_FILE ? cfg_store.file_path
                                                 : cfg_store.backend);
  sw_trace_init(make_seed(getpid()));
  if (sw_conn_init(&cfg_store, max_fds, SW_CONN_SLOTS) != 0 ||
      sw_reporter_setup(&cfg_store, libdir, hostname) != 0) {
    sw_log(SW_LOG_ERROR, "cannot allocate tables: not tracing");
    return -1;
  }
  return 0;
}

/* How long a thread that finds another one setting up waits for it
 * (sched_yield()s; the set-up takes tens of microseconds). Past that it
 * does not track the connection it was about to. */
#define SW_SETUP_WAIT 20000

int
sw_runtime_setup(void)
{
  int saved = errno;
  int st = SW_SETUP_NONE;
  /* The guard first: a signal handler that interrupts this thread between
   * the claim and the end of set-up passes straight through its hooks
   * instead of waiting for the thread it interrupted. */
  sw_tls_busy++;
  if (!atomic_load_explicit(&sw_active, memory_order_acquire)) {
    st = SW_SETUP_FAILED;
  } else if (atomic_compare_exchange_strong_explicit(
                 &sw_setup_state, &st, SW_SETUP_RUNNING,
                 memory_order_acquire, memory_order_acquire)) {
    st = setup_tables() == 0 ? SW_SETUP_READY : SW_SETUP_FAILED;
    if (st == SW_SETUP_FAILED)
      atomic_store_explicit(&sw_active, 0, memory_order_relaxed);
    /* Release: every table is visible to whoever sees READY. */
    atomic_store_explicit(&sw_setup_state, st, memory_order_release);
  } else {
    for (int i = 0; st == SW_SETUP_RUNNING && i < SW_SETUP_WAIT; i++) {
      syscall(SYS_sched_yield);
      st = atomic_load_explicit(&sw_setup_state, memory_order_acquire);
    }
  }
  sw_tls_busy--;
  errno = saved;
  return st == SW_SETUP_READY;
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

  /* No pid or host name yet: a default instance name ("pid@host") is
   * made at set-up, before anything uses it (sw_runtime_setup()). */
  sw_config_parse_zeroed(&cfg_store, sw_env_get, env_warn, &env, exe, 0,
                         NULL);
  sw_log_set_level(cfg_store.log_level);
  /* A glibc build loaded by another C library's loader (musl's does load
   * it): the ABI details the hooks and the reporter rely on are glibc's,
   * so the process is left alone, as an excluded one is. */
  if (!libc_is_glibc()) {
    SW_DEBUG("the C library is not glibc: not tracing %s", exe);
    goto out;
  }
  /* Registered here, not at set-up: glibc takes a lock for it, which a
   * signal handler that makes the first connection could find held by
   * the thread it interrupted. */
  pthread_atfork(NULL, NULL, atfork_child);
  /* The tables come later (sw_runtime_ready()). Release: the
   * configuration is visible to a hook that sees 1. */
  atomic_store_explicit(&sw_active, 1, memory_order_release);
out:
  sw_tls_busy--;
  errno = saved;
}

__attribute__((destructor)) static void
sw_dtor(void)
{
  /* No tables, no reporter thread: nothing to flush (and the reporter's
   * state is not even looked at, which would fault its page in). */
  if (!atomic_load_explicit(&sw_active, memory_order_acquire) ||
      atomic_load_explicit(&sw_setup_state, memory_order_acquire) !=
          SW_SETUP_READY)
    return;
  int saved = errno;
  sw_tls_busy++;
  sw_reporter_flush_at_exit();
  sw_tls_busy--;
  errno = saved;
}
