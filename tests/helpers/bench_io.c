/* bench_io.c: N read()/write() calls on a non-socket fd, for counting
 * what a hook adds to calls it does not trace.
 *
 *   bench_io file-write|file-read|pipe N
 *
 * file-write: N write()s of 64 bytes to a fresh temporary file.
 * file-read:  the file is written first (not counted), then N read()s of
 *             64 bytes from it.
 * pipe:       N/2 rounds of write() 64 bytes into a pipe and read() them
 *             back: N calls in all.
 * Each measured loop is a function of its own (bench_loop_*), so that
 * valgrind --toggle-collect=bench_loop_* counts the loop and nothing
 * else (extern, so that the compiler never renames it to a clone such as
 * bench_loop_read.isra.0). Prints "calls=N". */
#define _GNU_SOURCE 1

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char buf[64];

__attribute__((noinline)) long
bench_loop_write(int fd, long n)
{
  long calls = 0;
  for (long i = 0; i < n; i++)
    calls += write(fd, buf, sizeof(buf)) == (ssize_t)sizeof(buf);
  return calls;
}

__attribute__((noinline)) long
bench_loop_read(int fd, long n)
{
  long calls = 0;
  for (long i = 0; i < n; i++)
    calls += read(fd, buf, sizeof(buf)) == (ssize_t)sizeof(buf);
  return calls;
}

__attribute__((noinline)) long
bench_loop_pipe(int rfd, int wfd, long n)
{
  long calls = 0;
  for (long i = 0; i < n / 2; i++) {
    calls += write(wfd, buf, sizeof(buf)) == (ssize_t)sizeof(buf);
    calls += read(rfd, buf, sizeof(buf)) == (ssize_t)sizeof(buf);
  }
  return calls;
}

/* Fills the file without calling write() n times from a measured loop. */
static int
fill(int fd, long n)
{
  static char big[1 << 16];
  long left = n * (long)sizeof(buf);
  while (left > 0) {
    size_t k = left < (long)sizeof(big) ? (size_t)left : sizeof(big);
    if (write(fd, big, k) != (ssize_t)k)
      return -1;
    left -= (long)k;
  }
  return lseek(fd, 0, SEEK_SET) == 0 ? 0 : -1;
}

int
main(int argc, char **argv)
{
  if (argc != 3) {
    fprintf(stderr, "usage: bench_io file-write|file-read|pipe N\n");
    return 2;
  }
  long n = atol(argv[2]), calls;
  memset(buf, 'x', sizeof(buf));
  if (strcmp(argv[1], "pipe") == 0) {
    int p[2];
    if (pipe(p) != 0)
      return 1;
    calls = bench_loop_pipe(p[0], p[1], n);
  } else {
    char path[] = "/tmp/bench_io_XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0)
      return 1;
    unlink(path);
    if (strcmp(argv[1], "file-write") == 0) {
      calls = bench_loop_write(fd, n);
    } else if (strcmp(argv[1], "file-read") == 0) {
      if (fill(fd, n) != 0)
        return 1;
      calls = bench_loop_read(fd, n);
    } else {
      fprintf(stderr, "bench_io: unknown mode %s\n", argv[1]);
      return 2;
    }
    close(fd);
  }
  printf("calls=%ld\n", calls);
  return calls == n ? 0 : 1;
}
