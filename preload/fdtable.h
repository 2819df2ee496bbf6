/* fdtable.h: the reporter thread's own fd table.
 *
 * A thread made by pthread_create() shares the process's fd table, and
 * once the table is shared the kernel takes a reference on the file in
 * every fd system call of every thread (bench/fdtable.py: 16-23 ns per
 * call). In a single-threaded application (an nginx worker) that is the
 * application's every recv(), writev() and epoll_wait(). So when the
 * application is single-threaded as its reporter thread starts, the
 * thread gives itself a copy of the table (unshare(CLONE_FILES)) and
 * closes everything in the copy except the fds the reporter's init() made
 * on the application's thread (libcurl's wake-up socketpair); the
 * application's thread then closes those in its table. From then on the
 * two tables hold nothing in common: the agent's sockets take no fd
 * numbers of the application's, closefrom() and dup2() in the
 * application never reach them, and its children never inherit them.
 * The reporter's log still goes to the application's stderr: sw_log()
 * fetches the process's current fd 2 for each message (pidfd_getfd()),
 * so the reporter never holds a copy of it (a copy would keep a rotated
 * log or a parent's pipe open).
 *
 * Nothing changes when the application already has threads (they would
 * pay the shared table's price anyway, and librdkafka's threads, made by
 * init(), use the application's table), when init() made an fd that is
 * neither a socket nor the pidfd (the file transport's file, or a
 * library's that the application may share), when the kernel or a seccomp
 * filter refuses unshare(), pidfd_open() or pidfd_getfd(), or when /proc
 * is not mounted. */
#ifndef SW_PRELOAD_FDTABLE_H
#define SW_PRELOAD_FDTABLE_H

#include <stdatomic.h>
#include <stdint.h>

#define SW_FDT_MAX 32 /* fds init() may make; more: the table stays shared */

struct sw_fdt {
  int pidfd;           /* the process, for sw_log(); -1: not used */
  int n;               /* init()'s fds, pidfd among them */
  int fds[SW_FDT_MAX];
  _Atomic uint32_t state; /* the hand-over (fdtable.c) */
};

/* Application thread, before init(): 0 when the table can be made
 * private (the process is single-threaded and has what it takes); the
 * fds open now are noted in f. */
int sw_fdt_before(struct sw_fdt *f);
/* Application thread, after init(): 0 when the fds init() made are noted
 * in f (and the process is still single-threaded); else f is given up. */
int sw_fdt_after(struct sw_fdt *f);
/* First thing on the reporter thread, with the f the two calls above
 * filled: makes the thread's table private unless the application's
 * thread gave up waiting. */
void sw_fdt_reporter(struct sw_fdt *f);
/* Application thread, once the reporter thread exists: waits for it to
 * take its copy (a bounded wait), then closes init()'s fds in the
 * application's table. */
void sw_fdt_finish(struct sw_fdt *f);
/* Application thread, when the reporter thread could not be started. */
void sw_fdt_abandon(struct sw_fdt *f);

#endif
