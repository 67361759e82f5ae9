/*
 * gen_attrs.c -- the visible side of the hidden clusters: item attributes
 * (category, brand, price band, price, title words, release date), user
 * attributes (age, gender, country, occupation, signup date) and the
 * ground-truth file naming every user's and item's cluster.
 *
 * Each cluster has traits (a main category, four brands of its own, a price
 * level, six title adjectives, a typical age, a gender mix, two favoured
 * occupations, a home country); an item or user mostly follows its cluster's
 * traits and sometimes not, so content features predict the cluster well but
 * not perfectly, as in a real shop.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "gen_world.h"

static const char *const categories[GEN_NCATEGORIES] = {
    "electronics", "books",  "home",    "kitchen", "garden", "toys",
    "beauty",      "sports", "fashion", "grocery", "pets",   "music"};

static const char *const nouns[GEN_NCATEGORIES][8] = {
    {"headphones", "speaker", "charger", "keyboard", "monitor", "camera", "tablet", "router"},
    {"novel", "cookbook", "biography", "atlas", "thriller", "anthology", "journal", "guide"},
    {"lamp", "rug", "pillow", "blanket", "vase", "clock", "curtain", "shelf"},
    {"skillet", "kettle", "blender", "knife", "mug", "teapot", "grater", "colander"},
    {"planter", "hose", "trowel", "seeds", "shears", "lantern", "birdhouse", "sprinkler"},
    {"puzzle", "robot", "doll", "kite", "blocks", "yoyo", "racecar", "boardgame"},
    {"serum", "lipstick", "cleanser", "perfume", "mascara", "lotion", "shampoo", "balm"},
    {"dumbbell", "racket", "yogamat", "sneakers", "helmet", "bottle", "backpack", "gloves"},
    {"jacket", "dress", "scarf", "boots", "jeans", "sweater", "hat", "belt"},
    {"coffee", "tea", "chocolate", "pasta", "honey", "granola", "olives", "spices"},
    {"leash", "collar", "catnip", "kibble", "aquarium", "hammock", "brush", "scratcher"},
    {"vinyl", "guitar", "ukulele", "drumsticks", "metronome", "amplifier", "cable", "songbook"}};

#define NADJ 64
static const char *const adjectives[NADJ] = {
    "compact",  "wireless",   "classic",   "vintage", "organic", "premium",  "smart",
    "portable", "ergonomic",  "deluxe",    "mini",    "slim",    "rugged",   "cozy",
    "bold",     "bright",     "matte",     "glossy",  "natural", "handmade", "modern",
    "retro",    "eco",        "silent",    "turbo",   "ultra",   "soft",     "sturdy",
    "elegant",  "minimal",    "vivid",     "rustic",  "sleek",   "heavy",    "light",
    "foldable", "waterproof", "insulated", "scented", "ceramic", "wooden",   "steel",
    "cotton",   "leather",    "bamboo",    "glass",   "velvet",  "nordic",   "tropical",
    "alpine",   "urban",      "coastal",   "desert",  "arctic",  "royal",    "golden",
    "silver",   "midnight",   "crimson",   "azure",   "emerald", "amber",    "ivory",
    "charcoal"};

static const char *const occupations[GEN_NOCCUPATIONS] = {
    "student", "engineer",  "teacher",    "healthcare", "sales",  "artist",
    "manager", "homemaker", "technician", "lawyer",     "writer", "retired"};
enum { OCC_STUDENT = 0, OCC_RETIRED = GEN_NOCCUPATIONS - 1 };

/* Brand names: two syllables of fixed lengths (2 + 3 letters) and, past 400
 * brands, a third, so distinct brand numbers give distinct names. */
static const char *const syl1[20] = {"ka", "ze", "mo", "ri", "ve", "to", "lu", "ba", "ne", "so",
                                     "fi", "ga", "pa", "da", "ki", "ma", "no", "su", "te", "xa"};
static const char *const syl2[20] = {"rin", "tal", "vox", "lix", "nar", "rok", "mit",
                                     "san", "ton", "kor", "ria", "dex", "vin", "lor",
                                     "nix", "mar", "ren", "tus", "bel", "gon"};
static const char *const syl3[20] = {"",   "ia", "on", "ex", "us", "ra", "el", "an", "or", "is",
                                     "um", "ax", "en", "yo", "ar", "et", "ix", "al", "os", "ue"};

static const double band_lo[6] = {0, 2, 10, 30, 80, 250};
static const double band_hi[6] = {0, 10, 30, 80, 250, 1000};

