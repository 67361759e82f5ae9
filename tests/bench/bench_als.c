/*
 * bench_als.c -- timings of the ALS core alone (no Lua, no CSV reader in
 * the way): training per iteration for each solver, the OpenBLAS sgemm rate
 * measured in the same run, single-user recommend latency and batch
 * recommend throughput, peak memory against the formula.
 *
 *   bench_als sgemm
 *   bench_als train  LOG.csv FACTORS cg|cholesky THREADS ITERATIONS
 *   bench_als serve  LOG.csv FACTORS QUERIES BATCH
 *   bench_als partial LOG.csv FACTORS BATCH REPS SINGLE
 *
 * LOG.csv: user_id,item_id,value,timestamp with integer ids (synth.py);
 * repeated pairs are summed.  Output: one "key value" line per figure, for
 * bench_als.sh to tabulate.
 */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <malloc.h>
#include <time.h>
#include <math.h>

#include "als_impl.h"
#include "events.h"

/* VmRSS or VmHWM (peak) from /proc/self/status, in MB */
static double status_mb(const char *key) {
  FILE *f = fopen("/proc/self/status", "r");
  char line[256];
  double v = -1;
  size_t kl = strlen(key);
  while (f && fgets(line, sizeof line, f))
    if (strncmp(line, key, kl) == 0 && line[kl] == ':') v = atof(line + kl + 1) / 1024.0;
  if (f) fclose(f);
  return v;
}

/* resets VmHWM to the current RSS (Linux >= 4.0), so the peak of one phase
 * can be read */
static void reset_peak_rss(void) {
  FILE *f = fopen("/proc/self/clear_refs", "w");
  if (f) {
    fputs("5", f);
    fclose(f);
  }
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static double median(double *v, int n) {
  qsort(v, (size_t)n, sizeof *v, cmp_double);
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* integer-id CSV -> CSR; dense indices in order of first appearance */
static rp_csr *load(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    perror(path);
    exit(1);
  }
  size_t cap = 1 << 20, n = 0;
  int32_t *r = malloc(cap * 4), *c = malloc(cap * 4);
  float *v = malloc(cap * 4);
  int32_t *umap = NULL, *imap = NULL, nu = 0, ni = 0;
  size_t ucap = 0, icap = 0;
  char line[256];
  if (!fgets(line, sizeof line, f)) exit(1); /* header */
  while (fgets(line, sizeof line, f)) {
    char *p = line;
    long u = strtol(p, &p, 10), i = strtol(p + 1, &p, 10);
    double val = strtod(p + 1, &p);
    if (u < 0 || i < 0) continue;
    if ((size_t)u >= ucap) {
      size_t nc = ((size_t)u + 1) * 2;
      umap = realloc(umap, nc * 4);
      for (size_t k = ucap; k < nc; k++) umap[k] = -1;
      ucap = nc;
    }
    if ((size_t)i >= icap) {
      size_t nc = ((size_t)i + 1) * 2;
      imap = realloc(imap, nc * 4);
      for (size_t k = icap; k < nc; k++) imap[k] = -1;
      icap = nc;
    }
    if (umap[u] < 0) umap[u] = nu++;
    if (imap[i] < 0) imap[i] = ni++;
    if (n == cap) {
      cap *= 2;
      r = realloc(r, cap * 4), c = realloc(c, cap * 4), v = realloc(v, cap * 4);
    }
    r[n] = umap[u], c[n] = imap[i], v[n] = (float)val, n++;
  }
  fclose(f);
  rp_err err;
  rp_csr *m = rp_csr_build(nu, ni, r, c, v, NULL, (int64_t)n, RP_AGG_SUM, NULL, NULL, &err);
  if (!m) {
    fprintf(stderr, "%s\n", err.msg);
    exit(1);
  }
  free(r), free(c), free(v), free(umap), free(imap);
  return m;
}

static double sgemm_gflops(int threads) {
  int N = 2048;
  float *A = malloc(sizeof(float) * (size_t)N * N), *B = malloc(sizeof(float) * (size_t)N * N),
        *C = malloc(sizeof(float) * (size_t)N * N);
  for (size_t e = 0; e < (size_t)N * N; e++)
    A[e] = 1e-3f * (float)(e % 7), B[e] = 1e-3f * (float)(e % 5);
  openblas_set_num_threads(threads);
  double best = 1e30;
  for (int r = 0; r < 5; r++) {
    double t = rp_now();
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, N, N, 1, A, N, B, N, 0, C, N);
    t = rp_now() - t;
    if (t < best) best = t;
  }
  free(A), free(B), free(C);
  return 2.0 * N * N * (double)N / best / 1e9;
}

