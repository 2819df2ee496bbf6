/* hook_curl.c: libcurl transfers as exit spans, with sw8 propagation.
 *
 * Hooked: curl_easy_init, curl_easy_duphandle, curl_easy_reset,
 * curl_easy_cleanup, curl_easy_setopt, curl_easy_perform,
 * curl_multi_add_handle, curl_multi_remove_handle, curl_multi_info_read,
 * curl_multi_perform, curl_multi_socket_action, curl_multi_socket,
 * curl_multi_socket_all, curl_multi_cleanup.
 *
 * Every transfer of an http:// or https:// URL is one Exit span: it starts
 * in curl_easy_perform() or curl_multi_add_handle() and ends when
 * curl_easy_perform() returns, or for the multi interface at the first of
 * curl_multi_info_read() (CURLMSG_DONE), curl_multi_remove_handle(),
 * curl_multi_cleanup() or curl_easy_cleanup(). The span's sw8 header is
 * added to the request without touching the application's own header
 * list: at the start the handle gets a copy of the application's list plus
 * the sw8 line, and at the end the application's list is set back and the
 * copy freed. curl_easy_setopt() is watched only to know the application's
 * header list, URL, method and error buffer.
 *
 * libcurl does its socket I/O inside curl_easy_perform() and the
 * curl_multi_perform()/curl_multi_socket*() calls; those run with the
 * thread guard set, so the socket hooks neither track the connections nor
 * make a second exit span of the same bytes. (The application's libcurl
 * callbacks run inside them too, and so are not traced either.)
 *
 * Unlike the libc hooks this file is not async-signal-safe (libcurl never
 * is): it takes a mutex around the handle table, resolves libcurl lazily
 * with dlsym() (libcurl may be dlopen()ed after we start) and lets libcurl
 * allocate the copied header list. libswpreload.so does not link libcurl:
 * <curl/curl.h> is used for its types only. errno is preserved around our
 * bookkeeping; the caller gets libcurl's result unchanged.
 *
 * The table of handles is kept right even inside guarded calls (options
 * set, handles duplicated or cleaned up from a libcurl callback): a stale
 * header list pointer would be a use-after-free at the next transfer.
 * Only tracing itself waits for an unguarded call.
 *
 * Limits: a handle first met after its options were set (created before
 * the agent started, inside a callback, or while the table was full) is
 * traced but gets no sw8, since its header list is unknown. Other schemes
 * than http(s) are not traced. A program whose libcurl is another build
 * than the reporter's (libcurl-gnutls next to libcurl) works: each call
 * goes to the build its caller would have reached (see lib_of()). An
 * object that has called libcurl through us is never unloaded: we keep a
 * reference to it, so that its cached address range stays its own. */
#include "sw_common.h"

/* The type-checking macros of <curl/typecheck-gcc.h> would rename our
 * definitions of curl_easy_setopt() and curl_easy_getinfo(). */
#define CURL_DISABLE_TYPECHECK 1

#include <curl/curl.h>
#include <dlfcn.h>
#include <errno.h>
#include <link.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <strings.h>
#include <sys/mman.h>

#include "conn.h"
#include "sw8.h"
#include "sw_guard.h"
#include "sw_runtime.h"
#include "sw_stats.h"
#include "trace.h"

/* CURLINFO_EFFECTIVE_METHOD exists since 7.72.0; an older libcurl at run
 * time answers CURLE_UNKNOWN_OPTION and the method set by the options
 * stays. */
#if LIBCURL_VERSION_NUM >= 0x074800
#define SW_CURLINFO_METHOD CURLINFO_EFFECTIVE_METHOD
#else
#define SW_CURLINFO_METHOD ((CURLINFO)(CURLINFO_STRING + 58))
#endif

/* Handles watched at once; a transfer on a handle beyond this is not
 * traced (counted as conns_untracked). */
#define SW_CURL_SLOTS 1024
#define SW_CURL_TAB (2 * SW_CURL_SLOTS) /* open addressing, load <= 1/2 */
#define SW_CURL_URL_MAX 1024            /* the application's URL, kept */

/* ------------------------------------------------------- real functions */

#define SW_CURL_FUNCS(X)                                                \
  X(curl_easy_init) X(curl_easy_duphandle) X(curl_easy_reset)           \
  X(curl_easy_cleanup) X(curl_easy_setopt) X(curl_easy_getinfo)         \
  X(curl_easy_perform) X(curl_easy_strerror) X(curl_slist_append)       \
  X(curl_slist_free_all) X(curl_url_get) X(curl_free)                   \
  X(curl_multi_add_handle) X(curl_multi_remove_handle)                  \
  X(curl_multi_info_read) X(curl_multi_perform)                         \
  X(curl_multi_socket_action) X(curl_multi_socket)                      \
  X(curl_multi_socket_all) X(curl_multi_cleanup)

/* curl_multi_socket() is deprecated in the headers; only its type is
 * taken here. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
#define SW_CURL_TYPEDEF(N) typedef __typeof__(&N) sw_##N##_fn;
SW_CURL_FUNCS(SW_CURL_TYPEDEF)
#undef SW_CURL_TYPEDEF
#pragma GCC diagnostic pop

enum {
#define SW_CURL_ENUM(N) SW_CURL_F_##N,
  SW_CURL_FUNCS(SW_CURL_ENUM)
#undef SW_CURL_ENUM
  SW_CURL_F_COUNT
};

static const char *const real_names[SW_CURL_F_COUNT] = {
#define SW_CURL_NAME(N) #N,
  SW_CURL_FUNCS(SW_CURL_NAME)
#undef SW_CURL_NAME
};

/* Resolved on first use and cached; NULL is never cached, so a libcurl
 * dlopen()ed later is still found. */
static _Atomic(void *) real_ptrs[SW_CURL_F_COUNT];

/* 1 when p lies in this object (dlsym handing back our own wrapper would
 * recurse forever). */
static int
in_self(void *p)
{
  Dl_info a, b;
  return dladdr(p, &a) && dladdr((void *)&in_self, &b) &&
         a.dli_fbase == b.dli_fbase;
}

#define SW_CURL_LIBS 4

struct lib_scan {
  int n;
  char path[SW_CURL_LIBS][512];
};

