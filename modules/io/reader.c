/*
 * reader.c -- delimited event logs to Events, fast.
 *
 * How it goes fast without giving up exactness:
 *
 *  - The input is read in large blocks.  The first block, and any block
 *    holding a quote character (a newline may sit inside a quoted field), is
 *    parsed by one thread straight into the result, interning ids as it
 *    goes.  Other blocks are cut at line ends into small pieces that the
 *    threads take in turn.
 *  - Inside a piece the separator, newline and quote positions come from
 *    64-byte bit masks (AVX-512/AVX2/SSE2 compares, or a scalar loop), so a
 *    field costs a count-trailing-zeros, not a byte loop.  A record with a
 *    quote, or a multi-byte separator ("::"), takes the general RFC 4180
 *    record parser instead.
 *  - Numbers are parsed by hand on the common forms (iotext.h) with strtof
 *    behind them, so results are what strtof gives.
 *  - Ids are looked up in batches: the hashes of 16 rows are computed and
 *    their table slots prefetched before the first lookup, so cache misses
 *    overlap instead of queueing.
 *  - Ids must get indices in order of first appearance in the file, as a
 *    sequential read gives them, whatever the threads.  While pieces are
 *    parsed in parallel the maps are only read: a row whose user, item,
 *    event type or context value is not in its map yet is written with the
 *    id noted.  Then, piece by piece in file order, the noted ids are
 *    interned, which appends exactly the ids a sequential read would have
 *    appended, in the same order.  After the first block few ids are new, so
 *    this sequential part is small.  Each piece writes its rows straight
 *    into the result, from an offset given by the line counts of the pieces
 *    before it; the rare gaps left by blank, skipped or dropped lines are
 *    closed afterwards.  Errors are reported in file order too.
 *  - Memory: the block buffer and the result, whose columns are reserved
 *    from an estimate after the first block (and mapped in one call rather
 *    than page by page) and trimmed to size at the end.
 *
 * This file holds the options and the block loop; the parts it drives
 * (parsing a piece, the header, the buffer, the threads) are listed in
 * reader_impl.h.
 */
#include "reader_impl.h"
#include "tz.h"

#include <sys/mman.h>

#define DEFAULT_BLOCK ((size_t)2 << 20)
#define PIECE_BYTES ((size_t)128 << 10) /* a piece of a parallel block */

static const char *const user_names[] = {"user",      "user_id", "userId",      "userid",
                                         "UserID",    "UserId",  "customer_id", "CustomerID",
                                         "visitorid", NULL};
static const char *const item_names[] = {
    "item",     "item_id",    "itemId",    "itemid",    "ItemID", "ItemId", "movieId",
    "movie_id", "product_id", "productId", "StockCode", "sku",    NULL};

const char *const *rp_io_read_default_names(int role) {
  return role == 0 ? user_names : item_names;
}

const char *const rp_io_time_unit_names[] = {"auto", "s", "ms", NULL};
const char *const rp_io_onerr_names[] = {"stop", "skip", NULL};
const char *const rp_io_unknown_names[] = {"add", "drop", NULL};

#define O rp_io_read_opts
#define COLUMN "a column name or a 1-based position"
const rp_optdesc rp_io_read_optdesc[] = {
    RP_OPT_S(O, sep, "sep", NULL),
    RP_OPT_B(O, header, "header", 1),
    RP_OPT_X("user", COLUMN " (default: the first header column named user, user_id, ...)"),
    RP_OPT_X("item", COLUMN " (default: the first header column named item, item_id, ...)"),
    RP_OPT_X("value", COLUMN),
    RP_OPT_X("time", COLUMN),
    RP_OPT_X("event", COLUMN),
    RP_OPT_X("weights", "a table {event type = weight}"),
    RP_OPT_X("context", "a list of column names or positions"),
    RP_OPT_E(O, time_unit, "time_unit", RP_TIME_SECONDS, rp_io_time_unit_names),
    RP_OPT_X("users", "an IdMap to read the users onto"),
    RP_OPT_X("items", "an IdMap to read the items onto"),
    RP_OPT_E(O, on_error, "on_error", RP_ONERR_STOP, rp_io_onerr_names),
    RP_OPT_E(O, unknown, "unknown", RP_UNKNOWN_ADD, rp_io_unknown_names),
    RP_OPT_I(O, threads, "threads", 0, 0, 256),
    RP_OPT_I(O, max_line_bytes, "max_line_bytes", (double)RP_READ_MAX_LINE, 1, 1e15),
    RP_OPT_X("time_context", "a list of hour, weekday"),
    RP_OPT_S(O, time_zone, "time_zone", NULL),
    RP_OPT_END};
#undef COLUMN
#undef O

