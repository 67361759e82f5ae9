/*
 * objcache.h -- a process-wide cache of read-only C objects loaded from
 * files, keyed by the file's identity.
 *
 * A server runs its serve script once in every worker's Lua state; each
 * script loads the same model and matrix files.  With the cache enabled
 * (rp_objcache_enable, done by `recpipe serve`), a loader (rp.als.load,
 * rp.sparse.load) first asks the cache for an object loaded from the same
 * file -- same path, device, inode, size and modification time, and the
 * same loader options -- and gets a new reference to it instead of a second
 * copy, so N workers hold one model.  A file replaced on disk (a new model
 * written to a temporary name and renamed into place) has a new identity:
 * the next load reads it, while the old object lives until its last user
 * lets go.  Objects given to the cache must be read-only from then on (their
 * id maps are frozen by the loaders).
 *
 * The cache holds one reference per entry; rp_objcache_sweep drops the
 * entries nobody else references any more (after a server has retired a
 * model), so memory returns to one copy.  All functions are thread safe.
 */
#ifndef RP_OBJCACHE_H
#define RP_OBJCACHE_H

#include <stdint.h>

#include "rp.h"

/* How the cache keeps an object of one kind alive. */
typedef struct rp_objtype {
  const char *name;             /* "als model", "matrix" */
  void (*retain)(void *obj);    /* adds a reference */
  void (*release)(void *obj);   /* drops one (frees at the last) */
  int (*only_owner)(void *obj); /* 1 when the caller's reference is the only one */
} rp_objtype;

/* Turns the cache on or off (off: get finds nothing, put keeps nothing;
 * turning it off drops every entry). */
void rp_objcache_enable(int on);
int rp_objcache_enabled(void);

/* The identity of the file at path, for a loader's get/put pair (stat;
 * 0 when the file cannot be stat'ed: then nothing is cached). */
typedef struct rp_fileid {
  uint64_t dev, ino, size, mtime_ns;
  int ok;
} rp_fileid;
rp_fileid rp_fileid_of(const char *path);

/* A new reference to the object of type t loaded from the file with
 * identity id at path with options variant ("" for none), or NULL. */
void *rp_objcache_get(const rp_objtype *t, const char *path, rp_fileid id, const char *variant);
/* Keeps a reference to obj for later gets (does nothing when disabled,
 * when id is not ok or when the file changed during the load: pass the
 * identity taken before loading).  Returns RP_OK or RP_ENOMEM. */
int rp_objcache_put(const rp_objtype *t, const char *path, rp_fileid id, const char *variant,
                    void *obj, rp_err *err);
/* Drops the entries whose object only the cache still references; returns
 * how many were dropped. */
int rp_objcache_sweep(void);
/* Number of entries. */
int rp_objcache_count(void);

/* A running hash of the identities of every file a get asked for since
 * the last reset (the files a serve script loaded: a model version that
 * changes when any of them changes). */
void rp_objcache_trace_reset(void);
uint64_t rp_objcache_trace(void);
/* Mixes a file's identity into the trace (a script's own file). */
void rp_objcache_trace_file(const char *path, rp_fileid id);

#endif