static int
scan_cb(struct dl_phdr_info *info, size_t size, void *data)
{
  struct lib_scan *s = data;
  const char *name = info->dlpi_name;
  const char *base = name ? strrchr(name, '/') : NULL;
  base = base ? base + 1 : name;
  if (base && !strncmp(base, "libcurl", 7) && s->n < SW_CURL_LIBS &&
      strlen(name) < sizeof(s->path[0]))
    sw_strlcpy(s->path[s->n++], name, sizeof(s->path[0]));
  return 0;
}

/* RTLD_NEXT finds a libcurl in the global scope (linked by the program or
 * dlopen()ed RTLD_GLOBAL). One loaded RTLD_LOCAL (the reporter's own, or
 * a plugin's) is only reachable through its own handle. */
static void *
resolve(const char *name)
{
  void *p = dlsym(RTLD_NEXT, name);
  if (p && !in_self(p))
    return p;
  struct lib_scan s;
  s.n = 0;
  /* The paths are collected first: dlopen() is not called while
   * dl_iterate_phdr() holds the loader's list lock. */
  dl_iterate_phdr(scan_cb, &s);
  for (int i = 0; i < s.n; i++) {
    void *h = dlopen(s.path[i], RTLD_LAZY | RTLD_NOLOAD);
    if (!h)
      continue;
    p = dlsym(h, name);
    dlclose(h); /* drops only the reference RTLD_NOLOAD took */
    if (p && !in_self(p))
      return p;
  }
  return NULL;
}

static void *
real_get(int id)
{
  /* Acquire pairs with the release store below (a pointer published by
   * another thread is a fully resolved one). */
  void *p = atomic_load_explicit(&real_ptrs[id], memory_order_acquire);
  if (SW_LIKELY(p != NULL))
    return p;
  sw_tls_busy++;
  p = resolve(real_names[id]);
  sw_tls_busy--;
  if (p)
    atomic_store_explicit(&real_ptrs[id], p, memory_order_release);
  return p;
}

/* Which libcurl a caller reaches. Without us, each object's references
 * would bind to the libcurl of its own scope: the program's, the
 * reporter's (dlopen()ed RTLD_LOCAL), libcurl's calls to itself. These can
 * be different builds in one process (Debian's git helpers use
 * libcurl-gnutls while the reporter uses libcurl), whose symbol versions
 * keep them apart, but our unversioned definitions catch the calls of all.
 * So a hook forwards to the build its caller's object would have reached:
 * the object is found by the return address, and the function looked up
 * in that object's own scope (dlsym() on its handle), else globally. */
#define SW_CURL_CALLERS 16

struct sw_curl_lib {
  uintptr_t lo, hi; /* the caller object's mapped address range */
  /* Its dlopen() handle. The reference is kept on purpose: an object we
   * cache is never unmapped, so its range never names another one. */
  void *handle;
  _Atomic(void *) fn[SW_CURL_F_COUNT];
};

static struct sw_curl_lib libs[SW_CURL_CALLERS];
static _Atomic int nlibs;
static pthread_mutex_t lib_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t tab_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t fork_once = PTHREAD_ONCE_INIT;

/* Both mutexes are held across fork() so that the child never inherits
 * one locked by a thread that does not exist there. Never both at once
 * otherwise, so the order here is free. */
static void
fork_prepare(void)
{
  pthread_mutex_lock(&lib_mu);
  pthread_mutex_lock(&tab_mu);
}

static void
fork_release(void)
{
  pthread_mutex_unlock(&tab_mu);
  pthread_mutex_unlock(&lib_mu);
}

static void
fork_register(void)
{
  pthread_atfork(fork_prepare, fork_release, fork_release);
}

struct obj_find {
  uintptr_t addr;
  uintptr_t lo, hi;
  int found;
  char name[512];
};

static int
obj_find_cb(struct dl_phdr_info *info, size_t size, void *data)
{
  struct obj_find *f = data;
  uintptr_t lo = UINTPTR_MAX, hi = 0;
  int hit = 0;
  for (int i = 0; i < info->dlpi_phnum; i++) {
    const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
    if (ph->p_type != PT_LOAD)
      continue;
    uintptr_t a = info->dlpi_addr + ph->p_vaddr;
    uintptr_t b = a + ph->p_memsz;
    lo = a < lo ? a : lo;
    hi = b > hi ? b : hi;
    if (f->addr >= a && f->addr < b)
      hit = 1;
  }
  if (!hit)
    return 0;
  const char *name = info->dlpi_name ? info->dlpi_name : "";
  if (strlen(name) >= sizeof(f->name))
    return 1; /* found, but cannot be reopened: global lookup */
  sw_strlcpy(f->name, name, sizeof(f->name));
  f->lo = lo;
  f->hi = hi;
  f->found = 1;
  return 1;
}

static struct sw_curl_lib *
lib_add(uintptr_t addr)
{
  struct obj_find f;
  memset(&f, 0, sizeof(f));
  f.addr = addr;
  sw_tls_busy++;
  dl_iterate_phdr(obj_find_cb, &f);
  /* The program itself ("") reopens as the global scope, where dlsym()
   * finds our own hook: real_for() then falls back to RTLD_NEXT. */
  void *h = f.found ? dlopen(f.name[0] ? f.name : NULL,
                             RTLD_LAZY | RTLD_NOLOAD)
                    : NULL;
  struct sw_curl_lib *l = NULL;
  pthread_once(&fork_once, fork_register);
  pthread_mutex_lock(&lib_mu);
  int n = atomic_load_explicit(&nlibs, memory_order_relaxed);
  for (int i = 0; i < n && !l; i++)
    if (addr >= libs[i].lo && addr < libs[i].hi)
      l = &libs[i]; /* another thread was first */
  if (!l && f.found && n < SW_CURL_CALLERS) {
    l = &libs[n];
    l->lo = f.lo;
    l->hi = f.hi;
    l->handle = h;
    h = NULL;
    /* Release: the entry's fields are visible to whoever loads the new
     * count with acquire in lib_of(). */
    atomic_store_explicit(&nlibs, n + 1, memory_order_release);
  }
  pthread_mutex_unlock(&lib_mu);
  if (h)
    dlclose(h);
  sw_tls_busy--;
  return l;
}

/* The entry of the object holding addr; NULL (global lookup) when the
 * table is full or the object unknown. */
