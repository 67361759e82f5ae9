/*
 * models.c -- model versions, their files beside the database, the live
 * pointer, promotions, refusals and rollbacks.
 *
 * A version's file is copied to <dir>/models/<name>/.tmp-<pid>-<n> (read,
 * written, fsynced), then, holding the write lock, the next version number
 * is taken, the file renamed to v<version><ext>, the directory fsynced and
 * the row inserted; the transaction commits last.  A crash before the
 * commit leaves at most an orphan file that the next registration of the
 * name renames over: the registry never names a file that is not complete.
 */
#include "reg_impl.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int fsync_dir(const char *dir) {
  int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return -1;
  int rc = fsync(fd);
  close(fd);
  return rc;
}

/* Copies src to dst (created, fsynced); unlinks dst on failure. */
static int copy_file(const char *src, const char *dst, rp_err *err) {
  int in = open(src, O_RDONLY | O_CLOEXEC);
  if (in < 0) return rp_errf(err, RP_EIO, "cannot open model file '%s': %s", src, strerror(errno));
  int out = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (out < 0) {
    int e = errno;
    close(in);
    return rp_errf(err, RP_EIO, "cannot create '%s': %s", dst, strerror(e));
  }
  char *buf = rp_malloc(1 << 20);
  int rc = buf ? RP_OK : rp_enomem(err, "copy buffer");
  while (!rc) {
    ssize_t k = read(in, buf, 1 << 20);
    if (k < 0 && errno == EINTR) continue;
    if (k < 0) rc = rp_errf(err, RP_EIO, "cannot read '%s': %s", src, strerror(errno));
    if (k <= 0) break;
    for (ssize_t off = 0; off < k && !rc;) {
      ssize_t w = write(out, buf + off, (size_t)(k - off));
      if (w < 0 && errno == EINTR) continue;
      if (w < 0) rc = rp_errf(err, RP_EIO, "cannot write '%s': %s", dst, strerror(errno));
      off += w > 0 ? w : 0;
    }
  }
  rp_free(buf);
  close(in);
  if (!rc && fsync(out) != 0 && errno != EINVAL)
    rc = rp_errf(err, RP_EIO, "cannot sync '%s': %s", dst, strerror(errno));
  if (close(out) != 0 && !rc)
    rc = rp_errf(err, RP_EIO, "cannot close '%s': %s", dst, strerror(errno));
  if (rc) unlink(dst);
  return rc;
}

/* the extension of a model file name: ".rpa", ".rpa.gz", "" */
static const char *extension(const char *path) {
  const char *base = strrchr(path, '/');
  base = base ? base + 1 : path;
  const char *dot = strchr(base + (base[0] == '.'), '.');
  return dot && strlen(dot) <= 16 ? dot : "";
}

static int64_t next_version(rp_registry *r, const char *name, rp_err *err) {
  sqlite3_stmt *st = rp_reg_prep(
      r, err, "SELECT coalesce(max(version), 0) FROM models WHERE name = ?1", "t", name);
  if (!st) return -1;
  int64_t v = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) + 1 : -1;
  if (v < 0) rp_reg_error(r, err, "reading model versions");
  sqlite3_finalize(st);
  return v;
}

