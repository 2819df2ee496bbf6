/* proc_daemon.c: a classic daemon that serves HTTP, for the process-model
 * tests (run under the preload).
 *
 *   proc_daemon PORT PIDFILE PORTFILE
 *     GETs /before-daemon from 127.0.0.1:PORT (the starting process is
 *     traced and has its reporter thread), then daemonises the old way:
 *     fork (the parent waits for the first child and exits), setsid, fork
 *     again (the session leader exits), chdir /, umask 0, close every fd
 *     from 0 to 1024, reopen 0, 1 and 2 on /dev/null. The daemon then
 *     listens on a free port, writes its pid to PIDFILE and the port to
 *     PORTFILE (PIDFILE first) and serves one request per connection
 *     until it is killed. The response body is "pid PID". */
#include "proc_common.h"

#include <sys/wait.h>

int
main(int argc, char **argv)
{
  pc_prog = "proc_daemon";
  if (argc != 4) {
    fprintf(stderr, "usage: proc_daemon PORT PIDFILE PORTFILE\n");
    return 2;
  }
  if (pc_http_get(atoi(argv[1]), "/before-daemon") != 200)
    return 3;
  fflush(NULL);
  pid_t p = fork();
  if (p < 0)
    pc_die("fork");
  if (p > 0) {
    int st = 0;
    while (waitpid(p, &st, 0) < 0 && errno == EINTR)
      ;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 3;
  }
  if (setsid() < 0)
    pc_die("setsid");
  p = fork();
  if (p < 0)
    pc_die("fork");
  if (p > 0)
    _exit(0);
  if (chdir("/") != 0)
    _exit(3);
  umask(0);
  for (int fd = 0; fd <= 1024; fd++)
    close(fd);
  if (open("/dev/null", O_RDWR) != 0 || dup(0) != 1 || dup(0) != 2)
    _exit(3);
  int port = 0;
  int lfd = pc_listen(&port);
  pc_write_file(argv[2], "%d\n", (int)getpid());
  pc_write_file(argv[3], "%d\n", port);
  for (;;)
    pc_serve_one(lfd);
}
