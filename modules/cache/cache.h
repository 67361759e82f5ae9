/*
 * cache.h -- rp.cache's core: an LRU cache with TTL, sharded, shared by
 * threads (plain C, no Lua).
 *
 * Keys are byte strings (0..RP_CACHE_KEY_MAX bytes, any bytes).  Values are
 * immutable, refcounted byte blobs (rp_cache_val): a reader gets its own
 * reference and may keep using the value after the entry was replaced,
 * evicted or invalidated; a hit copies nothing.
 *
 * Threads.  Every function below may be called from any thread at any time
 * on the same cache, except that a caller must hold a reference to the cache
 * (rp_cache_new/retain/shared) for the duration of the call.  Keys are
 * hashed (SipHash-1-3 with a per-cache random key, so chosen keys cannot
 * flood one bucket) to one of `shards` shards; each shard has its own mutex,
 * hash table, LRU list and ordered index, so threads working on different
 * shards never wait for each other.  There is no global lock.
 *
 * Eviction.  LRU per shard: the capacity is split evenly between shards
 * and a shard over its share drops its least recently used entries.  A
 * shard of at most 64 entries keeps exact LRU order (a hit moves the entry
 * to the front); a larger one uses CLOCK, the approximation page caches
 * use: a hit only marks the entry (no list writes), and eviction moves a
 * marked entry found at the LRU end back to the front, unmarked, instead
 * of dropping it.  An entry past its TTL is never
 * returned; it is removed when a lookup meets it or when it reaches the LRU
 * tail (counted as an expiration, not an eviction).
 *
 * Invalidation.  rp_cache_invalidate (one key) is O(log n); prefix
 * invalidation walks each shard's ordered index (a skip list) from the
 * prefix: O(shards * log(n / shards) + m) for m matching entries, never a
 * scan of the whole cache.  An invalidation also stops an in-flight fetch of
 * a matching key from storing what it computes: once an invalidation
 * returns, no lookup returns a value that was stored (or being computed)
 * before it started.
 *
 * Ownership words used below: "new reference, owned by the caller" means the
 * caller must rp_cache_val_release / rp_cache_release it; "borrows" means
 * the function neither keeps nor frees it beyond the call.
 */
#ifndef RP_CACHE_H
#define RP_CACHE_H

#include <math.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "rp.h"

#define RP_CACHE_KEY_MAX 65535           /* longest key, bytes */
#define RP_CACHE_TTL_DEFAULT (-HUGE_VAL) /* put/fetch ttl: use the cache's ttl option */

/* ---- values ------------------------------------------------------------------ */
/* What the bytes of a value are.  The core does not interpret them; the Lua
 * binding stores a Lua string as RP_CACHE_BYTES (so C readers such as the
 * server see the string's bytes) and numbers, booleans and tables in the
 * encoding of cache_codec.h as RP_CACHE_LUA.  Lua reads RP_CACHE_BYTES
 * values as strings. */
enum { RP_CACHE_BYTES = 0, RP_CACHE_LUA = 1 };

typedef struct rp_cache_val {
  _Atomic long refs;    /* private: use retain/release */
  uint32_t kind;        /* RP_CACHE_BYTES or RP_CACHE_LUA */
  size_t len;           /* bytes in data */
  unsigned char data[]; /* len bytes followed by a 0 byte (text is a C string) */
} rp_cache_val;

/* A new value holding a copy of data[0..len) (data may be NULL when len is
 * 0); refs = 1, a new reference owned by the caller.  NULL (err set) when
 * memory runs out.  Borrows data. */
rp_cache_val *rp_cache_val_new(const void *data, size_t len, uint32_t kind, rp_err *err);
/* A new value of len bytes left uninitialised (data[len] is 0), for a caller
 * that builds the bytes in place; it must fill them before the value is put
 * or shared with another thread, and never change them after.  New
 * reference owned by the caller; NULL (err set) on no memory. */
rp_cache_val *rp_cache_val_alloc(size_t len, uint32_t kind, rp_err *err);
/* Adds a reference (the caller owns the new one); returns v. */
rp_cache_val *rp_cache_val_retain(rp_cache_val *v);
/* Drops a reference; the value is freed when the last one goes.  Accepts
 * NULL.  Any thread may drop the last reference. */
void rp_cache_val_release(rp_cache_val *v);