void rp_io_read_opts_init(rp_io_read_opts *o) {
  memset(o, 0, sizeof *o);
  rp_opts_init(rp_io_read_optdesc, o);
}

/* Maps the pages of the reserved columns in one call per column instead of
 * one page fault per 4 KiB as rows arrive (a hint: ignored where the kernel
 * lacks it). */
static void prefault(const rp_events *ev) {
#if defined(__linux__) && defined(MADV_POPULATE_WRITE)
  void *cols[5 + RP_MAX_CONTEXT] = {ev->user, ev->item, ev->value, ev->time, ev->event};
  size_t sz[5 + RP_MAX_CONTEXT] = {4, 4, 4, 8, 2};
  int n = 5;
  for (int k = 0; k < ev->ncontext; k++) cols[n] = ev->context[k], sz[n++] = 4;
  for (int k = 0; k < n; k++) {
    if (!cols[k]) continue;
    uintptr_t a = ((uintptr_t)cols[k] + (uintptr_t)ev->n * sz[k] + 4095) & ~(uintptr_t)4095;
    uintptr_t e = ((uintptr_t)cols[k] + (uintptr_t)ev->cap * sz[k]) & ~(uintptr_t)4095;
    if (e > a) {
#ifdef MADV_HUGEPAGE
      (void)madvise((void *)a, e - a, MADV_HUGEPAGE); /* fewer pages to map and miss */
#endif
      (void)madvise((void *)a, e - a, MADV_POPULATE_WRITE);
    }
  }
#else
  (void)ev;
#endif
}

/* the name of context column k in the result */
static void ctx_name(const rctx *c, const rp_io_read_opts *o, int k, char *dst, size_t size) {
  if (o->context[k].name) {
    snprintf(dst, size, "%s", o->context[k].name);
    return;
  }
  /* by position: the header name (colname is "column 'x'") or "columnN" */
  const char *cn = c->colname[R_CTX0 + k];
  if (o->header) {
    snprintf(dst, size, "%s", cn + 8);
    size_t L = strlen(dst);
    if (L) dst[L - 1] = 0;
  } else {
    snprintf(dst, size, "column%d", o->context[k].pos);
  }
}

static int make_result(const rctx *c, const rp_io_read_opts *o, rp_events **ev, rp_err *err) {
  char names[RP_MAX_CONTEXT][80];
  const char *cn[RP_MAX_CONTEXT];
  for (int k = 0; k < o->ncontext; k++) {
    ctx_name(c, o, k, names[k], sizeof names[k]);
    cn[k] = names[k];
  }
  rp_idmap *evn = NULL;
  if (c->col[R_EVENT] >= 0 && !(evn = rp_idmap_new(err))) return RP_ENOMEM;
  *ev = rp_events_new(o->users, o->items, c->col[R_TIME] >= 0, evn, o->ncontext, cn, NULL, err);
  rp_idmap_release(evn);
  return *ev ? RP_OK : RP_ENOMEM;
}