static struct sw_curl_lib *
lib_of(const void *addr)
{
  uintptr_t a = (uintptr_t)addr;
  int n = atomic_load_explicit(&nlibs, memory_order_acquire);
  for (int i = 0; i < n; i++)
    if (a >= libs[i].lo && a < libs[i].hi)
      return &libs[i];
  return lib_add(a);
}

static void *
real_for(struct sw_curl_lib *l, int id)
{
  if (!l)
    return real_get(id);
  /* Acquire pairs with the release store below. */
  void *p = atomic_load_explicit(&l->fn[id], memory_order_acquire);
  if (SW_LIKELY(p != NULL))
    return p;
  if (l->handle) {
    sw_tls_busy++;
    p = dlsym(l->handle, real_names[id]);
    if (p && in_self(p))
      p = NULL;
    sw_tls_busy--;
  }
  if (!p)
    p = real_get(id);
  if (p)
    atomic_store_explicit(&l->fn[id], p, memory_order_release);
  return p;
}

#define REAL(L, N) ((sw_##N##_fn)real_for((L), SW_CURL_F_##N))

/* ---------------------------------------------------------- handle table */

enum { REQ_GET = 0, REQ_POST, REQ_PUT };

struct sw_curl_slot {
  /* What the application set on the handle. known: the handle was seen
   * from its creation (or a reset), so the header list below is exactly
   * the application's even if it never set one. */
  uint8_t known;
  uint8_t headers_seen;
  uint8_t errbuf_seen;
  uint8_t httpreq; /* enum REQ_* */
  uint8_t nobody;
  uint8_t url_set;
  long port;
  struct curl_slist *app_headers;
  char *app_errbuf;
  CURLU *curlu;
  char custom[SW_METHOD_MAX];
  char url[SW_CURL_URL_MAX];
  /* The traced transfer in flight. Only the two atomics are read by
   * another thread (curl_multi_cleanup's scan); the rest belongs to the
   * one thread that drives the handle, as libcurl requires. */
  _Atomic int active;
  _Atomic(CURLM *) multi; /* NULL for curl_easy_perform */
  struct curl_slist *ours; /* our copy of the header list, or NULL */
  uint8_t errbuf_ours;     /* errbuf below is installed on the handle */
  char errbuf[CURL_ERROR_SIZE];
  struct sw_span_rec rec;
};

struct tab_ent {
  void *key; /* CURL *, NULL when free */
  uint32_t idx;
};

struct sw_curl_state {
  struct tab_ent tab[SW_CURL_TAB];
  uint32_t free_idx[SW_CURL_SLOTS];
  uint32_t nfree;
  struct sw_curl_slot slots[SW_CURL_SLOTS];
};

static pthread_once_t tab_once = PTHREAD_ONCE_INIT;
static struct sw_curl_state *st; /* published by pthread_once */
/* Slots in use: lets the guarded paths skip the table entirely while the
 * application has no handle. */
static _Atomic uint32_t live;

static void
tab_init(void)
{
  /* Mapped on first use, so a process that never calls libcurl pays
   * nothing; NORESERVE and LIFO slot use touch only what is used. */
  void *p = mmap(NULL, sizeof(*st), PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED)
    return;
  struct sw_curl_state *s = p;
  for (uint32_t i = 0; i < SW_CURL_SLOTS; i++)
    s->free_idx[i] = SW_CURL_SLOTS - 1 - i;
  s->nfree = SW_CURL_SLOTS;
  pthread_once(&fork_once, fork_register);
  st = s;
}

static int
tab_ready(void)
{
  pthread_once(&tab_once, tab_init);
  return st != NULL;
}

static uint32_t
tab_hash(const void *key)
{
  uint64_t h = (uint64_t)(uintptr_t)key >> 4;
  h *= 0x9E3779B97F4A7C15ULL;
  return (uint32_t)(h >> 40) & (SW_CURL_TAB - 1);
}

/* Caller holds tab_mu. Position of key, or of the free entry where it
 * would go. */
static uint32_t
tab_pos(const void *key)
{
  uint32_t i = tab_hash(key);
  while (st->tab[i].key && st->tab[i].key != key)
    i = (i + 1) & (SW_CURL_TAB - 1);
  return i;
}

static void
slot_clear_app(struct sw_curl_slot *s)
{
  s->headers_seen = 0;
  s->errbuf_seen = 0;
  s->httpreq = REQ_GET;
  s->nobody = 0;
  s->url_set = 0;
  s->port = 0;
  s->app_headers = NULL;
  s->app_errbuf = NULL;
  s->curlu = NULL;
  s->custom[0] = '\0';
  s->url[0] = '\0';
}

static struct sw_curl_slot *
slot_find(const void *key)
{
  if (!key || !tab_ready())
    return NULL;
  pthread_mutex_lock(&tab_mu);
  uint32_t i = tab_pos(key);
  struct sw_curl_slot *s = st->tab[i].key ? &st->slots[st->tab[i].idx] : NULL;
  pthread_mutex_unlock(&tab_mu);
  return s;
}

/* The slot of key, made empty when it is new. An entry left by a handle
 * whose cleanup we missed is emptied too when fresh is set (a new handle
 * at a reused address). NULL when the table is full. */
static struct sw_curl_slot *
slot_new(const void *key, int known, int fresh)
{
  if (!key || !tab_ready())
    return NULL;
  struct sw_curl_slot *s = NULL;
  int created = 0;
  pthread_mutex_lock(&tab_mu);
  uint32_t i = tab_pos(key);
  if (st->tab[i].key) {
    s = &st->slots[st->tab[i].idx];
  } else if (st->nfree > 0) {
    uint32_t idx = st->free_idx[--st->nfree];
    st->tab[i].key = (void *)key;
    st->tab[i].idx = idx;
    s = &st->slots[idx];
    created = 1;
    atomic_fetch_add_explicit(&live, 1, memory_order_relaxed);
  }
  pthread_mutex_unlock(&tab_mu);
  if (s && (created || fresh)) {
    slot_clear_app(s);
    s->known = (uint8_t)known;
    /* A fresh handle has no transfer (an entry left behind by a handle
     * freed unseen would otherwise look busy). */
    if (created || fresh) {
      atomic_store_explicit(&s->active, 0, memory_order_relaxed);
      atomic_store_explicit(&s->multi, NULL, memory_order_relaxed);
      s->ours = NULL;
      s->errbuf_ours = 0;
    }
  }
  return s;
}

