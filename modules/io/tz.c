/*
 * tz.c -- IANA time zones from TZif files (RFC 8536) and POSIX TZ rules.
 * See tz.h.
 */
#include "tz.h"

#include "iotext.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* a date of a POSIX rule: Jn (1..365, February 29 never counted), n
 * (0..365) or Mm.w.d (day d of week w of month m; w = 5: the last), at
 * `secs` local time */
typedef struct rule_date {
  char kind; /* 'J', 'N', 'M' */
  int m, w, d, n;
  int32_t secs;
} rule_date;

typedef struct posix_rule {
  int32_t std_off, dst_off; /* seconds east of UTC */
  int has_dst;
  rule_date start, end;
} posix_rule;

struct rp_io_tz {
  int32_t ntrans, ntypes;
  int64_t *trans; /* transition times, ascending */
  uint8_t *idx;   /* the type from each transition on */
  int32_t *utoff; /* per type */
  int has_rule;   /* after the last transition (or always): the footer */
  posix_rule rule;
};

void rp_io_tz_free(rp_io_tz *tz) {
  if (!tz) return;
  rp_free(tz->trans);
  rp_free(tz->idx);
  rp_free(tz->utoff);
  rp_free(tz);
}

/* ---- civil dates ------------------------------------------------------------ */
/* the year of day z since 1970-01-01 (rp_civil_from_days, iotext.h) */
static int64_t year_of_days(int64_t z) {
  int64_t y;
  int m, d;
  rp_civil_from_days(z, &y, &m, &d);
  return y;
}