void gen_cluster_traits(const rp_gen_opts *o, int32_t c, gen_traits *t) {
  rp_rng r;
  int32_t perm[NADJ];
  /* main categories: a seed-wide shuffle, so clusters 0..11 get distinct ones */
  gen_rng(&r, o->seed, GEN_S_VOCAB, UINT64_MAX, 0);
  for (int32_t i = 0; i < GEN_NCATEGORIES; i++) perm[i] = i;
  gen_shuffle(&r, perm, GEN_NCATEGORIES);
  t->category = perm[c % GEN_NCATEGORIES];
  gen_rng(&r, o->seed, GEN_S_VOCAB, (uint64_t)c, 1);
  t->age_mean = 22 + 36 * rp_rng_uniform(&r);
  t->home = (int32_t)rp_rng_below(&r, GEN_NCOUNTRIES);
  t->female = 0.15 + 0.7 * rp_rng_uniform(&r);
  t->occupation[0] = (int32_t)rp_rng_below(&r, GEN_NOCCUPATIONS);
  t->occupation[1] =
      (t->occupation[0] + 1 + (int32_t)rp_rng_below(&r, GEN_NOCCUPATIONS - 1)) % GEN_NOCCUPATIONS;
  t->price_level = 1 + 4 * rp_rng_uniform(&r);
  for (int32_t i = 0; i < NADJ; i++) perm[i] = i;
  gen_shuffle(&r, perm, NADJ);
  memcpy(t->words, perm, sizeof t->words);
}

/* Name of brand b (< 8000) into buf (>= 16 bytes); p1, p2: the seed's
 * shuffles of the syllable lists.  b is first spread over the 8000 names by
 * a multiplier prime to 8000 (a bijection), so the brands of one cluster do
 * not share syllables. */
static void brand_name(const int32_t *p1, const int32_t *p2, int32_t b, char *buf) {
  int32_t x = (int32_t)(((int64_t)b * 7919) % 8000);
  snprintf(buf, 16, "%s%s%s", syl1[p1[x % 20]], syl2[p2[(x / 20) % 20]], syl3[(x / 400) % 20]);
  buf[0] = (char)(buf[0] - 'a' + 'A');
}

/* Items: item_id,category,brand,price_band,price,title,released */
int gen_write_items(const gen_world *w, rp_writer *out, rp_err *err) {
  const rp_gen_opts *o = w->o;
  if (rp_writer_printf(out, err, "item_id,category,brand,price_band,price,title,released\n"))
    return err->status;
  rp_rng r;
  int32_t p1[20], p2[20];
  gen_rng(&r, o->seed, GEN_S_VOCAB, UINT64_MAX, 2);
  for (int32_t i = 0; i < 20; i++) p1[i] = p2[i] = i;
  gen_shuffle(&r, p1, 20);
  gen_shuffle(&r, p2, 20);
  for (int32_t i = 0; i < w->ni; i++) {
    int32_t c = w->icluster[i];
    const gen_traits tr = w->traits[c];
    gen_rng(&r, o->seed, GEN_S_ITEM, (uint64_t)i, 1);
    int32_t cat =
        rp_rng_uniform(&r) < 0.85 ? tr.category : (int32_t)rp_rng_below(&r, GEN_NCATEGORIES);
    int32_t brand =
        rp_rng_uniform(&r) < 0.85
            ? c * GEN_BRANDS_PER_CLUSTER + (int32_t)rp_rng_below(&r, GEN_BRANDS_PER_CLUSTER)
            : (int32_t)rp_rng_below(&r, (uint64_t)w->K * GEN_BRANDS_PER_CLUSTER);
    double level = tr.price_level + 0.7 * rp_rng_normal(&r);
    int band = (int)lround(level);
    if (band < 1) band = 1;
    if (band > 5) band = 5;
    double price = band_lo[band] * pow(band_hi[band] / band_lo[band], rp_rng_uniform(&r));
    int32_t adj[2];
    for (int k = 0; k < 2; k++)
      adj[k] = rp_rng_uniform(&r) < 0.8 ? tr.words[rp_rng_below(&r, GEN_WORDS_PER_CLUSTER)]
                                        : (int32_t)rp_rng_below(&r, NADJ);
    if (adj[1] == adj[0]) adj[1] = (adj[0] + 1) % NADJ;
    const char *noun = nouns[cat][rp_rng_below(&r, 8)];
    /* released: the release during the period, or a date up to two years
     * before it for the catalogue the shop started with */
    int64_t rel = w->irelease[i] ? o->start + (int64_t)w->irelease[i]
                                 : o->start - 86400 * (1 + (int64_t)rp_rng_below(&r, 730));
    char brand_s[16], date[24];
    brand_name(p1, p2, brand, brand_s);
    rp_gen_format_time(rel, 1, date);
    if (rp_writer_printf(out, err, "i%d,%s,%s,%d,%.2f,%s %s %s %s,%s\n", i + 1, categories[cat],
                         brand_s, band, price, brand_s, adjectives[adj[0]], adjectives[adj[1]],
                         noun, date))
      return err->status;
  }
  return RP_OK;
}