static void
slot_drop(const void *key)
{
  if (!key || !tab_ready())
    return;
  pthread_mutex_lock(&tab_mu);
  uint32_t i = tab_pos(key);
  if (st->tab[i].key) {
    st->free_idx[st->nfree++] = st->tab[i].idx;
    st->tab[i].key = NULL;
    atomic_fetch_sub_explicit(&live, 1, memory_order_relaxed);
    /* Backward-shift deletion keeps every probe chain unbroken. */
    uint32_t j = i;
    for (;;) {
      j = (j + 1) & (SW_CURL_TAB - 1);
      if (!st->tab[j].key)
        break;
      uint32_t home = tab_hash(st->tab[j].key);
      /* Entry j may move to the hole at i unless its home lies
       * cyclically in (i, j]. */
      int stays = (i <= j) ? (home > i && home <= j) : (home > i || home <= j);
      if (stays)
        continue;
      st->tab[i] = st->tab[j];
      st->tab[j].key = NULL;
      i = j;
    }
  }
  pthread_mutex_unlock(&tab_mu);
}

/* Slots of the traced transfers running in multi m. */
static int
slots_of_multi(CURLM *m, struct sw_curl_slot **out, const void **keys,
               int cap)
{
  int n = 0;
  if (!tab_ready())
    return 0;
  pthread_mutex_lock(&tab_mu);
  for (uint32_t i = 0; i < SW_CURL_TAB && n < cap; i++) {
    if (!st->tab[i].key)
      continue;
    struct sw_curl_slot *s = &st->slots[st->tab[i].idx];
    if (atomic_load_explicit(&s->active, memory_order_relaxed) &&
        atomic_load_explicit(&s->multi, memory_order_relaxed) == m) {
      keys[n] = st->tab[i].key;
      out[n++] = s;
    }
  }
  pthread_mutex_unlock(&tab_mu);
  return n;
}

/* ------------------------------------------------------------ URL fields */

static int
scheme_char(char c)
{
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.';
}

/* Splits an http(s) URL into the span's peer (host:port, the default port
 * from the scheme unless the URL or CURLOPT_PORT names one), op (the path
 * without query) and url tag (userinfo and fragment removed, query cut at
 * params_max characters when params_max >= 0). Returns 0, or -1 for any
 * other scheme or a URL libcurl would refuse (not traced). */
SW_STATIC int
sw_curl_url_fields(const char *u, long port_opt, int params_max, char *peer,
                   size_t peer_cap, char *op, size_t op_cap, char *url,
                   size_t url_cap)
{
  const char *scheme = "http";
  size_t slen = 4;
  const char *auth = u;
  const char *sep = strstr(u, "://");
  if (sep) {
    const char *c = u;
    while (c < sep && scheme_char(*c))
      c++;
    if (c == sep && sep > u) {
      scheme = u;
      slen = (size_t)(sep - u);
      auth = sep + 3;
    }
  }
  if (auth == u) {
    /* No scheme: libcurl guesses one from the host name's first label. */
    static const char *const other[] = {"ftp.", "dict.", "ldap.", "imap.",
                                        "smtp.", "pop3."};
    for (size_t i = 0; i < SW_ARRAY_LEN(other); i++)
      if (!strncasecmp(u, other[i], strlen(other[i])))
        return -1;
  }
  long port;
  if (slen == 4 && !strncasecmp(scheme, "http", 4))
    port = 80;
  else if (slen == 5 && !strncasecmp(scheme, "https", 5))
    port = 443;
  else
    return -1;
  size_t alen = strcspn(auth, "/?#");
  const char *host = auth;
  for (size_t i = alen; i-- > 0;)
    if (auth[i] == '@') {
      host = auth + i + 1;
      break;
    }
  const char *hend = auth + alen;
  size_t hlen = (size_t)(hend - host);
  if (hlen == 0)
    return -1;
  const char *colon = NULL;
  if (host[0] == '[') {
    const char *rb = memchr(host, ']', hlen);
    if (!rb)
      return -1;
    if (rb + 1 < hend) {
      if (rb[1] != ':')
        return -1;
      colon = rb + 1;
    }
  } else {
    colon = memchr(host, ':', hlen);
  }
  size_t name_len = colon ? (size_t)(colon - host) : hlen;
  if (name_len == 0)
    return -1;
  if (colon && colon + 1 < hend) {
    long v = 0;
    for (const char *c = colon + 1; c < hend; c++) {
      if (*c < '0' || *c > '9' || v > 65535)
        return -1;
      v = v * 10 + (*c - '0');
    }
    if (v < 1 || v > 65535)
      return -1;
    port = v;
  }
  if (port_opt > 0 && port_opt <= 65535)
    port = port_opt;
  if ((size_t)snprintf(peer, peer_cap, "%.*s:%ld", (int)name_len, host,
                       port) >= peer_cap)
    return -1;

  const char *rest = hend;
  size_t plen = strcspn(rest, "?#");
  if (plen == 0)
    sw_strlcpy(op, "/", op_cap);
  else
    sw_strlcpyn(op, op_cap, rest, plen);
  size_t qlen = rest[plen] == '?' ? strcspn(rest + plen, "#") : 0;
  if (params_max >= 0 && qlen > (size_t)params_max + 1)
    qlen = (size_t)params_max + 1;
  size_t n = (size_t)snprintf(url, url_cap, "%.*s://%.*s%s%.*s", (int)slen,
                              scheme, (int)hlen, host, plen ? "" : "/",
                              (int)plen, rest);
  if (n < url_cap)
    sw_strlcpyn(url + n, url_cap - n, rest + plen, qlen);
  return 0;
}

/* ------------------------------------------------------------- transfers */

static const char *
slot_method(const struct sw_curl_slot *s)
{
  if (s->custom[0])
    return s->custom;
  if (s->nobody)
    return "HEAD";
  return s->httpreq == REQ_POST ? "POST"
         : s->httpreq == REQ_PUT ? "PUT"
                                 : "GET";
}

/* 1 when the list has a header named sw8 (set, blanked or removed): an SDK
 * in the application propagates on its own. */
static int
has_sw8(const struct curl_slist *l)
{
  for (; l; l = l->next) {
    const char *d = l->data;
    if (d && !strncasecmp(d, "sw8", 3) &&
        (d[3] == ':' || d[3] == ';' || d[3] == '\0' || d[3] == ' '))
      return 1;
  }
  return 0;
}

