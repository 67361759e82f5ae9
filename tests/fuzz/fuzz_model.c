/*
 * fuzz_model.c -- the ALS model file loader (rp_als_load).
 *
 * Option byte, then the file:
 *   0  bits 0-1 CRCs the harness makes right before loading: none, the
 *      header's (bytes 148-151), the header's and the final one; bit 2 gzip
 *      the file (level 1), bit 3 then cut the gzip stream short by 1-8 bytes
 *
 * A model that loads must answer top-k and similarity queries (whatever its
 * factors hold: NaN and infinities included) and survive a save and load
 * unchanged.
 */
#include "fuzz.h"
#include "als.h"

#define HCRC 148 /* magic 8, version 4, header length 4, header 132 */

static void put32(unsigned char *p, uint32_t v) {
  for (int k = 0; k < 4; k++) p[k] = (unsigned char)(v >> (8 * k));
}

static void same(const rp_als_model *a, const rp_als_model *b) {
  if (a->factors != b->factors || a->nusers != b->nusers || a->nitems != b->nitems)
    fz_fail("round trip: the shape changed");
  size_t f = (size_t)a->factors;
  if (memcmp(a->user_factors, b->user_factors, 4 * f * (size_t)a->nusers) ||
      memcmp(a->item_factors, b->item_factors, 4 * f * (size_t)a->nitems))
    fz_fail("round trip: the factors differ");
  const rp_idmap *ma[2] = {a->users, a->items}, *mb[2] = {b->users, b->items};
  for (int w = 0; w < 2; w++) {
    if (!ma[w] != !mb[w]) fz_fail("round trip: map %d lost or gained", w);
    if (ma[w] && (!rp_idmap_is_prefix(ma[w], mb[w]) || !rp_idmap_is_prefix(mb[w], ma[w])))
      fz_fail("round trip: map %d differs", w);
  }
}

static void query(const rp_als_model *m) {
  enum { K = 5 };
  int32_t items[2 * K], n[2];
  float scores[2 * K];
  rp_err err;
  err.msg[0] = 0;
  int32_t users[2] = {0, m->nusers - 1};
  int32_t nu = m->nusers < 2 ? m->nusers : 2;
  if (nu > 0 && rp_als_recommend_batch(m, users, nu, K, NULL, 1, items, scores, n, &err) != RP_OK &&
      err.status != RP_EINVAL)
    fz_fail("recommend on a loaded model: %s", err.msg);
  for (int32_t q = 0; q < nu; q++)
    for (int32_t j = 0; j < n[q]; j++)
      if (items[q * K + j] < 0 || items[q * K + j] >= m->nitems)
        fz_fail("recommend: item %d of %d", items[q * K + j], m->nitems);
  if (m->nitems > 0) {
    int32_t out_n;
    if (rp_als_similar(m, 0, 0, K, 1, items, scores, &out_n, &err) != RP_OK &&
        err.status != RP_EINVAL)
      fz_fail("similar on a loaded model: %s", err.msg);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fz_quiet();
  fz_in in = {data, size};
  unsigned b0 = fz_byte(&in);
  unsigned char *file = malloc(in.n + 1);
  if (!file) fz_fail("out of memory in the harness");
  memcpy(file, in.p, in.n);
  size_t n = in.n;
  if ((b0 & 3) >= 1 && n >= HCRC + 4) put32(file + HCRC, (uint32_t)crc32(0, file, HCRC));
  if ((b0 & 3) >= 2 && n >= HCRC + 8) put32(file + n - 4, (uint32_t)crc32(0, file, (uInt)(n - 4)));
  if (b0 & 4) {
    size_t gn;
    unsigned char *gz = fz_gzip(file, n, 1, &gn);
    free(file);
    file = gz;
    n = gn;
    if (b0 & 8) n = n > 1 + (in.n & 7) ? n - 1 - (in.n & 7) : 0;
  }
  size_t real = fz_real_size(file, n);
  fz_file f;
  fz_file_open(&f, file, n);

  fz_mem mem;
  fz_mem_begin(&mem);
  rp_err err;
  err.msg[0] = 0;
  rp_als_model *m = NULL;
  int rc = rp_als_load(f.path, &m, &err);
  fz_note("rp_als_load", rc, err.msg);
  if (rc == RP_OK) {
    if (!m) fz_fail("RP_OK without a model");
    query(m);
    char path[128];
    snprintf(path, sizeof path, "%s/rt.rpa", fz_dir());
    if (rp_als_save(m, path, &err)) fz_fail("saving a loaded model failed: %s", err.msg);
    rp_als_model *back = NULL;
    if (rp_als_load(path, &back, &err)) fz_fail("loading a saved model failed: %s", err.msg);
    same(m, back);
    rp_als_model_free(back);
    unlink(path);
    rp_als_model_free(m);
  } else {
    if (m) fz_fail("a model with status %d", rc);
    if (!err.msg[0]) fz_fail("status %d without a message", rc);
  }
  fz_file_close(&f);
  free(file);
  fz_mem_end(&mem, "rp_als_load", real);
  return 0;
}