static const char *age_band(int age) {
  if (age < 25) return "16-24";
  if (age < 35) return "25-34";
  if (age < 45) return "35-44";
  if (age < 55) return "45-54";
  if (age < 65) return "55-64";
  return "65+";
}

/* Users: user_id,age,age_band,gender,country,occupation,signup */
int gen_write_users(const gen_world *w, rp_writer *out, rp_err *err) {
  const rp_gen_opts *o = w->o;
  if (rp_writer_printf(out, err, "user_id,age,age_band,gender,country,occupation,signup\n"))
    return err->status;
  for (int32_t u = 0; u < w->nu; u++) {
    const gen_traits tr = w->traits[w->uc1[u]];
    rp_rng r;
    gen_rng(&r, o->seed, GEN_S_USER, (uint64_t)u, 1);
    double g = rp_rng_uniform(&r);
    const char *gender = g < 0.02 ? "x" : g < 0.02 + 0.98 * tr.female ? "f" : "m";
    double x = rp_rng_uniform(&r);
    int32_t occ = x < 0.3   ? tr.occupation[0]
                  : x < 0.5 ? tr.occupation[1]
                            : (int32_t)rp_rng_below(&r, GEN_NOCCUPATIONS);
    /* age decides first: most over 66 are retired, many under 23 students,
     * and nobody else is either */
    int age = w->uage[u];
    double a = rp_rng_uniform(&r);
    if (age >= 67 && a < 0.7) occ = OCC_RETIRED;
    if (age <= 22 && a < 0.6) occ = OCC_STUDENT;
    if ((occ == OCC_RETIRED && age < 55) || (occ == OCC_STUDENT && age > 30))
      occ = 1 + (int32_t)rp_rng_below(&r, GEN_NOCCUPATIONS - 2); /* neither */
    int64_t signup = w->ujoin[u] ? o->start + (int64_t)w->ujoin[u]
                                 : o->start - 86400 * (1 + (int64_t)rp_rng_below(&r, 1095));
    char date[24];
    rp_gen_format_time(signup, 1, date);
    if (rp_writer_printf(out, err, "u%d,%d,%s,%s,%s,%s,%s\n", u + 1, age, age_band(age), gender,
                         gen_countries[w->ucountry[u]], occupations[occ], date))
      return err->status;
  }
  return RP_OK;
}

/* Truth: kind,id,cluster,secondary,weight,since
 *   kind "user" or "item"; cluster 1..K (users: main cluster, secondary the
 *   second one; items: secondary empty); weight the activity multiplier of a
 *   user or the popularity weight of an item; since the Unix time the user
 *   joined or the item was released (the period's start for those present
 *   from the beginning). */
int gen_write_truth(const gen_world *w, rp_writer *out, rp_err *err) {
  const rp_gen_opts *o = w->o;
  if (rp_writer_printf(out, err, "kind,id,cluster,secondary,weight,since\n")) return err->status;
  for (int32_t u = 0; u < w->nu; u++)
    if (rp_writer_printf(out, err, "user,u%d,%d,%d,%.6g,%lld\n", u + 1, w->uc1[u] + 1,
                         w->uc2[u] + 1, w->uact[u], (long long)(o->start + (int64_t)w->ujoin[u])))
      return err->status;
  for (int32_t i = 0; i < w->ni; i++)
    if (rp_writer_printf(out, err, "item,i%d,%d,,%.6g,%lld\n", i + 1, w->icluster[i] + 1,
                         w->ipop[i], (long long)(o->start + (int64_t)w->irelease[i])))
      return err->status;
  if (!w->has_shift) return RP_OK;
  /* after a taste shift: the new clusters of the users it moved and the
   * new popularity weight of the items it re-ranked, since the shift */
  long long at = (long long)o->shift_at;
  for (int32_t u = 0; u < w->nu; u++)
    if (w->s_changed[u] && rp_writer_printf(out, err, "user_shift,u%d,%d,%d,%.6g,%lld\n", u + 1,
                                            w->s_uc1[u] + 1, w->s_uc2[u] + 1, w->uact[u], at))
      return err->status;
  for (int32_t i = 0; i < w->ni; i++)
    if (w->s_ipop[i] != w->ipop[i] && rp_writer_printf(out, err, "item_shift,i%d,%d,,%.6g,%lld\n",
                                                       i + 1, w->icluster[i] + 1, w->s_ipop[i], at))
      return err->status;
  return RP_OK;
}