/* The URL this transfer will fetch, into buf. 0 or -1. */
static int
slot_url(struct sw_curl_lib *L, struct sw_curl_slot *s, CURL *h, char *buf,
         size_t cap)
{
  if (s->curlu) {
    /* A CURLU takes precedence over CURLOPT_URL in libcurl. */
    sw_curl_url_get_fn get = REAL(L, curl_url_get);
    sw_curl_free_fn fr = REAL(L, curl_free);
    char *t = NULL;
    if (!get || !fr || get(s->curlu, CURLUPART_URL, &t, 0) != CURLUE_OK ||
        !t)
      return -1;
    sw_strlcpy(buf, t, cap);
    fr(t);
    return 0;
  }
  if (s->url_set) {
    sw_strlcpy(buf, s->url, cap);
    return buf[0] ? 0 : -1;
  }
  /* A handle met after its URL was set: the last transfer's URL. */
  sw_curl_easy_getinfo_fn gi = REAL(L, curl_easy_getinfo);
  char *t = NULL;
  if (!gi || gi(h, CURLINFO_EFFECTIVE_URL, &t) != CURLE_OK || !t || !t[0])
    return -1;
  sw_strlcpy(buf, t, cap);
  return 0;
}

/* Adds the sw8 header to the request: a new list, the application's
 * entries then ours. The application's own list is left as it is. */
static void
inject(struct sw_curl_lib *L, struct sw_curl_slot *s, CURL *h,
       const char *parent_endpoint)
{
  char line[5 + SW8_MAX_LEN];
  const struct sw_span_rec *r = &s->rec;
  memcpy(line, "sw8: ", 5);
  if (sw_conn_sw8_encode(line + 5, sizeof(line) - 5, r, parent_endpoint) < 0)
    return;
  sw_curl_slist_append_fn app = REAL(L, curl_slist_append);
  sw_curl_slist_free_all_fn fr = REAL(L, curl_slist_free_all);
  sw_curl_easy_setopt_fn so = REAL(L, curl_easy_setopt);
  if (!app || !fr || !so)
    return;
  struct curl_slist *l = NULL;
  for (const struct curl_slist *e = s->app_headers; e; e = e->next) {
    if (!e->data)
      continue;
    struct curl_slist *n = app(l, e->data);
    if (!n)
      goto fail;
    l = n;
  }
  struct curl_slist *n = app(l, line);
  if (!n)
    goto fail;
  l = n;
  if (so(h, CURLOPT_HTTPHEADER, l) != CURLE_OK)
    goto fail;
  s->ours = l;
  return;
fail:
  if (l)
    fr(l);
}

/* Starts the span of a transfer about to begin on h (m: the multi handle
 * it is added to, NULL for curl_easy_perform). Returns the slot when the
 * transfer is traced. */
static struct sw_curl_slot *
transfer_start(struct sw_curl_lib *L, CURL *h, CURLM *m)
{
  /* The first traced transfer may come before any tracked connection. */
  if (!sw_runtime_ready())
    return NULL;
  struct sw_curl_slot *s = slot_find(h);
  if (!s)
    s = slot_new(h, 0, 0);
  if (!s) {
    SW_STAT_INC(conns_untracked);
    return NULL;
  }
  if (atomic_load_explicit(&s->active, memory_order_relaxed))
    return NULL; /* already running: libcurl will refuse this call */
  char u[SW_CURL_URL_MAX];
  struct sw_span_rec *r = &s->rec;
  memset(r, 0, sizeof(*r));
  if (slot_url(L, s, h, u, sizeof(u)) != 0 ||
      sw_curl_url_fields(u, s->port, sw_cfg->params_length_threshold,
                         r->peer, sizeof(r->peer), r->op, sizeof(r->op),
                         r->url, sizeof(r->url)) != 0)
    return NULL; /* not an HTTP transfer */
  sw_strlcpy(r->method, slot_method(s), sizeof(r->method));
  char parent_endpoint[SW_OP_MAX];
  if (sw_conn_ignored(r->method, r->op) ||
      sw_conn_exit_identity(r, parent_endpoint, sizeof(parent_endpoint))) {
    SW_STAT_INC(requests_ignored);
    return NULL;
  }
  r->kind = SW_SPAN_EXIT;
  r->layer = SW_LAYER_HTTP;
  r->component = SW_COMPONENT_CURL;
  r->start_ms = sw_now_ms();
  s->ours = NULL;
  s->errbuf_ours = 0;
  /* Without the header list we cannot copy it: inject only when the
   * handle's whole option history is known, or the list was set since. */
  if (sw_cfg->inject_headers && (s->known || s->headers_seen) &&
      !has_sw8(s->app_headers))
    inject(L, s, h, parent_endpoint);
  /* libcurl's own error text is better than curl_easy_strerror(): lend
   * the handle a buffer when the application surely has none. */
  if ((s->known || s->errbuf_seen) && !s->app_errbuf) {
    sw_curl_easy_setopt_fn so = REAL(L, curl_easy_setopt);
    s->errbuf[0] = '\0';
    if (so && so(h, CURLOPT_ERRORBUFFER, s->errbuf) == CURLE_OK)
      s->errbuf_ours = 1;
  }
  atomic_store_explicit(&s->multi, m, memory_order_relaxed);
  atomic_store_explicit(&s->active, 1, memory_order_relaxed);
  /* The reporter thread starts on the first traced connection; libcurl's
   * connections are never tracked, so a transfer counts as one. */
  sw_sink_first_conn();
  return s;
}

/* Gives the handle back its own options and frees our header list. With
 * gone set the handle is being destroyed: nothing is set on it. */
static void
transfer_restore(struct sw_curl_lib *L, struct sw_curl_slot *s, CURL *h,
                 int gone)
{
  sw_curl_easy_setopt_fn so = REAL(L, curl_easy_setopt);
  if (!gone && so) {
    if (s->ours)
      so(h, CURLOPT_HTTPHEADER, s->app_headers);
    if (s->errbuf_ours)
      so(h, CURLOPT_ERRORBUFFER, s->app_errbuf);
  }
  if (s->ours) {
    sw_curl_slist_free_all_fn fr = REAL(L, curl_slist_free_all);
    if (fr)
      fr(s->ours);
    s->ours = NULL;
  }
  s->errbuf_ours = 0;
}