int rp_io_read_events(const char *path, const rp_io_read_opts *o, rp_events **out,
                      rp_io_read_report *rep, rp_err *err) {
  rp_io_read_report dummy;
  rp_err ebuf;
  if (!rep) rep = &dummy;
  if (!err) err = &ebuf;
  memset(rep, 0, sizeof *rep);
  *out = NULL;
  double t0 = rp_now();
  int rc = rp_io_read_check(path, o, err);
  if (rc) return rc;
  rp_io_tz *tz = NULL;
  if (o->time_context && !(tz = rp_io_tz_load(o->time_zone, err))) return err->status;
  rctx c;
  memset(&c, 0, sizeof c);
  c.path = strcmp(path, "-") == 0 ? "<stdin>" : path;
  c.o = o;
  c.drop_unknown = o->unknown == RP_UNKNOWN_DROP;
  int threads = rp_threads(o->threads);
  if (threads > MAX_PIECES) threads = MAX_PIECES;
  /* pieces of 128 KiB; with a tiny test block, about 4 per thread */
  c.piece_bytes = PIECE_BYTES;
  if (o->block && o->block / 4 / (size_t)threads < PIECE_BYTES)
    c.piece_bytes = o->block / 4 / (size_t)threads + 1;
  rbuf b = {0};
  pool pl = {0};
  dircache dcu = {0}, dci = {0};
  piece pcs[MAX_PIECES];
  memset(pcs, 0, sizeof pcs);
  rp_events *ev = NULL;
  if ((rc = rp_io_buf_open(&b, path, o->block ? o->block : DEFAULT_BLOCK, err)) ||
      (rc = rp_io_buf_refill(&b, 0, err)))
    goto done;
  /* a UTF-8 byte order mark may need more than a tiny first block */
  while (b.len < 3 && !b.eof) {
    if ((b.len == b.cap && (rc = rp_io_buf_grow(&b, err))) || (rc = rp_io_buf_refill(&b, 0, err)))
      goto done;
  }
  size_t at = rp_io_buf_bom(&b);
  int64_t lineno = 0; /* newlines consumed before the buffer start */
  for (;;) {
    /* blank lines before the first record */
    while (at < b.len &&
           (b.buf[at] == '\n' || (b.buf[at] == '\r' && at + 1 < b.len && b.buf[at + 1] == '\n')))
      lineno += b.buf[at++] == '\n';
    int more = at == b.len || (b.buf[at] == '\r' && at + 1 == b.len);
    if (!more || b.eof) break;
    if ((rc = rp_io_buf_refill(&b, at, err))) goto done;
    at = 0;
  }
  if (at >= b.len || (at + 1 == b.len && b.buf[at] == '\r')) {
    rc = rp_errf(err, RP_EPARSE, "%s: empty file", c.path);
    goto done;
  }
  size_t hdr_end = 0;
  int64_t hdr_lines = 0;
  c.line1 = lineno + 1;
  c.max_line = (size_t)o->max_line_bytes;
  if ((rc = rp_io_read_setup(&c, o, &b, at, &hdr_end, &hdr_lines, err))) goto done;
  snprintf(rep->sep, sizeof rep->sep, "%s", c.sep);
  rep->fields = c.nf;
  lineno += hdr_lines;
  if (o->nweights &&
      (rc = rp_typeweights_init(&c.tw, o->nweights, o->weight_names, o->weight_values, err)))
    goto done;
  if ((rc = make_result(&c, o, &ev, err))) goto done;
  c.dc[0] = &dcu;
  c.dc[1] = ev->items == ev->users ? &dcu : &dci;
  /* ids of maps read onto: cached when the array grows to cover them */
  for (int w = 0; w < 2; w++) {
    rp_idmap *m = w ? ev->items : ev->users;
    uint32_t v;
    for (int32_t i = 0; i < m->n && !c.dc[w]->cap; i++) {
      size_t len;
      const char *id = rp_idmap_id(m, i, &len);
      if (canon(id, len, &v) && (rc = rp_io_idcache_set(c.dc[w], v, i, m, err))) goto done;
    }
  }
  threads = rp_io_pool_start(&pl, &c, pcs, threads);
  size_t used = hdr_end;
  int first = 1;
  int estimated = 0;
  for (;;) {
    if (used && (rc = rp_io_buf_refill(&b, used, err))) goto done;
    used = 0;
    if (b.len == 0) break;
    int quotes = memchr(b.buf, '"', b.len) != NULL;
    size_t region = b.len;
    int np = 1;
    /* one direct piece: the first block (nearly every id is new: looking
     * them up in parallel would only defer the work), quoted text, one
     * thread; else parallel pieces */
    if (first || quotes || threads == 1) {
      pcs[0].start = b.buf;
      pcs[0].end = b.buf + b.len;
      pcs[0].sink = ev;
      pcs[0].direct = 1;
    } else {
      if (!b.eof) {
        const char *nlp = memrchr(b.buf, '\n', b.len);
        if (!nlp) {
          if ((rc = rp_io_buf_grow_line(&b, 0, o->max_line_bytes, lineno + 1, err)) ||
              (rc = rp_io_buf_refill(&b, 0, err)))
            goto done;
          continue;
        }
        region = (size_t)(nlp - b.buf) + 1;
      }
      np = rp_io_cut(b.buf, region, c.piece_bytes, pcs);
      int64_t total = 0;
      for (int k = 0; k < np; k++) total += pcs[k].nlines;
      if (ev->n + total > ev->cap) {
        int64_t want =
            ev->n + total > ev->cap + ev->cap / 4 ? ev->n + total : ev->cap + ev->cap / 4;
        if ((rc = rp_events_reserve(ev, want, err))) goto done;
        prefault(ev);
      }
      int64_t base = ev->n;
      for (int k = 0; k < np; k++) {
        rp_io_piece_view(&pcs[k], ev, base);
        base += pcs[k].nlines;
      }
    }
    for (int k = 0; k < np; k++) {
      piece *pc = &pcs[k];
      pc->nrefs = 0;
      pc->slen = 0;
      pc->final = b.eof && pc->end == b.buf + b.len;
      pc->lines = pc->datalines = pc->skipped = pc->dropped_unknown = pc->dropped_type = 0;
      pc->status = RP_OK;
      pc->nfirst = 0;
      pc->tornline = 0;
    }
    rp_io_pool_run(&pl, np);
    /* merge in file order */
    for (int k = 0; k < np; k++) {
      piece *pc = &pcs[k];
      rep->lines += pc->datalines;
      rep->skipped += pc->skipped;
      rep->dropped_unknown += pc->dropped_unknown;
      if (pc->dropped_type && !rep->dropped_type)
        snprintf(rep->dropped_example, sizeof rep->dropped_example, "%s", pc->dropped_example);
      rep->dropped_type += pc->dropped_type;
      if (pc->tornline) rep->torn_line = lineno + pc->tornline;
      for (int q = 0; q < pc->nfirst && rep->nfirst < RP_READ_FIRST_ERRORS; q++)
        snprintf(rep->first[rep->nfirst++], sizeof rep->first[0], "%s:%lld: %s", c.path,
                 (long long)(lineno + pc->firstline[q]), pc->first[q]);
      if (pc->status) {
        if (pc->status == RP_EPARSE)
          rc = rp_errf(err, RP_EPARSE, "%s:%lld: %s", c.path, (long long)(lineno + pc->errline),
                       pc->err.msg);
        else
          rc = rp_errf(err, pc->status, "%s:%lld: %s", c.path, (long long)(lineno + pc->errline),
                       pc->err.msg);
        goto done;
      }
      if (!pc->direct && (rc = rp_io_merge_piece(&c, ev, pc, lineno + 1, err))) goto done;
      lineno += pc->lines;
    }
    first = 0;
    used = (size_t)(pcs[np - 1].stop - b.buf);
    if (used == 0 && !b.eof) {
      /* one record longer than the buffer */
      if ((rc = rp_io_buf_grow_line(&b, 0, o->max_line_bytes, lineno + 1, err)) ||
          (rc = rp_io_buf_refill(&b, 0, err)))
        goto done;
      continue;
    }
    if (used == 0 && b.eof) break;
    if (!estimated && !b.eof && b.size > 0 && b.pos > 0 && ev->n > 0) {
      /* reserve the whole result from the first block's rows per byte; the
       * text size of a gzip file from its compression ratio so far (pos
       * counts compressed bytes read, a little ahead of the text) */
      estimated = 1;
      double text = (double)b.total - (double)(b.len - used);
      double total = rp_reader_is_gzip(b.rd) ? (double)b.size * (double)b.total / (double)b.pos
                                             : (double)b.size;
      double est = (double)ev->n * total / text;
      int64_t want = (int64_t)(est * 1.02) + 1024;
      if (want > ev->cap && (rc = rp_events_reserve(ev, want, err))) goto done;
      prefault(ev);
    }
    if (b.size) rp_progress("reading", (double)b.pos, (double)b.size, 0);
    if (b.eof && used == b.len) break;
  }
  if ((rc = rp_events_shrink(ev, err))) goto done;
  if (o->time_context && (rc = rp_io_time_context(ev, o->time_context, tz, err))) {
    char msg[sizeof err->msg];
    snprintf(msg, sizeof msg, "%s", err->msg);
    rc = rp_errf(err, rc, "%s: %s", c.path, msg);
  }
done:
  rp_io_tz_free(tz);
  if (b.size) rp_progress("reading", (double)b.size, (double)b.size, 1);
  rep->bytes = b.total;
  rep->rows = ev && !rc ? ev->n : 0;
  rep->seconds = rp_now() - t0;
  rp_io_pool_stop(&pl);
  rp_free(dcu.idx);
  rp_free(dci.idx);
  for (int k = 0; k < MAX_PIECES; k++) rp_io_piece_free(&pcs[k]);
  rp_free(c.role);
  rp_typeweights_free(&c.tw);
  rp_io_buf_close(&b);
  if (rc) {
    rp_events_free(ev);
    return rc;
  }
  if (rep->torn_line)
    rp_log(RP_LOG_WARN,
           "%s:%lld: the last line has no line end and does not parse: ignored as torn (a write "
           "cut short, such as a log whose writer crashed)",
           c.path, (long long)rep->torn_line);
  if (rep->skipped)
    rp_log(RP_LOG_WARN, "%s: skipped %lld malformed line%s (first: %s)", c.path,
           (long long)rep->skipped, rep->skipped == 1 ? "" : "s", rep->first[0]);
  rp_typeweights_warn(c.path, rep->dropped_type, rep->dropped_example);
  if (rep->dropped_unknown)
    rp_log(RP_LOG_WARN, "%s: dropped %lld row%s with a user or item not in the given maps", c.path,
           (long long)rep->dropped_unknown, rep->dropped_unknown == 1 ? "" : "s");
  rp_log(RP_LOG_DEBUG, "%s: %lld events, %d users, %d items in %.3f s", c.path, (long long)ev->n,
         ev->users->n, ev->items->n, rep->seconds);
  *out = ev;
  return RP_OK;
}
