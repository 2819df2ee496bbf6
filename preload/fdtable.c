/* fdtable.c: the reporter thread's own fd table (fdtable.h).
 *
 * Only raw system calls: nothing here enters a hook, and errno is the
 * caller's to keep (sw_sink_first_conn() runs inside one). */
#include "sw_common.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "fdtable.h"
#include "sw_futex.h"
#include "sw_log.h"

#if defined(SYS_pidfd_open) && defined(SYS_pidfd_getfd)
#define HAVE_PIDFD 1
#endif

/* The hand-over between the two threads. */
enum {
  FDT_OFF = 0,     /* not tried: the table stays shared */
  FDT_PENDING,     /* the application's thread waits for the reporter */
  FDT_CLAIMED,     /* the reporter thread is making its copy */
  FDT_PRIVATE,     /* done: two tables */
  FDT_SHARED,      /* done: unshare() failed, one table */
  FDT_ABANDONED,   /* the application's thread stopped waiting first */
};

#define WAIT_MS 2000 /* for the reporter thread to take its copy */
#define BITS 4096    /* fds noted before init(); a higher one: give up */

static uint64_t noted[BITS / 64];

struct linux_dirent64 {
  uint64_t d_ino;
  int64_t d_off;
  unsigned short d_reclen;
  unsigned char d_type;
  char d_name[];
};

/* Calls fn(n, arg) for each numeric entry of the directory at path (a
 * task list, or an fd list: then the directory's own fd is left out);
 * returns the count, or -1. */
