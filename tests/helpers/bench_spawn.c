/* bench_spawn.c: start-up time of a program under several environments,
 * interleaved, so that the machine's bursts of other load fall on every
 * variant alike.
 *
 *   bench_spawn N PROG VARIANT...
 *
 * A VARIANT is a space-separated list of NAME=VALUE added to the
 * inherited environment, from which LD_PRELOAD and every SW_* variable
 * are removed first ("" is the bare variant). PROG is started N times per
 * variant with posix_spawn() and waited for; variants take turns in
 * blocks of 10 spawns. Prints one line per variant:
 *   variant=I n=N p10_us=... median_us=... p90_us=...
 * (wall time from just before posix_spawn() to waitpid() returning). */
#define _GNU_SOURCE 1

#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

extern char **environ;

static int
cmp(const void *a, const void *b)
{
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static char **
variant_env(const char *spec)
{
  size_t ne = 0, k = 0;
  while (environ[ne])
    ne++;
  char **e = calloc(ne + strlen(spec) / 2 + 2, sizeof(*e));
  char *copy = strdup(spec);
  if (!e || !copy)
    exit(1);
  for (size_t i = 0; i < ne; i++)
    if (strncmp(environ[i], "LD_PRELOAD=", 11) != 0 &&
        strncmp(environ[i], "SW_", 3) != 0)
      e[k++] = environ[i];
  for (char *s = strtok(copy, " "); s; s = strtok(NULL, " "))
    e[k++] = s;
  return e;
}

int
main(int argc, char **argv)
{
  if (argc < 4) {
    fprintf(stderr, "usage: bench_spawn N PROG VARIANT...\n");
    return 2;
  }
  int n = atoi(argv[1]), nv = argc - 3;
  char *prog = argv[2];
  char *av[] = {prog, NULL};
  if (n < 10)
    n = 10;
  char ***envs = calloc((size_t)nv, sizeof(*envs));
  double **t = calloc((size_t)nv, sizeof(*t));
  if (!envs || !t)
    return 1;
  for (int v = 0; v < nv; v++) {
    envs[v] = variant_env(argv[3 + v]);
    t[v] = calloc((size_t)n, sizeof(double));
    if (!t[v])
      return 1;
  }
  for (int i = 0; i < n; i += 10)
    for (int v = 0; v < nv; v++)
      for (int j = i; j < i + 10 && j < n; j++) {
        struct timespec a, b;
        pid_t pid;
        int st;
        clock_gettime(CLOCK_MONOTONIC, &a);
        if (posix_spawn(&pid, prog, NULL, NULL, av, envs[v]) != 0 ||
            waitpid(pid, &st, 0) != pid || !WIFEXITED(st) ||
            WEXITSTATUS(st) != 0) {
          fprintf(stderr, "bench_spawn: %s failed\n", prog);
          return 1;
        }
        clock_gettime(CLOCK_MONOTONIC, &b);
        t[v][j] = (double)(b.tv_sec - a.tv_sec) * 1e6 +
                  (double)(b.tv_nsec - a.tv_nsec) / 1e3;
      }
  for (int v = 0; v < nv; v++) {
    qsort(t[v], (size_t)n, sizeof(double), cmp);
    printf("variant=%d n=%d p10_us=%.1f median_us=%.1f p90_us=%.1f\n", v, n,
           t[v][n / 10], t[v][n / 2], t[v][n * 9 / 10]);
  }
  return 0;
}
