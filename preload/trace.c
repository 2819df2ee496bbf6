/* trace.c: ids, clocks and per-thread contexts. */
#include "sw_common.h"

#include <pthread.h>
#include <time.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "idstack.h"
#include "trace.h"

#define SW_THREAD_CTX_MAX 4096

static uint64_t id_prefix;
/* id_prefix in hex, the first half of every id: written once per init. */
static char id_prefix_hex[16];
static _Atomic uint64_t id_counter;

struct sw_thread_ctx sw_thread_ctx_pool[SW_THREAD_CTX_MAX];
static _Atomic uint32_t ctx_next;
/* Contexts of exited threads are recycled: a pthread key's destructor
 * (the first 32 keys live in the thread descriptor: no allocation) pushes
 * the index on a free stack (idstack.h), as the connection slots do. */
static pthread_key_t ctx_key;
static int ctx_key_ok;
static _Atomic uint64_t ctx_free;
static _Atomic uint32_t ctx_link[SW_THREAD_CTX_MAX];

static void
ctx_release(void *v)
{
  uint32_t i = (uint32_t)(uintptr_t)v - 1;
  if (i >= SW_THREAD_CTX_MAX)
    return;
  atomic_store_explicit(&sw_thread_ctx_pool[i].inflight, 0,
                        memory_order_relaxed);
  sw_idstack_push(&ctx_free, ctx_link, i);
}

/* Index + 1 into sw_thread_ctx_pool; 0 = none yet (trace.h). */
__thread uint32_t sw_tls_ctx __attribute__((tls_model("initial-exec")));

/* splitmix64's finaliser: a bijection, so distinct counters give distinct
 * ids, and consecutive ones do not look consecutive. */
static uint64_t
mix64(uint64_t z)
{
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

#if !defined(__SSE2__) || defined(SW_UNITTESTS)
/* Two hex digits per byte value: "000102...feff". */
#define SW_HEX_ROW(h)                                                       \
  h "0" h "1" h "2" h "3" h "4" h "5" h "6" h "7" h "8" h "9" h "a" h "b"   \
  h "c" h "d" h "e" h "f"
static const char hex_pairs[513] =
  SW_HEX_ROW("0") SW_HEX_ROW("1") SW_HEX_ROW("2") SW_HEX_ROW("3")
  SW_HEX_ROW("4") SW_HEX_ROW("5") SW_HEX_ROW("6") SW_HEX_ROW("7")
  SW_HEX_ROW("8") SW_HEX_ROW("9") SW_HEX_ROW("a") SW_HEX_ROW("b")
  SW_HEX_ROW("c") SW_HEX_ROW("d") SW_HEX_ROW("e") SW_HEX_ROW("f");
#undef SW_HEX_ROW

/* 16 lower-case hex digits of v, most significant first: one table load
 * per byte. The reference for hex64() (and its unit test). */
SW_STATIC void
hex64_table(char *out, uint64_t v)
{
  for (int i = 7; i >= 0; i--) {
    memcpy(out + 2 * i, hex_pairs + 2 * (v & 0xff), 2);
    v >>= 8;
  }
}
#endif

/* The same, the 16 nibbles at once (SSE2, part of x86-64): each byte
 * split into its two nibbles, interleaved high first, and '0' + n, plus
 * 'a' - '0' - 10 where n > 9. */
SW_STATIC void
hex64(char *out, uint64_t v)
{
#if defined(__SSE2__)
  __m128i x = _mm_cvtsi64_si128((long long)__builtin_bswap64(v));
  __m128i lo4 = _mm_set1_epi8(0x0f);
  __m128i hi = _mm_and_si128(_mm_srli_epi16(x, 4), lo4);
  __m128i lo = _mm_and_si128(x, lo4);
  __m128i nib = _mm_unpacklo_epi8(hi, lo);
  __m128i letter = _mm_cmpgt_epi8(nib, _mm_set1_epi8(9));
  __m128i r = _mm_add_epi8(nib, _mm_set1_epi8('0'));
  r = _mm_add_epi8(r, _mm_and_si128(letter, _mm_set1_epi8('a' - '0' - 10)));
  _mm_storeu_si128((__m128i *)out, r);
#else
  hex64_table(out, v);
#endif
}

void
sw_trace_init(uint64_t seed)
{
  id_prefix = mix64(seed ^ 0x9e3779b97f4a7c15ULL);
  hex64(id_prefix_hex, id_prefix);
  if (!ctx_key_ok)
    ctx_key_ok = pthread_key_create(&ctx_key, ctx_release) == 0;
  atomic_store_explicit(&id_counter, 0, memory_order_relaxed);
}

/* The id of counter value n. */
static inline void
make_id(char *out, uint64_t n)
{
  memcpy(out, id_prefix_hex, sizeof(id_prefix_hex));
  hex64(out + 16, mix64(n + id_prefix));
  out[SW_TRACE_ID_LEN] = '\0';
}

void
sw_trace_new_id(char *out)
{
  make_id(out, atomic_fetch_add_explicit(&id_counter, 1,
                                         memory_order_relaxed));
}

void
sw_trace_new_ids(char *a, char *b)
{
  uint64_t n = atomic_fetch_add_explicit(&id_counter, 2, memory_order_relaxed);
  make_id(a, n);
  make_id(b, n + 1);
}

struct sw_thread_ctx *
sw_thread_ctx_slow(void)
{
  uint32_t i;
  int64_t f = sw_idstack_pop(&ctx_free, ctx_link);
  if (f >= 0) {
    i = (uint32_t)f;
  } else {
    i = atomic_fetch_add_explicit(&ctx_next, 1, memory_order_relaxed);
    if (i >= SW_THREAD_CTX_MAX)
      return NULL; /* pool exhausted: this thread stays without context */
  }
  sw_tls_ctx = i + 1;
  if (ctx_key_ok)
    pthread_setspecific(ctx_key, (void *)(uintptr_t)(i + 1));
  return &sw_thread_ctx_pool[i];
}

void
sw_trace_atfork_child(uint64_t seed)
{
  /* The forking thread keeps its slot; everyone else's is dead. Counters
   * are cleared: the child serves none of the parent's requests. */
  uint32_t used = atomic_load_explicit(&ctx_next, memory_order_relaxed);
  if (used > SW_THREAD_CTX_MAX)
    used = SW_THREAD_CTX_MAX;
  for (uint32_t i = 0; i < used; i++)
    atomic_store_explicit(&sw_thread_ctx_pool[i].inflight, 0,
                          memory_order_relaxed);
  sw_trace_init(seed);
}
