/* xport_curl.c: the libcurl pieces the gRPC and HTTP transports share
 * (see xport_curl.h).
 *
 * libcurl runs with CURLOPT_NOSIGNAL because we live in someone else's
 * process and must not touch its signal handlers, and with proxies
 * turned off because the application's http_proxy is not meant for the
 * agent's own traffic. */
#include "sw_common.h"

#include "xport_curl.h"

#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "xport.h"

#ifndef SW_VERSION
#define SW_VERSION "0.0.0"
#endif

int
sw_curl_backends_parse(struct sw_curl_backends *b,
                       const struct sw_config *cfg)
{
  const char *p = cfg->backend;

  memset(b, 0, sizeof(*b));
  while (*p && b->n < SW_CURL_MAX_BACKENDS) {
    const char *end = strchr(p, ',');
    size_t n = end ? (size_t)(end - p) : strlen(p);
    const char *s = p;
    int tls = cfg->force_tls;
    int i = b->n;

    while (n && isspace((unsigned char)*s)) {
      s++;
      n--;
    }
    while (n && (isspace((unsigned char)s[n - 1]) || s[n - 1] == '/'))
      n--;
    if (n > 8 && strncasecmp(s, "https://", 8) == 0) {
      tls = 1;
      s += 8;
      n -= 8;
    } else if (n > 7 && strncasecmp(s, "http://", 7) == 0) {
      tls = 0;
      s += 7;
      n -= 7;
    }
    if (n > 0 && n < SW_BACKEND_MAX) {
      snprintf(b->base[i], sizeof(b->base[i]), "%s://%.*s",
               tls ? "https" : "http", (int)n, s);
      b->tls[i] = tls;
      b->n++;
    }
    if (!end)
      break;
    p = end + 1;
  }
  return b->n;
}

int
sw_curl_global_init(const struct sw_reporter_env *env)
{
  /* libcurl counts its initialisations, so this neither clashes with
   * the application's own curl_global_init() nor undoes it. */
  if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
    env->log(SW_LOG_ERROR, "reporter: libcurl initialisation failed");
    return -EIO;
  }
  return 0;
}

/* The options every easy handle of ours needs (no signals, no proxy, one
 * cached connection, user agent, keep-alive probes). */
static void
common_opts(CURL *c)
{
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_PROXY, "");
  curl_easy_setopt(c, CURLOPT_POST, 1L);
  curl_easy_setopt(c, CURLOPT_USERAGENT, "swpreload/" SW_VERSION);
  curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(c, CURLOPT_TCP_NODELAY, 1L);
  /* Every fd we hold counts against the application's limit: keep just
   * the connection in use, so a replaced one is closed at once. */
  curl_easy_setopt(c, CURLOPT_MAXCONNECTS, 1L);
}

long
sw_curl_timeout_ms(int64_t deadline_ms)
{
  int64_t left = deadline_ms - sw_xport_now_ms();

  return left < SW_CURL_CALL_TIMEOUT_MS ? (long)left
                                        : (long)SW_CURL_CALL_TIMEOUT_MS;
}

/* h's connection socket is unknown (none, closed, or not to be corked). */
static void
forget_socket(struct sw_curl *h)
{
  h->fd = CURL_SOCKET_BAD;
  h->corked = 0;
}

void
sw_curl_handles_free(struct sw_curl *h)
{
  if (h->multi)
    curl_multi_cleanup(h->multi);
  if (h->easy)
    curl_easy_cleanup(h->easy);
  h->multi = NULL;
  h->easy = NULL;
  forget_socket(h);
}

/* libcurl made a socket for a connection of h's: the newest is the one
 * to cork (with several tried at once, a loser's close forgets it, and
 * the winner goes uncorked: never a wrong fd). */
static int
on_socket(void *ud, curl_socket_t fd, curlsocktype purpose)
{
  struct sw_curl *h = ud;

  if (purpose == CURLSOCKTYPE_IPCXN) {
    h->fd = fd;
    h->corked = 0;
  }
  return CURL_SOCKOPT_OK;
}

/* libcurl is done with a socket: once closed, its number may be anyone's,
 * so it is forgotten first. */
static int
on_close(void *ud, curl_socket_t fd)
{
  struct sw_curl *h = ud;

  if (fd == h->fd)
    forget_socket(h);
  return close(fd);
}

int
sw_curl_handles_new(struct sw_curl *h)
{
  sw_curl_handles_free(h);
  h->easy = curl_easy_init();
  h->multi = h->easy ? curl_multi_init() : NULL;
  if (!h->multi) {
    sw_curl_handles_free(h);
    return -ENOMEM;
  }
  common_opts(h->easy);
  curl_easy_setopt(h->easy, CURLOPT_SOCKOPTFUNCTION, on_socket);
  curl_easy_setopt(h->easy, CURLOPT_SOCKOPTDATA, h);
  curl_easy_setopt(h->easy, CURLOPT_CLOSESOCKETFUNCTION, on_close);
  curl_easy_setopt(h->easy, CURLOPT_CLOSESOCKETDATA, h);
  /* As curl_easy_perform() does with its own multi handle: the cache
   * keeps as many connections as the easy handle is allowed. */
  curl_multi_setopt(h->multi, CURLMOPT_MAXCONNECTS, 1L);
  return 0;
}

