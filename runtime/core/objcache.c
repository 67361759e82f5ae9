/*
 * objcache.c -- the process-wide cache of objects loaded from files; see
 * objcache.h.  A short list under one mutex: it holds a handful of entries
 * (the files of one or two models) and is only touched while loading.
 */
#include "objcache.h"

#include <pthread.h>
#include <string.h>
#include <sys/stat.h>

typedef struct entry {
  const rp_objtype *type;
  char *path, *variant;
  rp_fileid id;
  void *obj;
  struct entry *next;
} entry;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static entry *head;
static int enabled;
static uint64_t trace;

rp_fileid rp_fileid_of(const char *path) {
  rp_fileid id = {0, 0, 0, 0, 0};
  struct stat st;
  if (!path || stat(path, &st) != 0 || !S_ISREG(st.st_mode)) return id;
  id.dev = (uint64_t)st.st_dev;
  id.ino = (uint64_t)st.st_ino;
  id.size = (uint64_t)st.st_size;
  id.mtime_ns = (uint64_t)st.st_mtim.tv_sec * 1000000000u + (uint64_t)st.st_mtim.tv_nsec;
  id.ok = 1;
  return id;
}

static int same_id(rp_fileid a, rp_fileid b) {
  return a.ok && b.ok && a.dev == b.dev && a.ino == b.ino && a.size == b.size &&
         a.mtime_ns == b.mtime_ns;
}

static void drop(entry *e) {
  e->type->release(e->obj);
  rp_free(e->path);
  rp_free(e->variant);
  rp_free(e);
}

void rp_objcache_enable(int on) {
  pthread_mutex_lock(&lock);
  enabled = on;
  if (!on) {
    while (head) {
      entry *e = head;
      head = e->next;
      drop(e);
    }
  }
  pthread_mutex_unlock(&lock);
}

int rp_objcache_enabled(void) {
  pthread_mutex_lock(&lock);
  int on = enabled;
  pthread_mutex_unlock(&lock);
  return on;
}

static void mix_id(const char *path, rp_fileid id) {
  uint64_t h = trace ^ 0x9e3779b97f4a7c15ULL;
  for (const char *p = path; *p; p++) h = (h ^ (unsigned char)*p) * 0x100000001b3ULL;
  h = rp_hash64(h ^ id.dev) ^ rp_hash64(id.ino + 1);
  h = rp_hash64(h ^ id.size) ^ rp_hash64(id.mtime_ns + 2);
  trace = h;
}

void rp_objcache_trace_reset(void) {
  pthread_mutex_lock(&lock);
  trace = 0;
  pthread_mutex_unlock(&lock);
}

uint64_t rp_objcache_trace(void) {
  pthread_mutex_lock(&lock);
  uint64_t t = trace;
  pthread_mutex_unlock(&lock);
  return t;
}

void rp_objcache_trace_file(const char *path, rp_fileid id) {
  pthread_mutex_lock(&lock);
  mix_id(path, id);
  pthread_mutex_unlock(&lock);
}

void *rp_objcache_get(const rp_objtype *t, const char *path, rp_fileid id, const char *variant) {
  void *obj = NULL;
  pthread_mutex_lock(&lock);
  if (enabled && id.ok) {
    mix_id(path, id);
    for (entry *e = head; e; e = e->next) {
      if (e->type == t && same_id(e->id, id) && strcmp(e->path, path) == 0 &&
          strcmp(e->variant, variant) == 0) {
        t->retain(e->obj);
        obj = e->obj;
        break;
      }
    }
  }
  pthread_mutex_unlock(&lock);
  return obj;
}

int rp_objcache_put(const rp_objtype *t, const char *path, rp_fileid id, const char *variant,
                    void *obj, rp_err *err) {
  if (!id.ok || !same_id(id, rp_fileid_of(path))) return RP_OK; /* changed while loading */
  entry *e = rp_calloc(1, sizeof *e);
  if (e) e->path = rp_strdup(path), e->variant = rp_strdup(variant);
  if (!e || !e->path || !e->variant) {
    if (e) rp_free(e->path), rp_free(e->variant);
    rp_free(e);
    return rp_enomem(err, "object cache");
  }
  e->type = t;
  e->id = id;
  e->obj = obj;
  pthread_mutex_lock(&lock);
  if (!enabled) {
    pthread_mutex_unlock(&lock);
    rp_free(e->path);
    rp_free(e->variant);
    rp_free(e);
    return RP_OK;
  }
  t->retain(obj);
  e->next = head;
  head = e;
  pthread_mutex_unlock(&lock);
  return RP_OK;
}

int rp_objcache_sweep(void) {
  int n = 0;
  pthread_mutex_lock(&lock);
  for (entry **p = &head; *p;) {
    entry *e = *p;
    if (e->type->only_owner(e->obj)) {
      *p = e->next;
      drop(e);
      n++;
    } else {
      p = &e->next;
    }
  }
  pthread_mutex_unlock(&lock);
  return n;
}

int rp_objcache_count(void) {
  int n = 0;
  pthread_mutex_lock(&lock);
  for (entry *e = head; e; e = e->next) n++;
  pthread_mutex_unlock(&lock);
  return n;
}
