/*
 * opts.c -- option descriptors (opts.h): defaults, checks and the words
 * messages use, for the cores and the bindings alike.
 */
#include "opts.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static void *field(const rp_optdesc *d, void *o) { return (char *)o + d->offset; }
static const void *cfield(const rp_optdesc *d, const void *o) {
  return (const char *)o + d->offset;
}

void rp_opt_set_int(const rp_optdesc *d, void *o, int64_t v) {
  void *p = field(d, o);
  switch (d->type) {
    case RP_OPT_INT:
      if (d->size == 8)
        *(int64_t *)p = v;
      else
        *(int32_t *)p = (int32_t)v;
      break;
    case RP_OPT_TIME:
      *(int64_t *)p = v;
      break;
    case RP_OPT_SEED:
      *(uint64_t *)p = (uint64_t)v;
      break;
    case RP_OPT_BOOL:
    case RP_OPT_ENUM:
      *(int *)p = (int)v;
      break;
    case RP_OPT_NUM:
      rp_opt_set(d, o, (double)v);
      break;
    default:
      break;
  }
}

void rp_opt_set(const rp_optdesc *d, void *o, double v) {
  if (d->type == RP_OPT_NUM) {
    if (d->size == 4)
      *(float *)field(d, o) = (float)v;
    else
      *(double *)field(d, o) = v;
  } else if (d->type != RP_OPT_STR && d->type != RP_OPT_OTHER) {
    rp_opt_set_int(d, o, (int64_t)v);
  }
}

double rp_opt_get(const rp_optdesc *d, const void *o) {
  const void *p = cfield(d, o);
  switch (d->type) {
    case RP_OPT_INT:
      return d->size == 8 ? (double)*(const int64_t *)p : *(const int32_t *)p;
    case RP_OPT_TIME:
      return (double)*(const int64_t *)p;
    case RP_OPT_SEED:
      return (double)*(const uint64_t *)p;
    case RP_OPT_NUM:
      return d->size == 4 ? (double)*(const float *)p : *(const double *)p;
    case RP_OPT_BOOL:
    case RP_OPT_ENUM:
      return *(const int *)p;
    default:
      return 0;
  }
}

void rp_opts_init(const rp_optdesc *d, void *o) {
  for (; d->name; d++) {
    if (d->type == RP_OPT_STR)
      *(const char **)field(d, o) = d->sdef;
    else if (d->type != RP_OPT_OTHER)
      rp_opt_set(d, o, d->def);
  }
}

int rp_opt_enum_index(const char *const *names, const char *name) {
  for (int i = 0; names && names[i]; i++)
    if (strcmp(names[i], name) == 0) return i;
  return -1;
}

const rp_optdesc *rp_opts_find(const rp_optdesc *d, const char *name) {
  for (; d->name; d++)
    if (strcmp(d->name, name) == 0) return d;
  return NULL;
}

int rp_opt_inrange(const rp_optdesc *d, double v) {
  if (d->type != RP_OPT_INT && d->type != RP_OPT_NUM && d->type != RP_OPT_TIME) return 1;
  if (isnan(v)) return 0;
  if (d->type == RP_OPT_NUM && !isfinite(v)) return 0;
  if (d->flags & RP_OPT_LO_OPEN ? !(v > d->lo) : !(v >= d->lo)) return 0;
  return d->flags & RP_OPT_HI_OPEN ? v < d->hi : v <= d->hi;
}

/* %g, or a whole number without exponent */
static void num(char *buf, size_t size, double v) {
  if (v == floor(v) && fabs(v) < 1e15)
    snprintf(buf, size, "%.0f", v);
  else
    snprintf(buf, size, "%g", v);
}

const char *rp_opt_expect(const rp_optdesc *d, char *buf, size_t size) {
  char lo[32], hi[32];
  num(lo, sizeof lo, d->lo);
  num(hi, sizeof hi, d->hi);
  int open = d->flags & RP_OPT_LO_OPEN;
  int nohi = !isfinite(d->hi) || (d->type == RP_OPT_INT && d->hi >= 9e18);
  switch (d->type) {
    case RP_OPT_INT:
      if (nohi)
        snprintf(buf, size, "an integer >= %s", lo);
      else
        snprintf(buf, size, "an integer in %s..%s", lo, hi);
      break;
    case RP_OPT_NUM:
      if (nohi && !isfinite(d->lo))
        snprintf(buf, size, "a finite number");
      else if (nohi)
        snprintf(buf, size, "a finite number %s %s", open ? ">" : ">=", lo);
      else
        snprintf(buf, size, "a number in %s%s, %s%s", open ? "(" : "[", lo, hi,
                 d->flags & RP_OPT_HI_OPEN ? ")" : "]");
      break;
    case RP_OPT_ENUM: {
      size_t n = (size_t)snprintf(buf, size, "one of ");
      for (int i = 0; d->names[i] && n < size; i++)
        n += (size_t)snprintf(buf + n, size - n, "%s'%s'", i ? ", " : "", d->names[i]);
      break;
    }
    case RP_OPT_BOOL:
      snprintf(buf, size, "a boolean");
      break;
    case RP_OPT_SEED:
      snprintf(buf, size, "an integer");
      break;
    case RP_OPT_STR:
      snprintf(buf, size, "a string");
      break;
    case RP_OPT_TIME:
      snprintf(buf, size, "Unix seconds or an ISO 8601 date");
      break;
    default:
      snprintf(buf, size, "%s", d->what ? d->what : "a value");
      return buf;
  }
  size_t n = strlen(buf);
  if (d->what && n < size) snprintf(buf + n, size - n, " (%s)", d->what);
  return buf;
}

int rp_opts_check(const rp_optdesc *d, const void *o, rp_err *err) {
  char want[256], got[32];
  for (; d->name; d++) {
    double v = rp_opt_get(d, o);
    int ok;
    if ((d->flags & RP_OPT_NODEFAULT) && v == d->def) continue; /* absent */
    switch (d->type) {
      case RP_OPT_INT:
      case RP_OPT_NUM:
      case RP_OPT_TIME:
        ok = rp_opt_inrange(d, v);
        break;
      case RP_OPT_BOOL:
        ok = v == 0 || v == 1;
        break;
      case RP_OPT_ENUM: {
        int n = 0;
        while (d->names[n]) n++;
        ok = v >= 0 && v < n;
        break;
      }
      default:
        ok = 1;
    }
    if (!ok) {
      num(got, sizeof got, v);
      return rp_errf(err, RP_EINVAL, "%s must be %s, got %s", d->name,
                     rp_opt_expect(d, want, sizeof want), got);
    }
  }
  return RP_OK;
}