int rp_registry_register(rp_registry *r, const char *name, const char *path, const rp_model_spec *s,
                         int64_t *version, rp_err *err) {
  rp_model_spec none = {0};
  if (!s) s = &none;
  if (rp_reg_writable(r, "register a model", err) || rp_registry_check_name("model", name, err))
    return err->status;
  if (!path || !*path) return rp_errf(err, RP_EINVAL, "register: no model file given");
  for (int i = 0; i < s->nmetrics; i++)
    if (!s->metrics[i].name || !*s->metrics[i].name)
      return rp_errf(err, RP_EINVAL, "register: metric %d has no name", i + 1);
  struct stat st;
  if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
    return rp_errf(err, RP_EIO, "register: model file '%s': %s", path,
                   errno ? strerror(errno) : "not a regular file");
  char dir[PATH_MAX], tmp[PATH_MAX + 64], dst[PATH_MAX + 96], rel[256];
  snprintf(dir, sizeof dir, "%s/%s", r->models, name);
  if ((mkdir(r->models, 0755) != 0 && errno != EEXIST) ||
      (mkdir(dir, 0755) != 0 && errno != EEXIST))
    return rp_errf(err, RP_EIO, "cannot create '%s': %s", dir, strerror(errno));
  static int seq;
  snprintf(tmp, sizeof tmp, "%s/.tmp-%ld-%d%s", dir, (long)getpid(), ++seq, extension(path));
  int rc;
  if (s->move) {
    rc = rename(path, tmp) == 0 ? RP_OK : copy_file(path, tmp, err);
    if (!rc && access(path, F_OK) == 0) unlink(path);
  } else {
    rc = copy_file(path, tmp, err);
  }
  if (rc) return rc;
  char fp[64];
  int64_t size;
  if ((rc = rp_fingerprint_file(tmp, fp, &size, err))) {
    unlink(tmp);
    return rc;
  }
  double now;
  if ((rc = rp_registry_now(&now, err)) || (rc = rp_reg_begin(r, err))) {
    unlink(tmp);
    return rc;
  }
  int64_t v = next_version(r, name, err);
  if (v < 0) rc = err->status;
  if (!rc) {
    snprintf(rel, sizeof rel, "models/%s/v%lld%s", name, (long long)v, extension(path));
    snprintf(dst, sizeof dst, "%s/%s", r->dir, rel);
    if (rename(tmp, dst) != 0)
      rc = rp_errf(err, RP_EIO, "cannot rename '%s' to '%s': %s", tmp, dst, strerror(errno));
    else
      fsync_dir(dir);
  }
  if (!rc)
    rc = rp_reg_run(r,
                    rp_reg_prep(r, err,
                                "INSERT INTO models(name, version, file, size, fingerprint, "
                                "created, run, training, report, options) VALUES(?1, ?2, ?3, ?4, "
                                "?5, ?6, ?7, ?8, ?9, ?10)",
                                s->run > 0 ? "tititdittt" : "tititdnttt", name, v, rel, size, fp,
                                now, s->run, s->training, s->report, s->options),
                    err);
  int64_t model = sqlite3_last_insert_rowid(r->db);
  for (int i = 0; !rc && i < s->nmetrics; i++) {
    const rp_model_metric *m = &s->metrics[i];
    rc = rp_reg_run(
        r,
        rp_reg_prep(r, err, "INSERT OR REPLACE INTO model_metrics VALUES(?1, ?2, ?3, ?4, ?5)",
                    "itddd", model, m->name, m->value, m->lo, m->hi),
        err);
  }
  if (rc) {
    rp_reg_rollback(r);
    unlink(tmp); /* the file stays only when renamed: the next version takes it over */
    return rc;
  }
  if ((rc = rp_reg_commit(r, err))) return rc;
  *version = v;
  return RP_OK;
}

/* The file (relative to the directory) of name/version; *found = 0 when
 * there is no such version. */
static int model_file(rp_registry *r, const char *name, int64_t version, char **path, int *found,
                      rp_err *err) {
  sqlite3_stmt *st = rp_reg_prep(r, err, "SELECT file FROM models WHERE name = ?1 AND version = ?2",
                                 "ti", name, version);
  if (!st) return err->status;
  int rc = sqlite3_step(st);
  *found = rc == SQLITE_ROW;
  if (rc == SQLITE_ROW && path) {
    const char *rel = (const char *)sqlite3_column_text(st, 0);
    size_t n = strlen(r->dir) + strlen(rel) + 2;
    *path = rp_malloc(n);
    if (*path) snprintf(*path, n, "%s/%s", r->dir, rel);
    rc = *path ? SQLITE_ROW : SQLITE_NOMEM;
  }
  sqlite3_finalize(st);
  if (rc == SQLITE_NOMEM) return rp_enomem(err, "model path");
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) return rp_reg_error(r, err, "reading models");
  return RP_OK;
}

int rp_registry_model_path(rp_registry *r, const char *name, int64_t version, char **path,
                           rp_err *err) {
  *path = NULL;
  int found;
  if (model_file(r, name, version, path, &found, err)) return err->status;
  if (!found)
    return rp_errf(err, RP_EINVAL, "registry %s: no model '%s' version %lld", r->path,
                   name ? name : "", (long long)version);
  return RP_OK;
}

static int live_version(rp_registry *r, const char *name, int64_t *version, rp_err *err) {
  sqlite3_stmt *st = rp_reg_prep(r, err, "SELECT version FROM live WHERE name = ?1", "t", name);
  if (!st) return err->status;
  int rc = sqlite3_step(st);
  *version = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
  sqlite3_finalize(st);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE)
    return rp_reg_error(r, err, "reading the live pointer");
  return RP_OK;
}