static double cpu_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* wall seconds per iteration (from the trainer) and process CPU seconds
 * between callbacks (the first interval includes setup: not used) */
typedef struct times {
  int n;
  double s[256], cpu[256], last;
} times;
static int on_it(const rp_als_iter_info *info, void *ud) {
  times *t = ud;
  double now = cpu_now();
  if (t->n < 256) t->cpu[t->n] = now - t->last, t->s[t->n++] = info->seconds;
  t->last = now;
  return 0;
}

/* flops of one iteration (both half-steps), counting a multiply-add as 2 */
static double iteration_flops(const rp_csr *m, int f, int solver, int cg_steps) {
  double rows = (double)m->nrows + (double)m->ncols, nnz = 2.0 * (double)m->nnz, F = f;
  double gram = rows * F * F; /* Y^T Y each half: (rows of the other side) f^2 (symmetric) */
  if (solver == RP_ALS_CG) return gram + (cg_steps + 1) * (rows * 2 * F * F + nnz * 4 * F);
  /* rank-k updates nnz f^2 (f(f+1)/2 madds each), factorisation f^3/3, two
   * triangular solves 2 f^2, per row */
  return gram + nnz * F * (F + 1) + rows * (F * F * F / 3 + 2 * F * F);
}

static int cmd_train(int argc, char **argv) {
  if (argc < 7) return 2;
  rp_csr *m = load(argv[2]);
  rp_als_opts o;
  rp_als_opts_default(&o);
  o.factors = atoi(argv[3]);
  o.solver = strcmp(argv[4], "cholesky") == 0 ? RP_ALS_CHOLESKY : RP_ALS_CG;
  o.threads = atoi(argv[5]);
  o.iterations = atoi(argv[6]);
  o.regularization = 0.01;
  times t = {0};
  rp_als_hooks h = {0};
  h.on_iteration = on_it, h.ud = &t;
  t.last = cpu_now();
  rp_mem_reset_peak();
  malloc_trim(0); /* give the loader's buffers back, then measure from here */
  reset_peak_rss();
  double rss0 = status_mb("VmRSS");
  size_t mem0 = rp_mem_current();
  rp_als_model *model;
  rp_err err;
  if (rp_als_train(m, &o, &h, &model, &err)) {
    fprintf(stderr, "%s\n", err.msg);
    return 1;
  }
  double med = median(t.s, t.n), cpu = t.n > 1 ? median(t.cpu + 1, t.n - 1) : -1.0;
  double fl = iteration_flops(m, o.factors, o.solver, o.cg_steps);
  double formula = (double)rp_als_train_memory(m, &o, 0);
  printf("users %d\nitems %d\nnnz %lld\n", m->nrows, m->ncols, (long long)m->nnz);
  printf("seconds_per_iteration %.4f\n", med);
  printf("cpu_seconds_per_iteration %.4f\n", cpu);
  printf("gflops %.2f\n", fl / med / 1e9);
  printf("core_peak_mb %.1f\n", (double)(rp_mem_peak() - mem0) / 1048576.0);
  printf("formula_mb %.1f\n", formula / 1048576.0);
  printf("matrix_mb %.1f\n", (double)rp_csr_bytes(m) / 1048576.0);
  double hwm = status_mb("VmHWM");
  printf("rss_before_mb %.1f\nrss_peak_mb %.1f\nrss_growth_mb %.1f\n", rss0, hwm, hwm - rss0);
  rp_als_model_free(model);
  rp_csr_free(m);
  return 0;
}