/* Ends the span. have_code: code is the transfer's result; otherwise the
 * transfer was taken away before its result was read (removed from its
 * multi, or the handle cleaned up). */
static void
transfer_finish(struct sw_curl_lib *L, struct sw_curl_slot *s, CURL *h,
                CURLcode code, int have_code)
{
  struct sw_span_rec *r = &s->rec;
  atomic_store_explicit(&s->active, 0, memory_order_relaxed);
  atomic_store_explicit(&s->multi, NULL, memory_order_relaxed);
  r->end_ms = sw_now_ms();
  sw_curl_easy_getinfo_fn gi = REAL(L, curl_easy_getinfo);
  long status = 0;
  char *method = NULL;
  if (gi && gi(h, CURLINFO_RESPONSE_CODE, &status) != CURLE_OK)
    status = 0;
  if (gi && gi(h, SW_CURLINFO_METHOD, &method) == CURLE_OK && method &&
      method[0])
    sw_strlcpy(r->method, method, sizeof(r->method));
  r->status = (int32_t)status;
  r->errlog[0] = '\0';
  if (have_code && code != CURLE_OK) {
    r->is_error = 1;
    const char *eb = s->app_errbuf ? s->app_errbuf
                     : s->errbuf_ours ? s->errbuf
                                      : NULL;
    if (eb && eb[0]) {
      sw_strlcpyn(r->errlog, sizeof(r->errlog), eb,
                  strnlen(eb, CURL_ERROR_SIZE));
    } else {
      sw_curl_easy_strerror_fn se = REAL(L, curl_easy_strerror);
      const char *t = se ? se(code) : NULL;
      snprintf(r->errlog, sizeof(r->errlog), "%s", t ? t : "transfer failed");
    }
  } else if (!have_code && status == 0) {
    r->is_error = 1;
    sw_strlcpy(r->errlog, "transfer ended before a response",
               sizeof(r->errlog));
  }
  if (status >= 500)
    r->is_error = 1;
  sw_sink_span(r);
}

/* ------------------------------------------------------------------ hooks */

static inline int
passthrough(void)
{
  return sw_tls_busy ||
         !atomic_load_explicit(&sw_active, memory_order_acquire);
}

/* The guarded paths still keep the table right for handles the
 * application owns (a libcurl callback may set options or clean up a
 * handle), but never trace. */
static inline int
watching(void)
{
  return atomic_load_explicit(&sw_active, memory_order_acquire) &&
         atomic_load_explicit(&live, memory_order_relaxed) > 0;
}

SW_EXPORT CURL *
curl_easy_init(void)
{
  struct sw_curl_lib *L = lib_of(__builtin_return_address(0));
  sw_curl_easy_init_fn f = REAL(L, curl_easy_init);
  if (!f)
    return NULL;
  if (passthrough())
    return f();
  sw_tls_busy++;
  CURL *h = f();
  int saved = errno;
  if (h)
    slot_new(h, 1, 1);
  errno = saved;
  sw_tls_busy--;
  return h;
}

SW_EXPORT CURL *
curl_easy_duphandle(CURL *src)
{
  struct sw_curl_lib *L = lib_of(__builtin_return_address(0));
  sw_curl_easy_duphandle_fn f = REAL(L, curl_easy_duphandle);
  if (!f)
    return NULL;
  int busy = passthrough();
  if (busy && !watching())
    return f(src);
  sw_tls_busy++;
  CURL *h = f(src);
  int saved = errno;
  struct sw_curl_slot *s = h ? slot_find(src) : NULL;
  if (h && s) {
    /* The copy took the source's current options, ours included while a
     * transfer runs: give it the application's instead, since our list
     * dies with that transfer. */
    sw_curl_easy_setopt_fn so = REAL(L, curl_easy_setopt);
    if (so && s->ours)
      so(h, CURLOPT_HTTPHEADER, s->app_headers);
    if (so && s->errbuf_ours)
      so(h, CURLOPT_ERRORBUFFER, s->app_errbuf);
    struct sw_curl_slot *d = busy ? NULL : slot_new(h, s->known, 1);
    if (d) {
      d->known = s->known;
      d->headers_seen = s->headers_seen;
      d->errbuf_seen = s->errbuf_seen;
      d->httpreq = s->httpreq;
      d->nobody = s->nobody;
      d->url_set = s->url_set;
      d->port = s->port;
      d->app_headers = s->app_headers;
      d->app_errbuf = s->app_errbuf;
      d->curlu = NULL; /* libcurl duplicates the CURLU: not ours to read */
      memcpy(d->custom, s->custom, sizeof(d->custom));
      memcpy(d->url, s->url, sizeof(d->url));
      if (s->curlu) {
        /* Keep the URL it names as a plain one. */
        char u[SW_CURL_URL_MAX];
        if (slot_url(L, s, src, u, sizeof(u)) == 0) {
          sw_strlcpy(d->url, u, sizeof(d->url));
          d->url_set = 1;
        }
      }
    }
  } else if (h && !busy) {
    /* Unknown source: its header list is unknown, and so is the copy's. */
    slot_new(h, 0, 1);
  }
  errno = saved;
  sw_tls_busy--;
  return h;
}

SW_EXPORT void
curl_easy_reset(CURL *h)
{
  struct sw_curl_lib *L = lib_of(__builtin_return_address(0));
  sw_curl_easy_reset_fn f = REAL(L, curl_easy_reset);
  if (!f)
    return;
  int busy = passthrough();
  if (busy && !watching()) {
    f(h);
    return;
  }
  sw_tls_busy++;
  f(h);
  int saved = errno;
  /* Every option is back to its default: the state is fully known. */
  struct sw_curl_slot *s = busy ? slot_find(h) : slot_new(h, 1, 0);
  if (s) {
    slot_clear_app(s);
    s->known = 1;
    /* A transfer still running lost our options with the reset. */
    s->errbuf_ours = 0;
  }
  errno = saved;
  sw_tls_busy--;
}

