/*
 * cache_opts.c -- rp.cache's options: names, defaults and ranges, once
 * (cache.h lists them); sizes with units ("64MB") are parsed here.
 */
#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cache.h"

#define CAP_MAX (1LL << 40)   /* entries */
#define BYTES_MAX (1LL << 50) /* bytes */
#define TTL_MAX 1e9           /* seconds (about 31 years) */
#define SHARDS_MAX 1024

enum { GIVEN_CAPACITY = 1, GIVEN_BYTES = 2 };

const char *const rp_cache_opt_names[] = {"capacity", "capacity_bytes", "ttl", "shards", NULL};

void rp_cache_opts_init(rp_cache_opts *o) {
  memset(o, 0, sizeof *o);
  o->capacity = 10000;
  o->capacity_bytes = 0;
  o->ttl = 0;
  o->shards = 16;
}

static int bad(rp_err *err, const char *name, const char *what, double v) {
  return rp_errf(err, RP_EINVAL, "option '%s' must be %s, got %.17g", name, what, v);
}

static int set_capacity_bytes(rp_cache_opts *o, const char *name, double v, rp_err *err) {
  if (!(v >= 0 && v <= (double)BYTES_MAX && v == floor(v)))
    return bad(err, name, "a whole number of bytes in 0..2^50", v);
  if (o->given & GIVEN_BYTES)
    return rp_errf(err, RP_EINVAL,
                   "option '%s': the byte capacity is given twice (capacity = \"<size>\" and "
                   "capacity_bytes are the same option)",
                   name);
  o->capacity_bytes = (int64_t)v;
  o->given |= GIVEN_BYTES;
  if (!(o->given & GIVEN_CAPACITY)) o->capacity = 0; /* bytes alone: no entry limit */
  return RP_OK;
}

static int unknown(const char *name, rp_err *err) {
  char known[128] = "";
  for (int i = 0; rp_cache_opt_names[i]; i++) {
    if (i) strcat(known, ", ");
    strcat(known, rp_cache_opt_names[i]);
  }
  return rp_errf(err, RP_EINVAL, "unknown option '%s' (known: %s)", name, known);
}

static int known(const char *name) {
  for (int i = 0; rp_cache_opt_names[i]; i++)
    if (strcmp(name, rp_cache_opt_names[i]) == 0) return 1;
  return 0;
}

int rp_cache_opts_bad_type(const char *name, const char *got, rp_err *err) {
  if (!known(name)) return unknown(name, err);
  int size = strncmp(name, "capacity", 8) == 0;
  return rp_errf(err, RP_EINVAL, "option '%s' must be a number%s, got %s", name,
                 size ? " or a size such as \"64MB\"" : "", got);
}

int rp_cache_opts_set_number(rp_cache_opts *o, const char *name, double v, rp_err *err) {
  if (strcmp(name, "capacity") == 0) {
    if (!(v >= 0 && v <= (double)CAP_MAX && v == floor(v)))
      return bad(err, name, "a whole number of entries in 0..2^40 (or a size such as \"64MB\")", v);
    o->capacity = (int64_t)v;
    o->given |= GIVEN_CAPACITY;
    return RP_OK;
  }
  if (strcmp(name, "capacity_bytes") == 0) return set_capacity_bytes(o, name, v, err);
  if (strcmp(name, "ttl") == 0) {
    if (!(v >= 0 && v <= TTL_MAX))
      return bad(err, name, "seconds in [0, 1e9] (0: never expire)", v);
    o->ttl = v;
    return RP_OK;
  }
  if (strcmp(name, "shards") == 0) {
    if (!(v >= 1 && v <= SHARDS_MAX && v == floor(v)))
      return bad(err, name, "an integer in 1..1024", v);
    o->shards = (int32_t)v;
    return RP_OK;
  }
  return unknown(name, err);
}

/* "64MB", "1.5 GiB", "512k", "100": bytes (units are powers of 1024);
 * -1 when s is not such a size. */
static double parse_size(const char *s) {
  while (isspace((unsigned char)*s)) s++;
  if (!isdigit((unsigned char)*s) && *s != '.') return -1;
  char *end;
  double v = strtod(s, &end);
  if (end == s || !isfinite(v) || v < 0) return -1;
  while (isspace((unsigned char)*end)) end++;
  static const char units[] = "bkmgt";
  double mult = 1;
  const char *u = *end ? strchr(units, tolower((unsigned char)*end)) : NULL;
  if (*end && !u) return -1;
  if (u) {
    for (const char *p = units; p < u; p++) mult *= 1024;
    end++;
    /* after k/m/g/t: nothing, "b", "ib" */
    if (*u != 'b') {
      if (tolower((unsigned char)*end) == 'i' && tolower((unsigned char)end[1]) == 'b')
        end += 2;
      else if (tolower((unsigned char)*end) == 'b')
        end++;
    }
  }
  while (isspace((unsigned char)*end)) end++;
  if (*end) return -1;
  return floor(v * mult);
}

int rp_cache_opts_set_string(rp_cache_opts *o, const char *name, const char *s, rp_err *err) {
  int bytes = strcmp(name, "capacity_bytes") == 0;
  if (bytes || strcmp(name, "capacity") == 0) {
    double v = parse_size(s);
    int has_unit = strpbrk(s, "bBkKmMgGtT") != NULL;
    if (v < 0 || (!bytes && !has_unit))
      return rp_errf(err, RP_EINVAL, "option '%s' must be %s, got '%.100s'", name,
                     bytes ? "a size such as 65536, \"512KB\" or \"64MB\""
                           : "a number of entries, or a size with a unit such as \"64MB\"",
                     s);
    return set_capacity_bytes(o, name, v, err);
  }
  if (!known(name)) return unknown(name, err);
  return rp_errf(err, RP_EINVAL, "option '%s' must be a number, got '%.100s'", name, s);
}

int rp_cache_opts_check(const rp_cache_opts *o, rp_err *err) {
  if (o->capacity < 0 || o->capacity > CAP_MAX)
    return bad(err, "capacity", "a whole number of entries in 0..2^40", (double)o->capacity);
  if (o->capacity_bytes < 0 || o->capacity_bytes > BYTES_MAX)
    return bad(err, "capacity_bytes", "a whole number of bytes in 0..2^50",
               (double)o->capacity_bytes);
  if (o->capacity == 0 && o->capacity_bytes == 0)
    return rp_errf(err, RP_EINVAL,
                   "option 'capacity' is 0 and no 'capacity_bytes' is set: a cache needs a "
                   "limit (entries, bytes or both)");
  if (!(o->ttl >= 0 && o->ttl <= TTL_MAX))
    return bad(err, "ttl", "seconds in [0, 1e9] (0: never expire)", o->ttl);
  if (o->shards < 1 || o->shards > SHARDS_MAX)
    return bad(err, "shards", "an integer in 1..1024", (double)o->shards);
  return RP_OK;
}
