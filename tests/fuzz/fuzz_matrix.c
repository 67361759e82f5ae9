/*
 * fuzz_matrix.c -- the matrix file loader (rp_csr_load).
 *
 * Option byte, then the file:
 *   0  bits 0-1 CRCs the harness makes right before loading, so mutations
 *      get past the checks: none, the header's (bytes 60-63), the header's
 *      and the final one (the last 4 bytes); bit 2 gzip the file (level 1),
 *      bit 3 then cut the gzip stream short by 1-8 bytes
 *
 * A matrix that loads must be valid (rp_csr_validate), its maps must cover
 * its shape, and saving and loading it again must give the same matrix.
 */
#include "fuzz.h"
#include "csr.h"

static void put32(unsigned char *p, uint32_t v) {
  for (int k = 0; k < 4; k++) p[k] = (unsigned char)(v >> (8 * k));
}

static void same(const rp_csr *a, const rp_csr *b) {
  if (a->nrows != b->nrows || a->ncols != b->ncols || a->nnz != b->nnz)
    fz_fail("round trip: %dx%d/%lld became %dx%d/%lld", a->nrows, a->ncols, (long long)a->nnz,
            b->nrows, b->ncols, (long long)b->nnz);
  if (memcmp(a->indptr, b->indptr, 8 * ((size_t)a->nrows + 1)) ||
      memcmp(a->indices, b->indices, 4 * (size_t)a->nnz) ||
      memcmp(a->data, b->data, 4 * (size_t)a->nnz))
    fz_fail("round trip: the arrays differ");
  const rp_idmap *ma[2] = {a->rowmap, a->colmap}, *mb[2] = {b->rowmap, b->colmap};
  for (int w = 0; w < 2; w++) {
    if (!ma[w] != !mb[w]) fz_fail("round trip: map %d lost or gained", w);
    if (ma[w] && (!rp_idmap_is_prefix(ma[w], mb[w]) || !rp_idmap_is_prefix(mb[w], ma[w])))
      fz_fail("round trip: map %d differs", w);
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
  if ((b0 & 3) >= 1 && n >= 64) put32(file + 60, (uint32_t)crc32(0, file, 60));
  if ((b0 & 3) >= 2 && n >= 68) put32(file + n - 4, (uint32_t)crc32(0, file, (uInt)(n - 4)));
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
  rp_csr *m = rp_csr_load(f.path, &err);
  fz_note("rp_csr_load", m ? RP_OK : err.status, err.msg);
  if (m) {
    rp_err verr;
    if (rp_csr_validate(m, &verr)) fz_fail("loaded an invalid matrix: %s", verr.msg);
    if (m->rowmap && m->rowmap->n < m->nrows) fz_fail("row map smaller than the matrix");
    if (m->colmap && m->colmap->n < m->ncols) fz_fail("column map smaller than the matrix");
    char path[128];
    snprintf(path, sizeof path, "%s/rt.rpm", fz_dir());
    if (rp_csr_save(m, path, &err)) fz_fail("saving a loaded matrix failed: %s", err.msg);
    rp_csr *back = rp_csr_load(path, &err);
    if (!back) fz_fail("loading a saved matrix failed: %s", err.msg);
    same(m, back);
    rp_csr_free(back);
    unlink(path);
    rp_csr_free(m);
  } else if (!err.msg[0]) {
    fz_fail("no matrix and no message");
  }
  fz_file_close(&f);
  free(file);
  /* a saved copy is at most the size of its input plus the maps' indexes */
  fz_mem_end(&mem, "rp_csr_load", real);
  return 0;
}