SW_EXPORT void
curl_easy_cleanup(CURL *h)
{
  struct sw_curl_lib *L = lib_of(__builtin_return_address(0));
  sw_curl_easy_cleanup_fn f = REAL(L, curl_easy_cleanup);
  if (!f)
    return;
  if (passthrough() && !watching()) {
    f(h);
    return;
  }
  int saved = errno;
  sw_tls_busy++;
  struct sw_curl_slot *s = slot_find(h);
  if (s && atomic_load_explicit(&s->active, memory_order_relaxed))
    transfer_finish(L, s, h, CURLE_OK, 0);
  errno = saved;
  f(h);
  saved = errno;
  if (s) {
    /* libcurl no longer holds our list: free it with the slot. */
    transfer_restore(L, s, h, 1);
    slot_drop(h);
  }
  errno = saved;
  sw_tls_busy--;
}

/* CURLOPT_PUT and CURLOPT_HTTPPOST are deprecated but still honoured by
 * libcurl, so they still set the method. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"

/* Records what the transfers need to know of an option. */
static void
record_option(struct sw_curl_slot *s, CURLoption opt, long l, void *p)
{
  switch (opt) {
  case CURLOPT_URL:
    s->url_set = p != NULL;
    if (p)
      sw_strlcpy(s->url, p, sizeof(s->url));
    else
      s->url[0] = '\0';
    break;
  case CURLOPT_CURLU:
    s->curlu = p;
    break;
  case CURLOPT_PORT:
    s->port = l;
    break;
  case CURLOPT_HTTPHEADER:
    s->app_headers = p;
    s->headers_seen = 1;
    break;
  case CURLOPT_ERRORBUFFER:
    s->app_errbuf = p;
    s->errbuf_seen = 1;
    break;
  case CURLOPT_CUSTOMREQUEST:
    if (p)
      sw_strlcpy(s->custom, p, sizeof(s->custom));
    else
      s->custom[0] = '\0';
    break;
  case CURLOPT_NOBODY:
    s->nobody = l != 0;
    break;
  case CURLOPT_POST:
    s->httpreq = l ? REQ_POST : REQ_GET;
    s->nobody = 0;
    break;
  case CURLOPT_POSTFIELDS:
  case CURLOPT_COPYPOSTFIELDS:
  case CURLOPT_HTTPPOST:
  case CURLOPT_MIMEPOST:
    s->httpreq = REQ_POST;
    s->nobody = 0;
    break;
  case CURLOPT_UPLOAD:
  case CURLOPT_PUT:
    s->httpreq = l ? REQ_PUT : REQ_GET;
    s->nobody = 0;
    break;
  case CURLOPT_HTTPGET:
    if (l) {
      s->httpreq = REQ_GET;
      s->nobody = 0;
    }
    break;
  default:
    break;
  }
}

static int
recorded(CURLoption opt)
{
  switch (opt) {
  case CURLOPT_URL: case CURLOPT_CURLU: case CURLOPT_PORT:
  case CURLOPT_HTTPHEADER: case CURLOPT_ERRORBUFFER:
  case CURLOPT_CUSTOMREQUEST: case CURLOPT_NOBODY: case CURLOPT_POST:
  case CURLOPT_POSTFIELDS: case CURLOPT_COPYPOSTFIELDS:
  case CURLOPT_HTTPPOST: case CURLOPT_MIMEPOST: case CURLOPT_UPLOAD:
  case CURLOPT_PUT: case CURLOPT_HTTPGET:
    return 1;
  default:
    return 0;
  }
}

#pragma GCC diagnostic pop

/* curl_easy_setopt() takes exactly one argument after the option, whose
 * type the option number's range gives (curl.h CURLOPTTYPE_*). */
SW_EXPORT CURLcode
curl_easy_setopt(CURL *h, CURLoption opt, ...)
{
  struct sw_curl_lib *L = lib_of(__builtin_return_address(0));
  sw_curl_easy_setopt_fn f = REAL(L, curl_easy_setopt);
  va_list ap;
  long l = 0;
  void *p = NULL;
  curl_off_t off = 0;
  void (*fn)(void) = NULL;
  int kind;
  va_start(ap, opt);
  if (opt < CURLOPTTYPE_OBJECTPOINT) {
    l = va_arg(ap, long);
    kind = 0;
  } else if (opt < CURLOPTTYPE_FUNCTIONPOINT) {
    p = va_arg(ap, void *);
    kind = 1;
  } else if (opt < CURLOPTTYPE_OFF_T) {
    fn = va_arg(ap, void (*)(void));
    kind = 2;
  } else if (opt < CURLOPTTYPE_BLOB) {
    off = va_arg(ap, curl_off_t);
    kind = 3;
  } else {
    p = va_arg(ap, void *); /* struct curl_blob *, or later pointers */
    kind = 1;
  }
  va_end(ap);
  if (!f)
    return CURLE_FAILED_INIT;
#define SW_CURL_SETOPT_CALL()                    \
  (kind == 0   ? f(h, opt, l)                    \
   : kind == 1 ? f(h, opt, p)                    \
   : kind == 2 ? f(h, opt, fn)                   \
               : f(h, opt, off))
  int busy = passthrough();
  if (!recorded(opt) || (busy && !watching()))
    return SW_CURL_SETOPT_CALL();
  sw_tls_busy++;
  CURLcode rc = SW_CURL_SETOPT_CALL();
  int saved = errno;
  if (rc == CURLE_OK) {
    /* Options set while guarded (from a libcurl callback) still update a
     * handle we know, but never make a new slot. */
    struct sw_curl_slot *s = slot_find(h);
    if (!s && !busy)
      s = slot_new(h, 0, 0);
    if (s)
      record_option(s, opt, l, p);
  }
  errno = saved;
  sw_tls_busy--;
  return rc;
#undef SW_CURL_SETOPT_CALL
}

SW_EXPORT CURLcode
curl_easy_perform(CURL *h)
{
  struct sw_curl_lib *L = lib_of(__builtin_return_address(0));
  sw_curl_easy_perform_fn f = REAL(L, curl_easy_perform);
  if (!f)
    return CURLE_FAILED_INIT;
  if (passthrough())
    return f(h);
  int saved = errno;
  sw_tls_busy++;
  struct sw_curl_slot *s = transfer_start(L, h, NULL);
  errno = saved;
  /* Guarded: the sockets libcurl uses are not traced a second time. */
  CURLcode rc = f(h);
  saved = errno;
  if (s) {
    transfer_finish(L, s, h, rc, 1);
    transfer_restore(L, s, h, 0);
  }
  errno = saved;
  sw_tls_busy--;
  return rc;
}