static int
each_entry(const char *path, int fds, void (*fn)(int, void *), void *arg)
{
  char buf[2048];
  int dfd = (int)syscall(SYS_openat, AT_FDCWD, path,
                         O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  int count = 0;

  if (dfd < 0)
    return -1;
  for (;;) {
    long n = syscall(SYS_getdents64, dfd, buf, sizeof(buf));
    if (n < 0) {
      count = -1;
      break;
    }
    if (n == 0)
      break;
    for (long off = 0; off < n;) {
      struct linux_dirent64 *d = (struct linux_dirent64 *)(buf + off);
      const char *s = d->d_name;
      long v = 0;

      off += d->d_reclen;
      if (*s < '0' || *s > '9')
        continue;
      for (; *s >= '0' && *s <= '9' && v < (1L << 30); s++)
        v = v * 10 + (*s - '0');
      if (fds && v == dfd)
        continue;
      count++;
      if (fn)
        fn((int)v, arg);
    }
  }
  syscall(SYS_close, dfd);
  return count;
}

static int
single_threaded(void)
{
  return each_entry("/proc/self/task", 0, NULL, NULL) == 1;
}

static void
note_before(int fd, void *arg)
{
  int *over = arg;

  if (fd >= BITS)
    *over = 1;
  else
    noted[fd / 64] |= 1ULL << (fd % 64);
}

/* Whether an fd init() made may move to the reporter's table: a socket
 * (libcurl's socketpair, a connection) or the pidfd. Anything else (a
 * file, a pipe, an eventfd) may be a library's that the application
 * shares (libcurl's global state is the application's too when it uses
 * libcurl): the table then stays shared. */
static int
movable(int fd)
{
  char path[48], t[32];
  long n;

  snprintf(path, sizeof(path), "/proc/thread-self/fd/%d", fd);
  n = syscall(SYS_readlinkat, AT_FDCWD, path, t, sizeof(t) - 1);
  if (n <= 0)
    return 0;
  t[n] = '\0';
  return strncmp(t, "socket:[", 8) == 0 ||
         strcmp(t, "anon_inode:[pidfd]") == 0;
}

static void
note_new(int fd, void *arg)
{
  struct sw_fdt *f = arg;

  if (fd < BITS && (noted[fd / 64] >> (fd % 64) & 1))
    return;
  if (f->n < SW_FDT_MAX && movable(fd))
    f->fds[f->n++] = fd;
  else
    f->n = SW_FDT_MAX + 1; /* give up: the table stays shared */
}

int
sw_fdt_before(struct sw_fdt *f)
{
#ifdef HAVE_PIDFD
  int over = 0;

  memset(f, 0, sizeof(*f));
  f->pidfd = -1;
  memset(noted, 0, sizeof(noted));
  if (!single_threaded() ||
      each_entry("/proc/thread-self/fd", 1, note_before, &over) < 0 || over)
    return -1;
  /* The reporter's log needs the process's fd 2 at each message: make
   * sure the kernel (and any seccomp filter) allows fetching it. EBADF:
   * there is no fd 2 now, which is allowed. */
  f->pidfd = (int)syscall(SYS_pidfd_open, getpid(), 0);
  if (f->pidfd < 0)
    return -1;
  int t = (int)syscall(SYS_pidfd_getfd, f->pidfd, 2, 0);
  if (t >= 0) {
    syscall(SYS_close, t);
  } else if (errno != EBADF) {
    syscall(SYS_close, f->pidfd);
    f->pidfd = -1;
    return -1;
  }
  return 0;
#else
  (void)f;
  return -1;
#endif
}

int
sw_fdt_after(struct sw_fdt *f)
{
  f->n = 0;
  if (single_threaded() &&
      each_entry("/proc/thread-self/fd", 1, note_new, f) >= 0 &&
      f->n <= SW_FDT_MAX) {
    atomic_store_explicit(&f->state, FDT_PENDING, memory_order_release);
    return 0;
  }
  sw_fdt_abandon(f);
  return -1;
}

static int
is_kept(const struct sw_fdt *f, int fd)
{
  for (int i = 0; i < f->n; i++)
    if (f->fds[i] == fd)
      return 1;
  return 0;
}

static void
close_unless_kept(int fd, void *arg)
{
  if (!is_kept(arg, fd))
    syscall(SYS_close, fd);
}

void
sw_fdt_reporter(struct sw_fdt *f)
{
  uint32_t want = FDT_PENDING;
  uint32_t done;

  if (!atomic_compare_exchange_strong_explicit(&f->state, &want, FDT_CLAIMED,
                                               memory_order_acq_rel,
                                               memory_order_acquire))
    return; /* not tried, or given up */
  if (syscall(SYS_unshare, CLONE_FILES) == 0) {
    /* The copy holds every fd of the application's: keep only init()'s.
     * (The directory read here is this thread's own table.) */
    each_entry("/proc/thread-self/fd", 1, close_unless_kept, f);
    sw_log_stderr_from(f->pidfd);
    done = FDT_PRIVATE;
  } else {
    done = FDT_SHARED;
  }
  atomic_store_explicit(&f->state, done, memory_order_release);
  sw_futex(&f->state, FUTEX_WAKE, 1, NULL);
}

void
sw_fdt_finish(struct sw_fdt *f)
{
  struct timespec t0, now;
  uint32_t s;

  if (atomic_load_explicit(&f->state, memory_order_acquire) == FDT_OFF)
    return;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  for (;;) {
    s = atomic_load_explicit(&f->state, memory_order_acquire);
    if (s == FDT_PRIVATE || s == FDT_SHARED)
      break;
    clock_gettime(CLOCK_MONOTONIC, &now);
    long ms = (now.tv_sec - t0.tv_sec) * 1000 +
              (now.tv_nsec - t0.tv_nsec) / 1000000;
    if (s == FDT_PENDING && ms >= WAIT_MS) {
      uint32_t want = FDT_PENDING;
      if (atomic_compare_exchange_strong_explicit(
              &f->state, &want, FDT_ABANDONED, memory_order_acq_rel,
              memory_order_acquire)) {
        s = FDT_ABANDONED;
        break;
      }
      continue; /* claimed meanwhile: its copy is a few calls away */
    }
    struct timespec ts = {0, 10 * 1000000L};
    sw_futex(&f->state, FUTEX_WAIT, s, s == FDT_PENDING ? &ts : NULL);
  }
  if (s == FDT_PRIVATE) {
    /* init()'s fds are the reporter's now: out of the application's
     * table, pidfd included. */
    for (int i = 0; i < f->n; i++)
      syscall(SYS_close, f->fds[i]);
  } else {
    sw_fdt_abandon(f);
  }
}

void
sw_fdt_abandon(struct sw_fdt *f)
{
  atomic_store_explicit(&f->state, FDT_OFF, memory_order_release);
  if (f->pidfd >= 0)
    syscall(SYS_close, f->pidfd);
  f->pidfd = -1;
  f->n = 0;
}