/* ---- options -------------------------------------------------------------------
 * Named, defaulted and range-checked here once.  From C: rp_cache_opts_init,
 * then assign fields or set them by name, then rp_cache_new (which checks).
 * By name (what the Lua binding and configs do): rp_cache_opts_set_number /
 * _set_string, which also check the value.
 *
 *   capacity        most entries; default 10000.  0 = no entry limit (then
 *                   capacity_bytes must be set).  Given a string with a
 *                   unit ("64MB") it means capacity_bytes instead.
 *   capacity_bytes  most bytes of keys plus values (the cache's own
 *                   bookkeeping is not counted); a number or a string with
 *                   a unit: B, KB, MB, GB, TB (powers of 1024; "KiB" and "k"
 *                   are accepted too).  Default 0 = no byte limit.  Setting
 *                   it by name without setting capacity by name removes the
 *                   default entry limit.
 *   ttl             seconds an entry lives after its put; 0 (default) =
 *                   entries do not expire.  put and fetch may override it
 *                   per entry.
 *   shards          1..1024, default 16; lowered to capacity when capacity
 *                   is smaller (each shard holds at least one entry).
 */
typedef double (*rp_cache_clock_fn)(void *ud); /* monotonic seconds */

typedef struct rp_cache_opts {
  int64_t capacity;        /* entries, 0..2^40; 0 = no entry limit */
  int64_t capacity_bytes;  /* 0..2^50; 0 = no byte limit */
  double ttl;              /* seconds, 0..1e9; 0 = never expire */
  int32_t shards;          /* 1..1024 */
  rp_cache_clock_fn clock; /* NULL = rp_now; for tests (C only) */
  void *clock_ud;          /* passed to clock */
  unsigned given;          /* private: options set by name */
} rp_cache_opts;

/* The option names, NULL-terminated (for messages and key checks). */
extern const char *const rp_cache_opt_names[];

/* Fills o with the defaults above. */
void rp_cache_opts_init(rp_cache_opts *o);
/* Sets option `name` from a number / a string ("64MB" for sizes), checking
 * the value.  RP_OK, or RP_EINVAL with a message naming the option and the
 * value (unknown names list the known ones).  Borrows name and s. */
int rp_cache_opts_set_number(rp_cache_opts *o, const char *name, double v, rp_err *err);
int rp_cache_opts_set_string(rp_cache_opts *o, const char *name, const char *s, rp_err *err);
/* The error for option `name` given a value of another type (got names
 * the type, e.g. "boolean"); an unknown name gets the unknown-option
 * message.  Returns RP_EINVAL.  Borrows both strings. */
int rp_cache_opts_bad_type(const char *name, const char *got, rp_err *err);
/* Checks every field and their combination; RP_OK or RP_EINVAL naming the
 * field. */
int rp_cache_opts_check(const rp_cache_opts *o, rp_err *err);

/* ---- the cache ------------------------------------------------------------------ */
typedef struct rp_cache rp_cache; /* opaque, refcounted */

/* A new empty cache with options o (NULL = defaults; borrowed: copied).
 * refs = 1, a new reference owned by the caller.  NULL with err set on bad
 * options (RP_EINVAL) or no memory (RP_ENOMEM). */
rp_cache *rp_cache_new(const rp_cache_opts *o, rp_err *err);
/* Adds a reference (owned by the caller); returns c.  Thread-safe. */
rp_cache *rp_cache_retain(rp_cache *c);
/* Drops a reference; at the last one the entries are released and the
 * cache freed (values still referenced elsewhere live on).  Accepts NULL. */
void rp_cache_release(rp_cache *c);
/* Copies the options the cache runs with into o (shards as lowered). */
void rp_cache_opts_get(const rp_cache *c, rp_cache_opts *o);

/* Looks key[0..klen) up.  A hit sets *out to a new reference owned by the
 * caller and returns 1 (the entry becomes most recently used); a miss (or
 * an expired entry, which is then removed) sets *out = NULL and returns 0.
 * Never fails, never allocates; a key of bad length simply misses.
 * Borrows key. */
int rp_cache_get(rp_cache *c, const void *key, size_t klen, rp_cache_val **out);

/* Stores v under key[0..klen), replacing any entry of that key; the entry
 * becomes most recently used and the shard drops LRU entries while over its
 * capacity.  ttl: RP_CACHE_TTL_DEFAULT (the cache's ttl), 0 (never expires)
 * or seconds > 0.  Borrows key; takes its own reference to v (the caller
 * keeps its own).  A value bigger than the shard's byte share
 * (capacity_bytes / shards) is not stored (and an older entry of the key is
 * dropped): *stored (may be NULL) says whether it was.  Returns RP_OK,
 * RP_EINVAL (too long key, bad ttl, NULL v) or RP_ENOMEM (nothing
 * changed). */
int rp_cache_put(rp_cache *c, const void *key, size_t klen, rp_cache_val *v, double ttl,
                 int *stored, rp_err *err);