int rp_registry_live(rp_registry *r, const char *name, int64_t *version, char **path, rp_err *err) {
  if (path) *path = NULL;
  if (rp_registry_check_name("model", name, err)) return err->status;
  /* one read transaction: the pointer and the file name agree */
  if (sqlite3_exec(r->db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK)
    return rp_reg_error(r, err, "reading");
  int rc = live_version(r, name, version, err);
  int found = 0;
  if (!rc && *version > 0 && path) rc = model_file(r, name, *version, path, &found, err);
  sqlite3_exec(r->db, "COMMIT", NULL, NULL, NULL);
  return rc;
}

static const char *const ACTIONS[] = {"initial", "promote", "refuse", "rollback"};

static int record(rp_registry *r, const char *name, int action, int64_t version, int64_t previous,
                  const rp_promotion *p, double now, int64_t *id, rp_err *err) {
  int rc = rp_reg_run(
      r,
      rp_reg_prep(r, err,
                  "INSERT INTO promotions(name, action, version, previous, reason, metric, diff, "
                  "lo, hi, candidate_report, live_report, run, t) VALUES(?1, ?2, ?3, ?4, ?5, ?6, "
                  "?7, ?8, ?9, ?10, ?11, ?12, ?13)",
                  p->run > 0 ? (previous > 0 ? "ttiittdddttid" : "ttinttdddttid")
                             : (previous > 0 ? "ttiittdddttnd" : "ttinttdddttnd"),
                  name, ACTIONS[action], version, previous, p->reason, p->metric, p->diff, p->lo,
                  p->hi, p->candidate_report, p->live_report, p->run, now),
      err);
  *id = sqlite3_last_insert_rowid(r->db);
  return rc;
}

static int set_live(rp_registry *r, const char *name, int64_t version, double now, int64_t promo,
                    rp_err *err) {
  return rp_reg_run(r,
                    rp_reg_prep(r, err, "INSERT OR REPLACE INTO live VALUES(?1, ?2, ?3, ?4)",
                                "tidi", name, version, now, promo),
                    err);
}

int rp_registry_promote(rp_registry *r, const char *name, int64_t version, const rp_promotion *p,
                        rp_err *err) {
  if (rp_reg_writable(r, "promote", err) || rp_registry_check_name("model", name, err))
    return err->status;
  if (!p || p->action < RP_PROMO_INITIAL || p->action > RP_PROMO_REFUSE)
    return rp_errf(err, RP_EINVAL, "promote: action must be initial, promote or refuse");
  double now;
  if (rp_registry_now(&now, err) || rp_reg_begin(r, err)) return err->status;
  int found;
  int64_t live, id;
  int rc = model_file(r, name, version, NULL, &found, err);
  if (!rc && !found)
    rc = rp_errf(err, RP_EINVAL, "promote: no model '%s' version %lld", name, (long long)version);
  if (!rc) rc = live_version(r, name, &live, err);
  if (!rc && p->expect_live >= 0 && live != p->expect_live)
    rc = rp_errf(err, RP_EINVAL,
                 "promote '%s': the live version changed to %lld while the gate compared against "
                 "%lld; run the gate again",
                 name, (long long)live, (long long)p->expect_live);
  if (!rc && p->action == RP_PROMO_INITIAL && live > 0)
    rc = rp_errf(err, RP_EINVAL,
                 "promote '%s': version %lld is live already, so version %lld "
                 "needs the gate",
                 name, (long long)live, (long long)version);
  if (!rc) rc = record(r, name, p->action, version, live, p, now, &id, err);
  if (!rc && p->action != RP_PROMO_REFUSE) rc = set_live(r, name, version, now, id, err);
  if (rc) {
    rp_reg_rollback(r);
    return rc;
  }
  return rp_reg_commit(r, err);
}

int rp_registry_rollback(rp_registry *r, const char *name, int64_t to, const char *reason,
                         int64_t run, int64_t *version, rp_err *err) {
  if (rp_reg_writable(r, "roll back", err) || rp_registry_check_name("model", name, err))
    return err->status;
  double now;
  if (rp_registry_now(&now, err) || rp_reg_begin(r, err)) return err->status;
  int64_t live, id;
  int rc = live_version(r, name, &live, err);
  if (!rc && live == 0) rc = rp_errf(err, RP_EINVAL, "rollback: '%s' has no live version", name);
  if (!rc && to == 0) {
    /* the version live before the current one: walk back the decisions
     * that changed the pointer, skipping those that set the current one */
    sqlite3_stmt *st = rp_reg_prep(r, err,
                                   "SELECT version FROM promotions WHERE name = ?1 AND action <> "
                                   "'refuse' AND version <> ?2 ORDER BY id DESC LIMIT 1",
                                   "ti", name, live);
    if (!st) rc = err->status;
    if (!rc) {
      int s = sqlite3_step(st);
      if (s == SQLITE_ROW) to = sqlite3_column_int64(st, 0);
      sqlite3_finalize(st);
      if (s != SQLITE_ROW && s != SQLITE_DONE) rc = rp_reg_error(r, err, "reading promotions");
      if (!rc && s == SQLITE_DONE)
        rc = rp_errf(err, RP_EINVAL, "rollback: '%s' has had only version %lld live", name,
                     (long long)live);
    }
  }
  int found = 0;
  if (!rc) rc = model_file(r, name, to, NULL, &found, err);
  if (!rc && !found)
    rc = rp_errf(err, RP_EINVAL, "rollback: no model '%s' version %lld", name, (long long)to);
  rp_promotion p = {.action = RP_PROMO_ROLLBACK, .reason = reason, .run = run};
  p.diff = p.lo = p.hi = RP_NAN_;
  if (!rc) rc = record(r, name, RP_PROMO_ROLLBACK, to, live, &p, now, &id, err);
  if (!rc) rc = set_live(r, name, to, now, id, err);
  if (rc) {
    rp_reg_rollback(r);
    return rc;
  }
  if ((rc = rp_reg_commit(r, err))) return rc;
  *version = to;
  return RP_OK;
}
