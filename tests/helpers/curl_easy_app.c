/* curl_easy_app: a one-thread HTTP server that calls libcurl while it
 * serves, for the curl hook's linking test.
 *
 *   curl_easy_app UPSTREAM_BASE_URL N
 *
 * Listens on a free port of 127.0.0.1 and prints it on stdout. For each of
 * N connections: reads one request head, fetches UPSTREAM_BASE_URL + the
 * request's path with curl_easy_perform(), answers with the upstream's
 * status code (Connection: close) and closes. Exits 0 after N requests. */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static size_t
discard(char *p, size_t size, size_t n, void *ud)
{
  (void)p;
  (void)ud;
  return size * n;
}

/* Reads until the end of the head; returns its length or -1. */
static int
read_head(int fd, char *buf, size_t cap)
{
  size_t n = 0;
  while (n + 1 < cap) {
    ssize_t r = read(fd, buf + n, cap - 1 - n);
    if (r <= 0)
      return -1;
    n += (size_t)r;
    buf[n] = '\0';
    if (strstr(buf, "\r\n\r\n"))
      return (int)n;
  }
  return -1;
}

static int
write_all(int fd, const char *p, size_t n)
{
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w <= 0)
      return -1;
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

int
main(int argc, char **argv)
{
  if (argc != 3) {
    fprintf(stderr, "usage: %s UPSTREAM_BASE_URL N\n", argv[0]);
    return 1;
  }
  const char *base = argv[1];
  int count = atoi(argv[2]);
  int ls = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a;
  memset(&a, 0, sizeof(a));
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t al = sizeof(a);
  if (ls < 0 || bind(ls, (struct sockaddr *)&a, sizeof(a)) != 0 ||
      listen(ls, 16) != 0 || getsockname(ls, (struct sockaddr *)&a, &al))
    return 1;
  printf("%d\n", ntohs(a.sin_port));
  fflush(stdout);
  curl_global_init(CURL_GLOBAL_DEFAULT);
  CURL *h = curl_easy_init();
  if (!h)
    return 1;
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
  curl_easy_setopt(h, CURLOPT_TIMEOUT, 60L);
  for (int i = 0; i < count; i++) {
    int fd = accept(ls, NULL, NULL);
    if (fd < 0)
      return 1;
    char head[8192];
    if (read_head(fd, head, sizeof(head)) < 0) {
      close(fd);
      continue;
    }
    char path[1024] = "/";
    sscanf(head, "%*s %1023s", path);
    char url[2048];
    snprintf(url, sizeof(url), "%s%s", base, path);
    curl_easy_setopt(h, CURLOPT_URL, url);
    long status = 0;
    if (curl_easy_perform(h) == CURLE_OK)
      curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    else
      status = 502;
    char rsp[256];
    int n = snprintf(rsp, sizeof(rsp),
                     "HTTP/1.1 %ld X\r\nContent-Length: 3\r\n"
                     "Connection: close\r\n\r\nok\n",
                     status);
    write_all(fd, rsp, (size_t)n);
    close(fd);
  }
  curl_easy_cleanup(h);
  curl_global_cleanup();
  close(ls);
  return 0;
}