/* Computes a missing value, one computation per key at a time.  Called by
 * rp_cache_fetch on a miss, on the fetching thread, with no cache lock held.
 * It sets *out to a new reference that the cache takes over (or leaves it
 * NULL: nothing is stored and every fetch waiting on it gets NULL), may
 * change *ttl (initially the fetch's ttl), and returns RP_OK or a status
 * with err filled.  It may use the cache freely (other keys, invalidations)
 * but must not fetch its own key (that fetch fails with RP_EINVAL rather
 * than deadlock).  A callback that fetches a key whose computation in
 * another thread fetches this one deadlocks, as with any single-flight. */
typedef int (*rp_cache_compute_fn)(void *ud, const void *key, size_t klen, rp_cache_val **out,
                                   double *ttl, rp_err *err);

/* The value of key: from the cache on a hit; else the first fetch of the key
 * runs fn(ud, ...) and stores its value (ttl as in put), while concurrent
 * fetches of the same key wait for it and get the same value (counted as
 * `waits`, and fn runs once).  If fn fails, its status and message go to
 * its caller and, prefixed "(in a concurrent fetch of this key)", to every
 * fetch that was waiting on it; nothing is stored and the next fetch
 * computes again (errors are not cached).  A value fn returns that cannot
 * be stored (too big, no memory) is still returned.  On RP_OK *out is a new
 * reference owned by the caller, or NULL when fn gave no value.  Borrows
 * key and ud. */
int rp_cache_fetch(rp_cache *c, const void *key, size_t klen, double ttl, rp_cache_compute_fn fn,
                   void *ud, rp_cache_val **out, rp_err *err);

/* Removes the entry of key (returns 1) if there is one (else 0) and stops a
 * fetch of key in progress from storing its value.  Never fails. */
size_t rp_cache_invalidate(rp_cache *c, const void *key, size_t klen);
/* Removes every entry whose key starts with prefix[0..plen) (plen 0: all)
 * and stops matching fetches in progress from storing; returns how many
 * entries went.  O(shards * log n + removed); never fails. */
size_t rp_cache_invalidate_prefix(rp_cache *c, const void *prefix, size_t plen);

typedef struct rp_cache_stats {
  uint64_t hits, misses;   /* lookups by get and fetch */
  uint64_t inserts;        /* entries created by put/fetch */
  uint64_t updates;        /* puts that replaced the value of an existing entry */
  uint64_t evictions;      /* entries dropped for capacity (LRU) */
  uint64_t expirations;    /* entries dropped past their TTL */
  uint64_t invalidations;  /* entries dropped by rp_cache_invalidate* */
  uint64_t rejected;       /* values not stored: too big for a shard, or no memory */
  uint64_t computations;   /* fetch callbacks run */
  uint64_t waits;          /* fetches that waited for another's computation */
  uint64_t compute_errors; /* fetch callbacks that failed */
  int64_t entries, bytes;  /* now; entries = inserts - evictions - expirations - invalidations */
  int64_t capacity, capacity_bytes;
  double ttl;
  int32_t shards;
} rp_cache_stats;

/* The counters of rp_cache_stats, for code that lists them all (the Lua
 * binding's stats(), a /metrics page): X(name) for each. */
/* clang-format off */
#define RP_CACHE_COUNTERS(X) \
  X(hits) X(misses) X(inserts) X(updates) X(evictions) X(expirations) \
  X(invalidations) X(rejected) X(computations) X(waits) X(compute_errors)
/* clang-format on */

/* Fills s with the counters summed over the shards (each shard read under
 * its lock; the sum is not one atomic snapshot while other threads work). */
void rp_cache_stats_read(rp_cache *c, rp_cache_stats *s);

/* Test hook: moves this cache's clock forward by seconds (> 0), so TTL
 * tests need not sleep.  Thread-safe. */
void rp_cache_advance(rp_cache *c, double seconds);

/* ---- caches shared by name (one per process) --------------------------------------
 * The way several Lua states (the server's workers) and C code share one
 * cache: all who ask for the same name get the same cache. */

/* The process-wide cache called name (1..64 bytes), created with o on the
 * first call.  Later calls return the same cache; when they give o (not
 * NULL) it must ask for the same capacity, capacity_bytes, ttl and shards,
 * else RP_EINVAL says what differs.  Returns a new reference owned by the
 * caller (the registry keeps its own until rp_cache_shared_reset), or NULL
 * with err set.  Borrows name and o. */
rp_cache *rp_cache_shared(const char *name, const rp_cache_opts *o, rp_err *err);
/* Drops the registry's references (a cache still referenced elsewhere lives
 * on, unnamed); the next rp_cache_shared of a name creates it afresh.  For
 * tests and shutdown. */
void rp_cache_shared_reset(void);

#endif
