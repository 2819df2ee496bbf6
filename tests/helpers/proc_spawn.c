/* proc_spawn.c: a traced program that starts another program with
 * posix_spawn() or vfork() + execve(), for the process-model tests.
 *
 *   proc_spawn spawn|vfork PORT CMD [ARG...]
 *     GETs /spawner from 127.0.0.1:PORT (so that this process is traced
 *     and its reporter thread runs when it spawns), starts CMD with the
 *     same environment (LD_PRELOAD included), waits for it, GETs
 *     /spawner-after, prints "child PID status N" on stdout and exits with
 *     CMD's exit status (3 when something else failed). */
#include "proc_common.h"

#include <spawn.h>
#include <sys/wait.h>

extern char **environ;

int
main(int argc, char **argv)
{
  pc_prog = "proc_spawn";
  if (argc < 4) {
    fprintf(stderr, "usage: proc_spawn spawn|vfork PORT CMD [ARG...]\n");
    return 2;
  }
  int port = atoi(argv[2]);
  if (pc_http_get(port, "/spawner") != 200)
    return 3;
  pid_t child;
  if (!strcmp(argv[1], "spawn")) {
    int rc = posix_spawn(&child, argv[3], NULL, NULL, argv + 3, environ);
    if (rc != 0) {
      errno = rc;
      pc_die("posix_spawn");
    }
  } else {
    child = vfork();
    if (child < 0)
      pc_die("vfork");
    if (child == 0) {
      /* Only execve and _exit are allowed in a vfork child. */
      execve(argv[3], argv + 3, environ);
      _exit(127);
    }
  }
  int st = 0;
  while (waitpid(child, &st, 0) < 0)
    if (errno != EINTR)
      pc_die("waitpid");
  if (pc_http_get(port, "/spawner-after") != 200)
    return 3;
  int code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  printf("child %d status %d\n", (int)child, code);
  return code;
}
