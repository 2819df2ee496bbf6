/* bench_fdtable.c: what a second thread costs each fd system call of a
 * single-threaded program, and how much of it is the shared fd table.
 *
 *   bench_fdtable none|shared|unshared N
 *
 * N recv(MSG_DONTWAIT) calls on an empty AF_UNIX socket (each fails with
 * EAGAIN: a system call that looks its fd up and does nothing else),
 * first through syscall() (the kernel's share), then through libc's
 * recv() (plus libc's own multi-threaded paths). Before the loops:
 *   none      no other thread;
 *   shared    one idle thread, made with pthread_create() (it shares the
 *             fd table, as the reporter thread does);
 *   unshared  the same thread, which first gives itself a private copy
 *             of the fd table (unshare(CLONE_FILES)) and closes every fd
 *             in that copy.
 * With a shared table, the kernel takes a reference on the file for every
 * call (fdget/fput); with a table of its own it need not. Prints
 * "raw_ns=R libc_ns=L" (nanoseconds per call, wall clock). bench/fdtable.py
 * runs the three in turns and compares them. */
#define _GNU_SOURCE 1

#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int ready;

static void *
idle(void *arg)
{
  if (arg) {
    if (unshare(CLONE_FILES) != 0)
      perror("unshare");
    if (syscall(SYS_close_range, 0U, ~0U, 0U) != 0)
      perror("close_range");
  }
  pthread_mutex_lock(&mu);
  ready = 1;
  pthread_cond_signal(&cv);
  pthread_mutex_unlock(&mu);
  for (;;)
    pause();
  return NULL;
}

static double
now_ns(void)
{
  struct timespec t;

  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

int
main(int argc, char **argv)
{
  int sv[2];
  char b[16];
  long n;

  if (argc != 3 || (n = atol(argv[2])) <= 0 ||
      (strcmp(argv[1], "none") && strcmp(argv[1], "shared") &&
       strcmp(argv[1], "unshared"))) {
    fprintf(stderr, "usage: bench_fdtable none|shared|unshared N\n");
    return 2;
  }
  if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) {
    perror("socketpair");
    return 1;
  }
  if (strcmp(argv[1], "none") != 0) {
    pthread_t t;

    if (pthread_create(&t, NULL, idle,
                       strcmp(argv[1], "unshared") ? NULL : (void *)1) != 0)
      return 1;
    pthread_mutex_lock(&mu);
    while (!ready)
      pthread_cond_wait(&cv, &mu);
    pthread_mutex_unlock(&mu);
  }
  double t0 = now_ns();
  for (long i = 0; i < n; i++)
    syscall(SYS_recvfrom, sv[1], b, 1, MSG_DONTWAIT, NULL, NULL);
  double t1 = now_ns();
  for (long i = 0; i < n; i++)
    recv(sv[1], b, 1, MSG_DONTWAIT);
  double t2 = now_ns();
  printf("raw_ns=%.1f libc_ns=%.1f\n", (t1 - t0) / (double)n,
         (t2 - t1) / (double)n);
  return 0;
}