SW_EXPORT CURLMcode
curl_multi_add_handle(CURLM *m, CURL *h)
{
  struct sw_curl_lib *L = lib_of(__builtin_return_address(0));
  sw_curl_multi_add_handle_fn f = REAL(L, curl_multi_add_handle);
  if (!f)
    return CURLM_INTERNAL_ERROR;
  if (passthrough())
    return f(m, h);
  int saved = errno;
  sw_tls_busy++;
  struct sw_curl_slot *s = m ? transfer_start(L, h, m) : NULL;
  errno = saved;
  CURLMcode rc = f(m, h);
  saved = errno;
  if (s && rc != CURLM_OK) {
    /* Nothing will run: no span, and the handle gets its options back.
     * A span joined to an entry has taken a span id all the same; the
     * segment then closes on the reporter's grace timer. */
    atomic_store_explicit(&s->active, 0, memory_order_relaxed);
    atomic_store_explicit(&s->multi, NULL, memory_order_relaxed);
    transfer_restore(L, s, h, 0);
  }
  errno = saved;
  sw_tls_busy--;
  return rc;
}

/* The traced transfer of h in multi m, if one runs. */
static struct sw_curl_slot *
running_in(CURLM *m, CURL *h)
{
  struct sw_curl_slot *s = slot_find(h);
  if (s && atomic_load_explicit(&s->active, memory_order_relaxed) &&
      atomic_load_explicit(&s->multi, memory_order_relaxed) == m)
    return s;
  return NULL;
}

SW_EXPORT CURLMcode
curl_multi_remove_handle(CURLM *m, CURL *h)
{
  struct sw_curl_lib *L = lib_of(__builtin_return_address(0));
  sw_curl_multi_remove_handle_fn f = REAL(L, curl_multi_remove_handle);
  if (!f)
    return CURLM_INTERNAL_ERROR;
  if (passthrough() && !watching())
    return f(m, h);
  sw_tls_busy++;
  CURLMcode rc = f(m, h);
  int saved = errno;
  struct sw_curl_slot *s = m ? running_in(m, h) : NULL;
  if (s && rc == CURLM_OK) {
    transfer_finish(L, s, h, CURLE_OK, 0);
    transfer_restore(L, s, h, 0);
  }
  errno = saved;
  sw_tls_busy--;
  return rc;
}

SW_EXPORT CURLMsg *
curl_multi_info_read(CURLM *m, int *left)
{
  struct sw_curl_lib *L = lib_of(__builtin_return_address(0));
  sw_curl_multi_info_read_fn f = REAL(L, curl_multi_info_read);
  if (!f) {
    if (left)
      *left = 0;
    return NULL;
  }
  if (passthrough() && !watching())
    return f(m, left);
  sw_tls_busy++;
  CURLMsg *msg = f(m, left);
  int saved = errno;
  /* libcurl's own multi inside curl_easy_perform() never matches: the
   * slot names the application's multi handle, or none. */
  if (msg && msg->msg == CURLMSG_DONE) {
    struct sw_curl_slot *s = running_in(m, msg->easy_handle);
    if (s) {
      transfer_finish(L, s, msg->easy_handle, msg->data.result, 1);
      transfer_restore(L, s, msg->easy_handle, 0);
    }
  }
  errno = saved;
  sw_tls_busy--;
  return msg;
}

SW_EXPORT CURLMcode
curl_multi_cleanup(CURLM *m)
{
  struct sw_curl_lib *L = lib_of(__builtin_return_address(0));
  sw_curl_multi_cleanup_fn f = REAL(L, curl_multi_cleanup);
  if (!f)
    return CURLM_INTERNAL_ERROR;
  if (passthrough() && !watching())
    return f(m);
  sw_tls_busy++;
  int saved = errno;
  /* Transfers still in m end with it; their handles are detached and stay
   * the application's. They get their options back now, while the multi
   * still exists (libcurl reads the header list only while it builds a
   * request, never in cleanup). A few at a time: each pass ends them, so
   * the next scan finds the rest. */
  struct sw_curl_slot *found[32];
  const void *keys[32];
  int n;
  do {
    n = m ? slots_of_multi(m, found, keys, (int)SW_ARRAY_LEN(found)) : 0;
    for (int i = 0; i < n; i++) {
      transfer_finish(L, found[i], (CURL *)keys[i], CURLE_OK, 0);
      transfer_restore(L, found[i], (CURL *)keys[i], 0);
    }
  } while (n == (int)SW_ARRAY_LEN(found));
  errno = saved;
  CURLMcode rc = f(m);
  sw_tls_busy--;
  return rc;
}

/* The calls that do a multi handle's I/O: only guarded, so the socket
 * hooks stay quiet for libcurl's own connections. */
#define SW_CURL_MULTI_GUARDED(name, params, args)                      \
  SW_EXPORT CURLMcode name params                                     \
  {                                                                   \
    struct sw_curl_lib *L = lib_of(__builtin_return_address(0));      \
    sw_##name##_fn f = REAL(L, name);                                 \
    if (!f)                                                           \
      return CURLM_INTERNAL_ERROR;                                    \
    if (passthrough())                                                \
      return f args;                                                  \
    sw_tls_busy++;                                                    \
    CURLMcode rc = f args;                                            \
    sw_tls_busy--;                                                    \
    return rc;                                                        \
  }

SW_CURL_MULTI_GUARDED(curl_multi_perform, (CURLM *m, int *running),
                      (m, running))
SW_CURL_MULTI_GUARDED(curl_multi_socket_action,
                      (CURLM *m, curl_socket_t s, int ev, int *running),
                      (m, s, ev, running))
SW_CURL_MULTI_GUARDED(curl_multi_socket_all, (CURLM *m, int *running),
                      (m, running))

/* Parenthesised: <curl/multi.h> maps this old name onto
 * curl_multi_socket_action() with a macro; programs built against old
 * headers still call it. */
SW_EXPORT CURLMcode
(curl_multi_socket)(CURLM *m, curl_socket_t s, int *running)
{
  struct sw_curl_lib *L = lib_of(__builtin_return_address(0));
  sw_curl_multi_socket_fn f = REAL(L, curl_multi_socket);
  if (!f)
    return CURLM_INTERNAL_ERROR;
  if (passthrough())
    return f(m, s, running);
  sw_tls_busy++;
  CURLMcode rc = f(m, s, running);
  sw_tls_busy--;
  return rc;
}