static int cmd_serve(int argc, char **argv) {
  if (argc < 6) return 2;
  rp_csr *m = load(argv[2]);
  int nq = atoi(argv[4]), nb = atoi(argv[5]);
  rp_als_opts o;
  rp_als_opts_default(&o);
  o.factors = atoi(argv[3]);
  o.iterations = 3;
  rp_als_model *model;
  rp_err err;
  if (rp_als_train(m, &o, NULL, &model, &err)) {
    fprintf(stderr, "%s\n", err.msg);
    return 1;
  }
  int32_t k = 10, items[10], n;
  float scores[10];
  double *lat = malloc(sizeof(double) * (size_t)nq);
  rp_rng g;
  rp_rng_seed(&g, 1, 2);
  /* warm: the first call builds the model's caches */
  rp_als_list ex0 = {m->indices, rp_csr_rowlen(m, 0)};
  rp_als_topk(model, model->user_factors, k, &ex0, 1, NULL, items, scores, &n, &err);
  for (int q = 0; q < nq; q++) {
    int32_t u = (int32_t)rp_rng_below(&g, (uint64_t)m->nrows);
    rp_als_list ex = {m->indices + m->indptr[u], rp_csr_rowlen(m, u)};
    double t = rp_now();
    rp_als_topk(model, model->user_factors + (int64_t)u * o.factors, k, &ex, 1, NULL, items, scores,
                &n, &err);
    lat[q] = rp_now() - t;
  }
  qsort(lat, (size_t)nq, sizeof *lat, cmp_double);
  printf("recommend_median_us %.1f\n", lat[nq / 2] * 1e6);
  printf("recommend_p99_us %.1f\n", lat[(int)(nq * 0.99)] * 1e6);
  int32_t *users = malloc(sizeof(int32_t) * (size_t)nb),
          *bi = malloc(sizeof(int32_t) * (size_t)nb * k),
          *bc = malloc(sizeof(int32_t) * (size_t)nb);
  float *bs = malloc(sizeof(float) * (size_t)nb * k);
  for (int a = 0; a < nb; a++) users[a] = (int32_t)rp_rng_below(&g, (uint64_t)m->nrows);
  double best = 1e30, bestcpu = 1e30;
  for (int r = 0; r < 3; r++) {
    double t = rp_now(), c = cpu_now();
    rp_als_recommend_batch(model, users, nb, k, m, 0, bi, bs, bc, &err);
    t = rp_now() - t, c = cpu_now() - c;
    if (t < best) best = t;
    if (c < bestcpu) bestcpu = c;
  }
  printf("recommend_all_us_per_user %.2f\n", best / nb * 1e6);
  printf("recommend_all_cpu_us_per_user %.2f\n", bestcpu / nb * 1e6);
  free(lat), free(users), free(bi), free(bc), free(bs);
  rp_als_model_free(model);
  rp_csr_free(m);
  return 0;
}

/* memory to load a model: a random model with string ids is saved, then
 * loaded with the peak RSS reset */
static int cmd_modelio(int argc, char **argv) {
  if (argc < 5) return 2;
  int32_t nu = atoi(argv[2]), f = atoi(argv[3]);
  const char *path = argv[4];
  rp_err err;
  rp_idmap *users = rp_idmap_new(&err), *items = rp_idmap_new(&err);
  char id[64];
  int32_t idx;
  for (int32_t u = 0; u < nu; u++) {
    int len = snprintf(id, sizeof id, "user-%08d", u);
    rp_idmap_intern(users, id, (size_t)len, &idx, &err);
  }
  for (int32_t i = 0; i < 50000; i++) {
    int len = snprintf(id, sizeof id, "sku-%06d", i);
    rp_idmap_intern(items, id, (size_t)len, &idx, &err);
  }
  rp_als_model *m = rp_als_model_new(nu, 50000, f, users, items, &err);
  rp_idmap_release(users), rp_idmap_release(items);
  rp_rng g;
  rp_rng_seed(&g, 1, 1);
  for (int64_t e = 0; e < (int64_t)nu * f; e++) m->user_factors[e] = (float)rp_rng_normal(&g);
  for (int64_t e = 0; e < 50000LL * f; e++) m->item_factors[e] = (float)rp_rng_normal(&g);
  double t = rp_now();
  if (rp_als_save(m, path, &err)) {
    fprintf(stderr, "%s\n", err.msg);
    return 1;
  }
  printf("save_seconds %.2f\n", rp_now() - t);
  rp_als_model_free(m);
  malloc_trim(0);
  FILE *fp = fopen(path, "rb");
  fseek(fp, 0, SEEK_END);
  double bytes = (double)ftell(fp);
  fclose(fp);
  reset_peak_rss();
  double rss0 = status_mb("VmRSS");
  t = rp_now();
  if (rp_als_load(path, &m, &err)) {
    fprintf(stderr, "%s\n", err.msg);
    return 1;
  }
  printf("load_seconds %.2f\n", rp_now() - t);
  printf("idmaps_mb %.1f\n",
         (double)(rp_idmap_bytes(m->users) + rp_idmap_bytes(m->items)) / 1048576.0);
  printf("file_mb %.1f\nload_rss_growth_mb %.1f\nratio %.3f\n", bytes / 1048576.0,
         status_mb("VmHWM") - rss0, (status_mb("VmHWM") - rss0) * 1048576.0 / bytes);
  rp_als_model_free(m);
  return 0;
}