static int is_leap(int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

static int64_t floor_div(int64_t a, int64_t b) {
  return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

/* Unix time of rule date rd in year y, its local time read with offset off */
static int64_t rule_time(int64_t y, const rule_date *rd, int32_t off) {
  int64_t day;
  if (rd->kind == 'J') {
    day = rp_days_from_civil(y, 1, 1) + rd->n - 1 + (is_leap(y) && rd->n >= 60);
  } else if (rd->kind == 'N') {
    day = rp_days_from_civil(y, 1, 1) + rd->n;
  } else {
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int64_t first = rp_days_from_civil(y, rd->m, 1);
    int wday1 = (int)(((first + 4) % 7 + 7) % 7); /* 1970-01-01 was a Thursday */
    int dd = 1 + (rd->d - wday1 + 7) % 7 + (rd->w - 1) * 7;
    int len = mdays[rd->m - 1] + (rd->m == 2 && is_leap(y));
    while (dd > len) dd -= 7;
    day = first + dd - 1;
  }
  return day * 86400 + rd->secs - off;
}

static int32_t rule_offset(const posix_rule *r, int64_t t) {
  if (!r->has_dst) return r->std_off;
  int64_t y = year_of_days(floor_div(t + r->std_off, 86400));
  int64_t s = rule_time(y, &r->start, r->std_off), e = rule_time(y, &r->end, r->dst_off);
  int dst = s < e ? (t >= s && t < e) : !(t >= e && t < s);
  return dst ? r->dst_off : r->std_off;
}

/* ---- POSIX TZ strings ------------------------------------------------------- */
static int parse_name(const char **p) {
  const char *s = *p;
  if (*s == '<') {
    const char *e = strchr(s, '>');
    if (!e || e == s + 1) return 0;
    *p = e + 1;
    return 1;
  }
  while (isalpha((unsigned char)**p)) (*p)++;
  return *p - s >= 1;
}

/* [+-]hh[:mm[:ss]] -> seconds (hours up to 167) */
static int parse_hms(const char **p, int32_t *out) {
  const char *s = *p;
  int sign = 1;
  if (*s == '+' || *s == '-') sign = *s++ == '-' ? -1 : 1;
  if (!isdigit((unsigned char)*s)) return 0;
  long v[3] = {0, 0, 0};
  for (int k = 0; k < 3; k++) {
    if (k > 0) {
      if (*s != ':') break;
      s++;
    }
    if (!isdigit((unsigned char)*s)) return 0;
    char *e;
    v[k] = strtol(s, &e, 10);
    if (e - s > 3 || v[k] > (k ? 59 : 167)) return 0;
    s = e;
  }
  *out = (int32_t)(sign * (v[0] * 3600 + v[1] * 60 + v[2]));
  *p = s;
  return 1;
}

static int parse_date(const char **p, rule_date *rd) {
  const char *s = *p;
  char *e;
  rd->secs = 7200; /* 02:00 */
  if (*s == 'M') {
    rd->kind = 'M';
    rd->m = (int)strtol(s + 1, &e, 10);
    if (e == s + 1 || *e != '.' || rd->m < 1 || rd->m > 12) return 0;
    s = e + 1;
    rd->w = (int)strtol(s, &e, 10);
    if (e == s || *e != '.' || rd->w < 1 || rd->w > 5) return 0;
    s = e + 1;
    rd->d = (int)strtol(s, &e, 10);
    if (e == s || rd->d < 0 || rd->d > 6) return 0;
  } else {
    rd->kind = *s == 'J' ? 'J' : 'N';
    if (*s == 'J') s++;
    if (!isdigit((unsigned char)*s)) return 0;
    rd->n = (int)strtol(s, &e, 10);
    if (rd->n < (rd->kind == 'J') || rd->n > 365) return 0;
  }
  s = e;
  if (*s == '/' && (s++, !parse_hms(&s, &rd->secs))) return 0;
  *p = s;
  return 1;
}

static int parse_posix(const char *s, posix_rule *r) {
  memset(r, 0, sizeof *r);
  int32_t off;
  if (!parse_name(&s) || !parse_hms(&s, &off)) return 0;
  r->std_off = -off; /* POSIX counts west of Greenwich as positive */
  if (!*s) return 1;
  if (!parse_name(&s)) return 0;
  r->has_dst = 1;
  r->dst_off = r->std_off + 3600;
  if (*s && *s != ',') {
    if (!parse_hms(&s, &off)) return 0;
    r->dst_off = -off;
  }
  if (!*s) { /* no rule: the US rule, as glibc assumes */
    r->start = (rule_date){'M', 3, 2, 0, 0, 7200};
    r->end = (rule_date){'M', 11, 1, 0, 0, 7200};
    return 1;
  }
  if (*s++ != ',' || !parse_date(&s, &r->start) || *s++ != ',' || !parse_date(&s, &r->end))
    return 0;
  return *s == 0;
}

rp_io_tz *rp_io_tz_posix(const char *rule, rp_err *err) {
  rp_io_tz *tz = rp_calloc(1, sizeof *tz);
  if (!tz) return rp_enomem(err, "time zone"), NULL;
  if (!parse_posix(rule, &tz->rule)) {
    rp_io_tz_free(tz);
    return rp_errf(err, RP_EINVAL, "bad POSIX TZ rule '%s'", rule), NULL;
  }
  tz->has_rule = 1;
  return tz;
}

/* ---- TZif ---------------------------------------------------------------------- */
static uint32_t be32(const unsigned char *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static int64_t be64(const unsigned char *p) {
  return (int64_t)((uint64_t)be32(p) << 32 | be32(p + 4));
}

/* the TZif data block at p (n bytes left; 4- or 8-byte times) into tz;
 * returns the block's size, 0 when malformed */
static size_t read_block(rp_io_tz *tz, const unsigned char *p, size_t n, int wide, rp_err *err,
                         int *nomem) {
  if (n < 44 || memcmp(p, "TZif", 4) != 0) return 0;
  uint32_t isut = be32(p + 20), isstd = be32(p + 24), leap = be32(p + 28), tc = be32(p + 32),
           ty = be32(p + 36), ch = be32(p + 40);
  if (tc > 100000 || ty == 0 || ty > 256 || ch > 100000 || leap > 100000 || isut > 256 ||
      isstd > 256)
    return 0;
  size_t ts = wide ? 8 : 4;
  size_t size = 44 + tc * ts + tc + ty * 6 + ch + leap * (ts + 4) + isstd + isut;
  if (size > n) return 0;
  tz->ntrans = (int32_t)tc, tz->ntypes = (int32_t)ty;
  tz->trans = rp_malloc(sizeof(int64_t) * (tc ? tc : 1));
  tz->idx = rp_malloc(tc ? tc : 1);
  tz->utoff = rp_malloc(sizeof(int32_t) * ty);
  if (!tz->trans || !tz->idx || !tz->utoff) {
    *nomem = 1;
    rp_enomem(err, "time zone");
    return 0;
  }
  const unsigned char *q = p + 44;
  for (uint32_t k = 0; k < tc; k++, q += ts) tz->trans[k] = wide ? be64(q) : (int32_t)be32(q);
  for (uint32_t k = 0; k < tc; k++) {
    tz->idx[k] = *q++;
    if (tz->idx[k] >= ty) return 0;
  }
  for (uint32_t k = 0; k < ty; k++, q += 6) tz->utoff[k] = (int32_t)be32(q);
  for (uint32_t k = 1; k < tc; k++)
    if (tz->trans[k] <= tz->trans[k - 1]) return 0;
  return size;
}

static int valid_name(const char *name) {
  if (!*name || name[0] == '/' || strlen(name) > 200) return 0;
  for (const char *s = name; *s; s++) {
    if (!(isalnum((unsigned char)*s) || strchr("/_-+", *s))) return 0;
    if (s[0] == '.' || (s[0] == '/' && s[1] == '/')) return 0;
  }
  return 1;
}

rp_io_tz *rp_io_tz_load(const char *name, rp_err *err) {
  if (!name || !*name || strcmp(name, "UTC") == 0) return rp_io_tz_posix("UTC0", err);
  if (!valid_name(name))
    return rp_errf(err, RP_EINVAL, "bad time zone name '%s' (an IANA name: Europe/Berlin)", name),
           NULL;
  const char *dir = getenv("TZDIR");
  char path[512];
  snprintf(path, sizeof path, "%s/%s", dir && *dir ? dir : "/usr/share/zoneinfo", name);
  FILE *f = fopen(path, "rb");
  if (!f)
    return rp_errf(err, RP_EIO,
                   "unknown time zone '%s' (cannot open %s: %s; the tz database is Debian's "
                   "tzdata package: make deps)",
                   name, path, strerror(errno)),
           NULL;
  unsigned char *buf = rp_malloc(1 << 20);
  size_t n = buf ? fread(buf, 1, 1 << 20, f) : 0;
  fclose(f);
  rp_io_tz *tz = buf ? rp_calloc(1, sizeof *tz) : NULL;
  if (!buf || !tz) {
    rp_free(buf);
    rp_free(tz);
    return rp_enomem(err, "time zone"), NULL;
  }
  int nomem = 0;
  size_t v1 = read_block(tz, buf, n, 0, err, &nomem);
  int ok = v1 > 0;
  if (ok && buf[4] >= '2') { /* version 2+: the 64-bit block and the footer follow */
    rp_free(tz->trans), rp_free(tz->idx), rp_free(tz->utoff);
    tz->trans = NULL, tz->idx = NULL, tz->utoff = NULL;
    size_t v2 = read_block(tz, buf + v1, n - v1, 1, err, &nomem);
    ok = v2 > 0;
    const char *foot = (const char *)buf + v1 + v2;
    const char *end = (const char *)buf + n;
    if (ok && foot < end && *foot == '\n') {
      const char *nl = memchr(foot + 1, '\n', (size_t)(end - foot - 1));
      if (nl && nl > foot + 1) {
        char rule[128];
        snprintf(rule, sizeof rule, "%.*s", (int)(nl - foot - 1), foot + 1);
        ok = parse_posix(rule, &tz->rule);
        tz->has_rule = ok;
      }
    }
  }
  rp_free(buf);
  if (!ok) {
    rp_io_tz_free(tz);
    if (nomem) return NULL;
    return rp_errf(err, RP_EPARSE, "%s: not a valid TZif file (time zone '%s')", path, name), NULL;
  }
  return tz;
}

int32_t rp_io_tz_offset(const rp_io_tz *tz, int64_t t) {
  if (!tz) return 0;
  if (tz->ntrans == 0 || t >= tz->trans[tz->ntrans - 1]) {
    if (tz->has_rule) return rule_offset(&tz->rule, t);
    if (tz->ntrans == 0) return tz->ntypes ? tz->utoff[0] : 0;
    return tz->utoff[tz->idx[tz->ntrans - 1]];
  }
  if (t < tz->trans[0]) return tz->utoff[0];
  int32_t lo = 0, hi = tz->ntrans - 1; /* trans[lo] <= t < trans[hi] */
  while (hi - lo > 1) {
    int32_t mid = lo + (hi - lo) / 2;
    if (tz->trans[mid] <= t)
      lo = mid;
    else
      hi = mid;
  }
  return tz->utoff[tz->idx[lo]];
}