/* TCP_CORK on (1) or off (0) for h's connection; off sends what it held
 * at once. A socket that refuses it (not TCP) is not asked again. */
static void
cork(struct sw_curl *h, int on)
{
  if (h->fd == CURL_SOCKET_BAD || h->corked == on)
    return;
  if (setsockopt(h->fd, IPPROTO_TCP, TCP_CORK, &on, sizeof(on)) != 0) {
    forget_socket(h);
    return;
  }
  h->corked = on;
}

static int64_t
mono_ms(void)
{
  struct timespec ts;

  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* One transfer on the multi handle: the loop of curl_easy_perform(),
 * except that once the call has lasted SW_CURL_DRAIN_MS it calls drain()
 * and waits no longer than that between two calls of it. libcurl
 * shortens a wait to its own next timeout, so the call's timeouts are
 * kept to the millisecond as before. The connection is corked while
 * libcurl works and uncorked before any wait (xport_curl.h). */
static CURLcode
transfer(struct sw_curl *h, void (*drain)(void))
{
  CURLM *m = h->multi;
  CURL *c = h->easy;
  CURLMcode mc;
  CURLcode cc = CURLE_OK;
  int64_t next = drain ? mono_ms() + SW_CURL_DRAIN_MS : 0;
  int done = 0;

  mc = curl_multi_add_handle(m, c);
  if (mc != CURLM_OK)
    return mc == CURLM_OUT_OF_MEMORY ? CURLE_OUT_OF_MEMORY
                                     : CURLE_FAILED_INIT;
  while (!done && mc == CURLM_OK) {
    int running = 0, ready = 0, wait_ms = 1000;

    if (drain) {
      int64_t now = mono_ms();
      if (now >= next) {
        drain();
        now = mono_ms();
        next = now + SW_CURL_DRAIN_MS;
      }
      wait_ms = (int)(next - now);
    }
    /* Corked, first a look without waiting: while libcurl can go on
     * writing, it goes on corked. */
    if (h->corked)
      mc = curl_multi_poll(m, NULL, 0, 0, &ready);
    if (mc == CURLM_OK && !ready) {
      cork(h, 0);
      mc = curl_multi_poll(m, NULL, 0, wait_ms, NULL);
    }
    if (mc == CURLM_OK) {
      cork(h, 1);
      mc = curl_multi_perform(m, &running);
    }
    if (mc == CURLM_OK && !running) {
      int left;
      CURLMsg *msg;

      while ((msg = curl_multi_info_read(m, &left)) != NULL) {
        if (msg->msg == CURLMSG_DONE && msg->easy_handle == c) {
          cc = msg->data.result;
          done = 1;
        }
      }
      /* Nothing running and no result: cannot happen, but must not
       * loop. */
      if (!done) {
        cc = CURLE_FAILED_INIT;
        done = 1;
      }
    }
  }
  cork(h, 0);
  /* A multi problem is some kind of error (the others cannot happen). */
  if (mc != CURLM_OK)
    cc = mc == CURLM_OUT_OF_MEMORY ? CURLE_OUT_OF_MEMORY
                                   : CURLE_BAD_FUNCTION_ARGUMENT;
  curl_multi_remove_handle(m, c);
  return cc;
}

/* With CURLOPT_NOSIGNAL libcurl leaves SIGPIPE alone and relies on
 * MSG_NOSIGNAL, but a TLS library may write() to a socket the peer has
 * closed, and the default action of SIGPIPE would kill the application
 * we live in. SIGPIPE from a write is sent to the writing thread, so
 * blocking it here keeps it here; a pending one is swallowed before the
 * old mask comes back.
 *
 * The preload object's reporter thread blocks every signal for its whole
 * life: once a thread is seen with SIGPIPE blocked already, its later
 * calls skip the two system calls (only that thread changes its mask, and
 * nothing of ours unblocks SIGPIPE). */
static __thread int pipe_always_blocked;

CURLcode
sw_curl_perform(struct sw_curl *h, void (*drain)(void))
{
  sigset_t pipe_set, old;
  CURLcode cc;

  if (pipe_always_blocked)
    return transfer(h, drain);
  sigemptyset(&pipe_set);
  sigaddset(&pipe_set, SIGPIPE);
  if (pthread_sigmask(SIG_BLOCK, &pipe_set, &old) != 0)
    return transfer(h, drain);
  if (sigismember(&old, SIGPIPE))
    pipe_always_blocked = 1;
  cc = transfer(h, drain);
  if (!sigismember(&old, SIGPIPE)) {
    struct timespec zero = {0, 0};
    while (sigtimedwait(&pipe_set, NULL, &zero) == SIGPIPE)
      ;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
  }
  return cc;
}