/* rows rows[0..n) of m as a new n-row matrix (same columns) */
static rp_csr *pick_rows(const rp_csr *m, const int32_t *rows, int32_t n) {
  int64_t nnz = 0;
  for (int32_t a = 0; a < n; a++) nnz += rp_csr_rowlen(m, rows[a]);
  int32_t *r = malloc(sizeof(int32_t) * (size_t)(nnz + 1)),
          *c = malloc(sizeof(int32_t) * (size_t)(nnz + 1));
  float *v = malloc(sizeof(float) * (size_t)(nnz + 1));
  int64_t e = 0;
  for (int32_t a = 0; a < n; a++)
    for (int64_t j = m->indptr[rows[a]]; j < m->indptr[rows[a] + 1]; j++)
      r[e] = a, c[e] = m->indices[j], v[e++] = m->data[j];
  rp_err err;
  rp_csr *x = rp_csr_build(n, m->ncols, r, c, v, NULL, nnz, RP_AGG_SUM, NULL, NULL, &err);
  free(r), free(c), free(v);
  return x;
}

/* partial_fit_users: BATCH users at once (REPS times; median) and one user
 * at a time (SINGLE calls: median, p99), on a model trained 3 CG
 * iterations; users spread evenly over the log */
static int cmd_partial(int argc, char **argv) {
  if (argc < 7) return 2;
  rp_csr *m = load(argv[2]);
  int batch = atoi(argv[4]), reps = atoi(argv[5]), single = atoi(argv[6]);
  rp_als_opts o;
  rp_als_opts_default(&o);
  o.factors = atoi(argv[3]);
  o.iterations = 3;
  rp_als_model *model;
  rp_err err;
  if (rp_als_train(m, &o, NULL, &model, &err)) {
    fprintf(stderr, "%s\n", err.msg);
    return 1;
  }
  int32_t *rows = malloc(sizeof(int32_t) * (size_t)batch);
  for (int a = 0; a < batch; a++) rows[a] = (int32_t)((int64_t)a * m->nrows / batch);
  rp_csr *x = pick_rows(m, rows, batch);
  double *t = malloc(sizeof(double) * (size_t)(reps > single ? reps : single));
  double *cpu = malloc(sizeof(double) * (size_t)reps);
  for (int r = 0; r < reps; r++) {
    double t0 = rp_now(), c0 = cpu_now();
    if (rp_als_partial_fit(model, 0, rows, x, 0, &err)) {
      fprintf(stderr, "%s\n", err.msg);
      return 1;
    }
    t[r] = rp_now() - t0;
    cpu[r] = cpu_now() - c0;
  }
  printf("partial_users %d\n", batch);
  printf("partial_nnz %lld\n", (long long)x->nnz);
  printf("partial_batch_ms %.3f\n", 1e3 * median(t, reps));
  /* CPU seconds of all threads: what the call costs whatever the load (on
   * a loaded machine the wall time mostly measures waiting for a core) */
  printf("partial_batch_cpu_ms %.3f\n", 1e3 * median(cpu, reps));
  free(cpu);
  rp_csr_free(x);
  int64_t nnz1 = 0;
  for (int s = 0; s < single; s++) {
    int32_t u = (int32_t)(((int64_t)s * 7919) % m->nrows);
    rp_csr *one = pick_rows(m, &u, 1);
    nnz1 += one->nnz;
    double t0 = rp_now();
    if (rp_als_partial_fit(model, 0, &u, one, 1, &err)) {
      fprintf(stderr, "%s\n", err.msg);
      return 1;
    }
    t[s] = rp_now() - t0;
    rp_csr_free(one);
  }
  qsort(t, (size_t)single, sizeof *t, cmp_double);
  printf("partial_single_values %.1f\n", (double)nnz1 / single);
  printf("partial_single_us %.1f\n", 1e6 * median(t, single));
  printf("partial_single_p99_us %.1f\n", 1e6 * t[(int)(0.99 * (single - 1))]);
  free(t), free(rows);
  rp_als_model_free(model);
  rp_csr_free(m);
  return 0;
}

int main(int argc, char **argv) {
  int rc = 2;
  if (argc >= 2 && strcmp(argv[1], "sgemm") == 0) {
    printf("sgemm_gflops_1 %.1f\n", sgemm_gflops(1));
    printf("sgemm_gflops_2 %.1f\n", sgemm_gflops(2));
    rc = 0;
  } else if (argc >= 2 && strcmp(argv[1], "train") == 0) {
    rc = cmd_train(argc, argv);
  } else if (argc >= 2 && strcmp(argv[1], "serve") == 0) {
    rc = cmd_serve(argc, argv);
  } else if (argc >= 2 && strcmp(argv[1], "modelio") == 0) {
    rc = cmd_modelio(argc, argv);
  } else if (argc >= 2 && strcmp(argv[1], "partial") == 0) {
    rc = cmd_partial(argc, argv);
  }
  if (rc == 2)
    fprintf(stderr,
            "usage: bench_als sgemm | train LOG f cg|cholesky threads iterations | serve LOG f "
            "queries batch | modelio NUSERS f PATH | partial LOG f batch reps single\n");
  return rc;
}
