/* curl_multi_app: a libcurl client for the curl hook's tests.
 *
 *   curl_multi_app [--easy] [--dup] [--app-sw8 VALUE] URL...
 *
 * Default: every URL at once through one multi handle (all transfers in
 * flight together). --easy: the URLs one after another with
 * curl_easy_perform() on one reused handle; with --dup each transfer runs
 * on a curl_easy_duphandle() copy of it instead. Every handle carries an
 * application-owned header list ("X-App: 1", plus "sw8: VALUE" with
 * --app-sw8); after the transfers the program checks that the list is
 * still exactly what it built (same nodes, same strings).
 *
 * Prints one line per URL, "<index> <CURLcode> <HTTP status>", in the
 * order of the arguments. Exit status: 0, or 2 when a header list was
 * changed, 1 on a usage or setup error. Transfer failures are reported on
 * stdout only. */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_URLS 64
#define MAX_NODES 4

struct list_snap {
  struct curl_slist *head;
  int n;
  struct curl_slist *node[MAX_NODES];
  char text[MAX_NODES][256];
};

static size_t
discard(char *p, size_t size, size_t n, void *ud)
{
  (void)p;
  (void)ud;
  return size * n;
}

static struct curl_slist *
make_list(const char *sw8, struct list_snap *snap)
{
  struct curl_slist *l = curl_slist_append(NULL, "X-App: 1");
  if (l && sw8) {
    char line[1024];
    snprintf(line, sizeof(line), "sw8: %s", sw8);
    struct curl_slist *n = curl_slist_append(l, line);
    if (!n) {
      curl_slist_free_all(l);
      return NULL;
    }
    l = n;
  }
  snap->head = l;
  snap->n = 0;
  for (struct curl_slist *e = l; e && snap->n < MAX_NODES; e = e->next) {
    snap->node[snap->n] = e;
    snprintf(snap->text[snap->n], sizeof(snap->text[0]), "%s", e->data);
    snap->n++;
  }
  return l;
}

/* 1 when the list still has the nodes and strings it was built with. */
static int
list_intact(const struct list_snap *snap)
{
  int i = 0;
  for (struct curl_slist *e = snap->head; e; e = e->next, i++) {
    if (i >= snap->n || e != snap->node[i] || strcmp(e->data, snap->text[i]))
      return 0;
  }
  return i == snap->n;
}

static void
setup(CURL *h, const char *url, struct curl_slist *hdrs)
{
  curl_easy_setopt(h, CURLOPT_URL, url);
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
  curl_easy_setopt(h, CURLOPT_TIMEOUT, 60L);
}

static int
run_multi(char **urls, int n, const char *sw8, CURLcode *res, long *status)
{
  static struct list_snap snap[MAX_URLS];
  CURL *h[MAX_URLS];
  struct curl_slist *hdrs[MAX_URLS];
  CURLM *m = curl_multi_init();
  if (!m)
    return 1;
  for (int i = 0; i < n; i++) {
    h[i] = curl_easy_init();
    hdrs[i] = make_list(sw8, &snap[i]);
    if (!h[i] || !hdrs[i])
      return 1;
    setup(h[i], urls[i], hdrs[i]);
    curl_easy_setopt(h[i], CURLOPT_PRIVATE, (void *)(long)i);
    res[i] = CURLE_FAILED_INIT;
    if (curl_multi_add_handle(m, h[i]) != CURLM_OK)
      return 1;
  }
  int running = 1;
  while (running) {
    if (curl_multi_perform(m, &running) != CURLM_OK)
      return 1;
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(m, &left))) {
      if (msg->msg != CURLMSG_DONE)
        continue;
      void *priv = NULL;
      curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &priv);
      int i = (int)(long)priv;
      res[i] = msg->data.result;
      curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &status[i]);
      curl_multi_remove_handle(m, msg->easy_handle);
    }
    if (running && curl_multi_poll(m, NULL, 0, 1000, NULL) != CURLM_OK)
      return 1;
  }
  int bad = 0;
  for (int i = 0; i < n; i++) {
    if (!list_intact(&snap[i]))
      bad = 1;
    curl_easy_cleanup(h[i]);
    curl_slist_free_all(hdrs[i]);
  }
  curl_multi_cleanup(m);
  return bad ? 2 : 0;
}

static int
run_easy(char **urls, int n, const char *sw8, int dup, CURLcode *res,
         long *status)
{
  struct list_snap snap;
  char errbuf[CURL_ERROR_SIZE];
  CURL *base = curl_easy_init();
  struct curl_slist *hdrs = make_list(sw8, &snap);
  if (!base || !hdrs)
    return 1;
  setup(base, urls[0], hdrs);
  curl_easy_setopt(base, CURLOPT_ERRORBUFFER, errbuf);
  for (int i = 0; i < n; i++) {
    CURL *h = base;
    curl_easy_setopt(base, CURLOPT_URL, urls[i]);
    if (dup && !(h = curl_easy_duphandle(base)))
      return 1;
    res[i] = curl_easy_perform(h);
    status[i] = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status[i]);
    if (h != base)
      curl_easy_cleanup(h);
    if (!list_intact(&snap))
      return 2;
  }
  curl_easy_cleanup(base);
  int ok = list_intact(&snap);
  curl_slist_free_all(hdrs);
  return ok ? 0 : 2;
}

int
main(int argc, char **argv)
{
  int easy = 0, dup = 0;
  const char *sw8 = NULL;
  int i = 1;
  for (; i < argc && !strncmp(argv[i], "--", 2); i++) {
    if (!strcmp(argv[i], "--easy"))
      easy = 1;
    else if (!strcmp(argv[i], "--dup"))
      easy = dup = 1;
    else if (!strcmp(argv[i], "--app-sw8") && i + 1 < argc)
      sw8 = argv[++i];
    else
      break;
  }
  int n = argc - i;
  if (n < 1 || n > MAX_URLS) {
    fprintf(stderr, "usage: %s [--easy] [--dup] [--app-sw8 VALUE] URL...\n",
            argv[0]);
    return 1;
  }
  if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
    return 1;
  CURLcode res[MAX_URLS];
  long status[MAX_URLS] = {0};
  int rc = easy ? run_easy(argv + i, n, sw8, dup, res, status)
                : run_multi(argv + i, n, sw8, res, status);
  if (rc == 1) {
    fprintf(stderr, "%s: setup failed\n", argv[0]);
  } else {
    for (int k = 0; k < n; k++)
      printf("%d %d %ld\n", k, (int)res[k], status[k]);
    if (rc == 2)
      fprintf(stderr, "%s: the application's header list changed\n",
              argv[0]);
  }
  curl_global_cleanup();
  return rc;
}
