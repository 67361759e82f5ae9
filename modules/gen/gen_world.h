/*
 * gen_world.h -- the hidden world behind a generated log (internal to the
 * gen module): clusters, items, users, the sampling tables and the drift.
 */
#ifndef RP_GEN_WORLD_H
#define RP_GEN_WORLD_H

#include "gen.h"
#include "rio.h"

/* rp_rng streams: one purpose tag per kind of draw, so adding a draw of one
 * kind never shifts the values of another. */
enum {
  GEN_S_WORLD = 1, /* cluster sizes, drift waves, popularity ranking */
  GEN_S_ITEM,      /* per item: cluster, release, attributes */
  GEN_S_USER,      /* per user: clusters, activity, join, attributes */
  GEN_S_TIMES,     /* per user: session start times */
  GEN_S_PLAN,      /* per session: views, carts, purchases */
  GEN_S_FILL,      /* per session: items, gaps, device, country */
  GEN_S_VOCAB,     /* cluster brands, words, categories */
  GEN_S_SHIFT      /* the taste shift: tilt, re-ranked items, users' new clusters */
};
void gen_rng(rp_rng *r, uint64_t seed, int tag, uint64_t index, uint64_t sub);

#define GEN_NDEVICES 3
#define GEN_NCOUNTRIES 12
extern const char *const gen_devices[GEN_NDEVICES];
extern const char *const gen_countries[GEN_NCOUNTRIES];
extern const double gen_country_weights[GEN_NCOUNTRIES];

/* What a cluster looks like from outside: the traits its items and users
 * tend to have (drawn from the cluster's own stream, so every caller sees
 * the same). */
#define GEN_NCATEGORIES 12
#define GEN_NOCCUPATIONS 12
#define GEN_BRANDS_PER_CLUSTER 4
#define GEN_WORDS_PER_CLUSTER 6
typedef struct gen_traits {
  double age_mean;
  double female;                        /* share of women among its users */
  int32_t home;                         /* favoured country */
  int32_t occupation[2];                /* favoured occupations */
  int32_t category;                     /* main category of its items */
  double price_level;                   /* typical price band, 1..5 */
  int32_t words[GEN_WORDS_PER_CLUSTER]; /* adjectives of its item titles */
} gen_traits;
void gen_cluster_traits(const rp_gen_opts *o, int32_t c, gen_traits *t);

typedef struct gen_world {
  const rp_gen_opts *o;
  int32_t K, nu, ni, ndays;
  int64_t T;       /* period length in seconds */
  double *csize;   /* K: relative cluster sizes */
  double *cmass;   /* K: popularity mass of each cluster's items */
  int32_t *anchor; /* K: the most popular item of each cluster (released at 0) */
  /* items */
  int32_t *icluster;
  double *ipop;       /* popularity weight */
  uint32_t *irelease; /* seconds from start */
  /* items grouped by cluster, with one alias table per cluster (Vose) */
  int32_t *cstart;  /* K + 1 */
  int32_t *members; /* ni */
  double *aprob;    /* ni */
  int32_t *aalias;  /* ni, local index within the cluster */
  /* users */
  int32_t *uc1, *uc2;
  double *uact;    /* activity multiplier */
  uint32_t *ujoin; /* seconds from start */
  uint8_t *uage, *udevice, *ucountry;
  int64_t *ubudget; /* events each user produces */
  /* drift: per day and cluster, the popularity multiplier and, for draws
   * from the whole catalogue, the cumulative mass over clusters */
  double *drift;      /* ndays * K */
  double *gcdf;       /* ndays * K */
  double wmax;        /* bound of the session-time density */
  gen_traits *traits; /* K */
  /* the taste shift (o->shift_at >= 0): from second sat on, users' clusters
   * are s_uc1/s_uc2, items are drawn by s_ipop (s_aprob/s_aalias within a
   * cluster, s_gcdf across clusters); s_changed[u] marks users whose
   * clusters were redrawn.  All NULL without a shift. */
  int has_shift;
  uint32_t sat;
  double *s_tilt; /* K: multiplier of each cluster's weight */
  int32_t *s_uc1, *s_uc2;
  uint8_t *s_changed;
  double *s_ipop, *s_cmass, *s_aprob, *s_gcdf;
  int32_t *s_aalias;
} gen_world;

/* Builds the world for o (checked).  Returns RP_OK or RP_ENOMEM; on error the
 * world is freed. */
int gen_world_build(gen_world *w, const rp_gen_opts *o, rp_err *err);
void gen_world_free(gen_world *w);

/* The main (which = 0) or second (1) cluster of user u at time t. */
static inline int32_t gen_user_cluster(const gen_world *w, int32_t u, uint32_t t, int which) {
  if (w->has_shift && t >= w->sat) return which ? w->s_uc2[u] : w->s_uc1[u];
  return which ? w->uc2[u] : w->uc1[u];
}

/* Relative density of a session starting at t (seconds from start) for a
 * user of cluster c: drift of c times the daily and weekly rhythm. */
double gen_time_weight(const gen_world *w, int32_t c, uint32_t t);

/* Draws an item of cluster c released by time t, by popularity or (uniform)
 * with equal chances. */
int32_t gen_draw_item(const gen_world *w, rp_rng *r, int32_t c, uint32_t t, int uniform);
/* Draws a cluster from the whole catalogue's (drifted) popularity at t. */
int32_t gen_draw_cluster(const gen_world *w, rp_rng *r, uint32_t t);

/* Writes the item / user attribute files and the truth file into open
 * writers (NULL = skip). */
int gen_write_items(const gen_world *w, rp_writer *out, rp_err *err);
int gen_write_users(const gen_world *w, rp_writer *out, rp_err *err);
int gen_write_truth(const gen_world *w, rp_writer *out, rp_err *err);

/* Shuffles a[0..n) (Fisher-Yates). */
void gen_shuffle(rp_rng *r, int32_t *a, int32_t n);

/* Small text helpers: append to a buffer, return the new end. */
char *gen_put_uint(char *p, uint64_t v);
char *gen_put_str(char *p, const char *s);

#endif
