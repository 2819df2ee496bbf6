/* proc_client.c: one HTTP GET, then stays alive until told to go, so that
 * a test can look at the process while it runs (/proc/PID/task, maps).
 *
 *   proc_client PORT PATH STATUS STOP
 *     GETs PATH from 127.0.0.1:PORT on a new connection, writes
 *     "PID STATUS_CODE\n" to the file STATUS, waits until the file STOP
 *     exists (at most 120 s) and exits normally. Exit status 0 when the
 *     response was 200. */
#include "proc_common.h"

int
main(int argc, char **argv)
{
  pc_prog = "proc_client";
  if (argc != 5) {
    fprintf(stderr, "usage: proc_client PORT PATH STATUS STOP\n");
    return 2;
  }
  int status = pc_http_get(atoi(argv[1]), argv[2]);
  pc_write_file(argv[3], "%d %d\n", (int)getpid(), status);
  if (pc_wait_file(argv[4], 120) != 0)
    return 4;
  return status == 200 ? 0 : 1;
}
