/*
 * opts.h -- option descriptors: the one place an option of a core function
 * is named, typed, defaulted and range-checked.
 *
 * A core that takes an options struct describes its fields in a table of
 * rp_optdesc (terminated by an entry with name NULL).  The core's
 * initialiser (rp_opts_init) and checker (rp_opts_check) read the table,
 * and so does the Lua binding (rpL_readopts in runtime/rpl.h: unknown keys,
 * types and ranges, with messages naming the argument and the field) and
 * the tables each module exports to Lua (rp.als.options(), ...), which the
 * Lua parts use instead of copies of key lists and defaults.
 *
 * Options a binding reads itself (a Matrix, a callback, a list of columns)
 * are listed with type RP_OPT_OTHER and no field: they are known keys, with
 * a description of what they take, but the binding converts them.
 */
#ifndef RP_OPTS_H
#define RP_OPTS_H

#include <stddef.h>
#include <stdint.h>

#include "rp.h"

typedef enum {
  RP_OPT_INT,   /* a signed integer field of `size` bytes (4 or 8) */
  RP_OPT_SEED,  /* a uint64_t taking any integer (a seed) */
  RP_OPT_NUM,   /* a double (or, with size 4, a float) */
  RP_OPT_BOOL,  /* an int, 0 or 1 */
  RP_OPT_ENUM,  /* an int: the index of the name in names */
  RP_OPT_STR,   /* a const char * (borrowed from the caller) */
  RP_OPT_OTHER, /* read by the binding (no field); `what` says what it takes */
  RP_OPT_TIME,  /* an int64_t of Unix seconds; from Lua also ISO 8601 text */
} rp_opt_type;

enum {
  RP_OPT_LO_OPEN = 1,   /* the range excludes lo (> lo) */
  RP_OPT_NODEFAULT = 2, /* no default value to show (absent means "none") */
  RP_OPT_HI_OPEN = 4,   /* the range excludes hi (< hi) */
};

typedef struct rp_optdesc {
  const char *name; /* the option's key, NULL ends the table */
  rp_opt_type type;
  size_t offset;            /* of the field in the options struct */
  size_t size;              /* of the field (INT: 4 or 8, NUM: 4 or 8) */
  double def;               /* INT, SEED, NUM, BOOL, ENUM */
  const char *sdef;         /* STR default (NULL: absent) */
  double lo, hi;            /* INT, TIME and NUM: inclusive range (lo open with RP_OPT_LO_OPEN) */
  int flags;                /* RP_OPT_* */
  const char *const *names; /* ENUM: the names, NULL-terminated */
  const char *what;         /* OTHER: what the value is; others: a note on the range */
} rp_optdesc;

#define RP_OPTF_(st, f) offsetof(st, f), sizeof(((st *)0)->f)
#define RP_OPT_I(st, f, key, d, l, h) \
  { key, RP_OPT_INT, RP_OPTF_(st, f), d, NULL, l, h, 0, NULL, NULL }
#define RP_OPT_N(st, f, key, d, l, h, fl) \
  { key, RP_OPT_NUM, RP_OPTF_(st, f), d, NULL, l, h, fl, NULL, NULL }
/* a number with a note on its range */
#define RP_OPT_NW(st, f, key, d, l, h, fl, w) \
  { key, RP_OPT_NUM, RP_OPTF_(st, f), d, NULL, l, h, fl, NULL, w }
#define RP_OPT_B(st, f, key, d) \
  { key, RP_OPT_BOOL, RP_OPTF_(st, f), d, NULL, 0, 1, 0, NULL, NULL }
#define RP_OPT_E(st, f, key, d, nm) \
  { key, RP_OPT_ENUM, RP_OPTF_(st, f), d, NULL, 0, 0, 0, nm, NULL }
#define RP_OPT_S(st, f, key, d) \
  { key, RP_OPT_STR, RP_OPTF_(st, f), 0, d, 0, 0, 0, NULL, NULL }
#define RP_OPT_SEED_(st, f, key, d) \
  { key, RP_OPT_SEED, RP_OPTF_(st, f), d, NULL, 0, 0, 0, NULL, NULL }
#define RP_OPT_T(st, f, key, d, l, h) \
  { key, RP_OPT_TIME, RP_OPTF_(st, f), d, NULL, l, h, 0, NULL, NULL }
#define RP_OPT_X(key, w) \
  { key, RP_OPT_OTHER, 0, 0, 0, NULL, 0, 0, 0, NULL, w }
#define RP_OPT_END \
  { NULL, RP_OPT_OTHER, 0, 0, 0, NULL, 0, 0, 0, NULL, NULL }

/* Sets every described field of o to its default. */
void rp_opts_init(const rp_optdesc *d, void *o);
/* Checks every described field of o against its range or name table:
 * RP_OK, or RP_EINVAL with "name must be in 1..4096, got 5000". */
int rp_opts_check(const rp_optdesc *d, const void *o, rp_err *err);
/* The entry named name, or NULL. */
const rp_optdesc *rp_opts_find(const rp_optdesc *d, const char *name);
/* Is v inside d's range (INT and NUM; others: 1)? */
int rp_opt_inrange(const rp_optdesc *d, double v);
/* The range or the allowed values in words ("in 1..4096", "a number > 0",
 * "one of 'sum', 'max'"), into buf; returns buf. */
const char *rp_opt_expect(const rp_optdesc *d, char *buf, size_t size);
/* The index of name in a NULL-terminated names table, or -1. */
int rp_opt_enum_index(const char *const *names, const char *name);
/* The numeric value of a described field of o (INT, SEED, NUM, BOOL, ENUM). */
double rp_opt_get(const rp_optdesc *d, const void *o);
/* Stores v into the described field of o (INT, SEED, NUM, BOOL, ENUM). */
void rp_opt_set(const rp_optdesc *d, void *o, double v);
void rp_opt_set_int(const rp_optdesc *d, void *o, int64_t v);

#endif
