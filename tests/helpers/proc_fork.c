/* proc_fork.c: programs that fork after they have traced something, for
 * the process-model tests (run under the preload).
 *
 *   proc_fork client PORT N_BEFORE N_CHILD N_AFTER STATUS STOP
 *     Makes N_BEFORE GETs /before?i=K to 127.0.0.1:PORT (each on a new
 *     connection), forks at once (their spans are still queued), and then:
 *     the child makes N_CHILD GETs /child?i=K, writes "PARENT CHILD\n"
 *     (the two pids) to the file STATUS, waits until the file STOP
 *     exists and exits; the parent makes N_AFTER GETs /after?i=K, waits
 *     for the child and exits. Exit status 0 when every response was 200
 *     and the child succeeded.
 *
 *   proc_fork storm PORT K
 *     A thread makes GETs /bg?i=K to 127.0.0.1:PORT without pause while
 *     the main thread forks K children one after another; each child
 *     makes one GET /storm and exits normally. So forks happen while the
 *     other thread is inside hooks and the reporter thread is busy.
 *     Prints "bg N" (the thread's request count) on stdout. Exit status
 *     0 when every child succeeded and every response was 200.
 *
 *   proc_fork rawfork PORT
 *     GETs /before-rawfork, then forks with _Fork(), which runs no fork
 *     handlers (the agent's child handler included); the child exits at
 *     once with exit(). Exit status 0 when the child did.
 *
 *   proc_fork server PORTFILE N
 *     A fork-per-connection server (inetd, ForkingMixIn): listens on a
 *     free port, writes it to PORTFILE, and for each of N connections
 *     accepts, forks a child that serves the one request and exits, and
 *     closes its own copy, reaping the child before the next accept.
 *     Exits after N connections. */
#include "proc_common.h"

#include <pthread.h>
#include <stdatomic.h>
#include <sys/wait.h>

static int
get_many(int port, const char *what, int n)
{
  char path[64];
  for (int i = 0; i < n; i++) {
    snprintf(path, sizeof(path), "/%s?i=%d", what, i);
    if (pc_http_get(port, path) != 200) {
      fprintf(stderr, "proc_fork: GET %s failed\n", path);
      return -1;
    }
  }
  return 0;
}

static int
run_client(int argc, char **argv)
{
  if (argc != 8)
    return 2;
  int port = atoi(argv[2]);
  int before = atoi(argv[3]), in_child = atoi(argv[4]);
  int after = atoi(argv[5]);
  const char *status = argv[6], *stop = argv[7];
  if (get_many(port, "before", before) != 0)
    return 1;
  fflush(NULL);
  pid_t parent = getpid();
  pid_t child = fork();
  if (child < 0)
    pc_die("fork");
  if (child == 0) {
    if (get_many(port, "child", in_child) != 0)
      exit(1);
    pc_write_file(status, "%d %d\n", (int)parent, (int)getpid());
    if (pc_wait_file(stop, 120) != 0)
      exit(4);
    exit(0); /* a normal exit: the agent flushes what is queued */
  }
  int rc = get_many(port, "after", after) != 0;
  int st = 0;
  while (waitpid(child, &st, 0) < 0 && errno == EINTR)
    ;
  if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
    fprintf(stderr, "proc_fork: child failed (%d)\n", st);
    rc = 1;
  }
  return rc;
}

struct storm {
  int port;
  _Atomic int stop;
  _Atomic int count;
  int failed;
};

static void *
storm_bg(void *arg)
{
  struct storm *st = arg;
  char path[64];
  while (!atomic_load(&st->stop)) {
    snprintf(path, sizeof(path), "/bg?i=%d", atomic_load(&st->count));
    if (pc_http_get(st->port, path) != 200)
      st->failed++;
    atomic_fetch_add(&st->count, 1);
  }
  return NULL;
}

static int
run_storm(int argc, char **argv)
{
  if (argc != 4)
    return 2;
  struct storm st = {.port = atoi(argv[2])};
  int k = atoi(argv[3]), rc = 0;
  pthread_t t;
  if (pthread_create(&t, NULL, storm_bg, &st) != 0)
    return 3;
  /* Let the thread get going (and the reporter thread start). */
  while (atomic_load(&st.count) < 5)
    pc_sleep_ms(1);
  for (int i = 0; i < k; i++) {
    fflush(NULL);
    pid_t child = fork();
    if (child < 0)
      pc_die("fork");
    if (child == 0)
      exit(pc_http_get(st.port, "/storm") == 200 ? 0 : 1);
    int ws = 0;
    while (waitpid(child, &ws, 0) < 0 && errno == EINTR)
      ;
    if (!WIFEXITED(ws) || WEXITSTATUS(ws) != 0) {
      fprintf(stderr, "proc_fork: child %d failed (%d)\n", (int)child, ws);
      rc = 1;
    }
  }
  atomic_store(&st.stop, 1);
  pthread_join(t, NULL);
  printf("bg %d\n", atomic_load(&st.count));
  return rc || st.failed;
}

static int
run_rawfork(int argc, char **argv)
{
  if (argc != 3)
    return 2;
  if (pc_http_get(atoi(argv[2]), "/before-rawfork") != 200)
    return 1;
  fflush(NULL);
  pid_t child = _Fork();
  if (child < 0)
    pc_die("_Fork");
  if (child == 0)
    exit(0);
  int st = 0;
  while (waitpid(child, &st, 0) < 0 && errno == EINTR)
    ;
  return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : 1;
}

static int
run_server(int argc, char **argv)
{
  if (argc != 4)
    return 2;
  int port = 0;
  int lfd = pc_listen(&port);
  int n = atoi(argv[3]);
  pc_write_file(argv[2], "%d\n", port);
  for (int i = 0; i < n; i++) {
    int fd;
    do
      fd = accept(lfd, NULL, NULL);
    while (fd < 0 && errno == EINTR);
    if (fd < 0)
      pc_die("accept");
    fflush(NULL);
    pid_t child = fork();
    if (child < 0)
      pc_die("fork");
    if (child == 0) {
      close(lfd);
      char head[8192], rsp[256];
      if (pc_read_head(fd, head, sizeof(head)) < 0)
        exit(1);
      int len = snprintf(rsp, sizeof(rsp),
                         "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n"
                         "Connection: close\r\n\r\nok\n");
      if (pc_write_all(fd, rsp, (size_t)len) != 0)
        exit(1);
      close(fd);
      exit(0);
    }
    close(fd);
    /* Reap as we go: one child at a time keeps the test's count exact. */
    int st;
    while (waitpid(child, &st, 0) < 0 && errno == EINTR)
      ;
  }
  return 0;
}

int
main(int argc, char **argv)
{
  pc_prog = "proc_fork";
  if (argc > 1 && !strcmp(argv[1], "client"))
    return run_client(argc, argv);
  if (argc > 1 && !strcmp(argv[1], "storm"))
    return run_storm(argc, argv);
  if (argc > 1 && !strcmp(argv[1], "rawfork"))
    return run_rawfork(argc, argv);
  if (argc > 1 && !strcmp(argv[1], "server"))
    return run_server(argc, argv);
  fprintf(stderr, "usage: proc_fork client PORT N_BEFORE N_CHILD N_AFTER "
                  "STATUS STOP | proc_fork storm PORT K | "
                  "proc_fork rawfork PORT | proc_fork server PORTFILE N\n");
  return 2;
}
