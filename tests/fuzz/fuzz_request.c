/*
 * fuzz_request.c -- what the server reads from clients: request bodies
 * and query strings into request structs (runtime/serve/request.c, cJSON),
 * and what it writes back: JSON string literals and CSV fields
 * (runtime/serve/jbuf.c).
 *
 * Option byte, then the input:
 *   0  bits 0-1 what to parse:
 *        0  a POST /v1/recommend body (rp_sreq_json, then rp_sreq_finish)
 *        1  a POST /v1/events body (rp_sevents_json)
 *        2  a query string: split at '&' and '=', %XX and '+' decoded as
 *           libmicrohttpd does, each pair through rp_sreq_param
 *        3  the input as an id: rp_jbuf_jstr must write a JSON string that
 *           cJSON reads back to the same bytes (up to the first NUL), and
 *           rp_csv_field a field that splits back to them
 *      bits 2-3 the limits: default (as the server's), tiny (k 3, lists 2,
 *      ids 4 bytes, batch 2), huge, and an arena of 4 KiB
 *
 * Checks: a parse succeeds or fails with a 4xx status and a message; a
 * success respects every limit; nothing leaks (every rp_malloc is freed,
 * the arena included); memory stays within fuzz.h's allowance for the
 * input's size.  Links the server's request.o and jbuf.o (FUZZ_LINK in the
 * Makefile) and cJSON, whose allocations go through rp_malloc here so they
 * are counted too.
 */
#include <cjson/cJSON.h>

#include "fuzz.h"
#include "serve/jbuf.h"
#include "serve/request.h"

static void *hook_malloc(size_t n) { return rp_malloc(n); }
static void hook_free(void *p) { rp_free(p); }

static int hexval(int c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* in place, as libmicrohttpd's MHD_http_unescape after '+' -> ' ' */
static void unescape(char *s) {
  char *o = s;
  for (char *p = s; *p; p++) {
    if (*p == '+') {
      *o++ = ' ';
    } else if (*p == '%' && hexval(p[1]) >= 0 && hexval(p[2]) >= 0) {
      *o++ = (char)(hexval(p[1]) * 16 + hexval(p[2]));
      p += 2;
    } else {
      *o++ = *p;
    }
  }
  *o = 0;
}

static void check_error(const rp_serr *e) {
  if (e->status < 400 || e->status > 499) fz_fail("error status %d: %s", e->status, e->message);
  if (!e->message[0]) fz_fail("an error without a message");
}

static void check_ids(const char **ids, int32_t n, const rp_slimits *lim, const char *what) {
  if (n > lim->max_list) fz_fail("%s: %d ids past the limit %d", what, n, lim->max_list);
  for (int32_t i = 0; i < n; i++)
    if (!rp_sid_ok(ids[i], strlen(ids[i]), lim->max_id))
      fz_fail("%s[%d] is not a valid id", what, i);
}

static void check_request(const rp_sreq *q, const rp_slimits *lim) {
  if (q->k < 0 || q->k > lim->max_k) fz_fail("k %d past the limit", q->k);
  if (q->user && !rp_sid_ok(q->user, strlen(q->user), lim->max_id)) fz_fail("bad user id accepted");
  check_ids(q->history, q->nhistory, lim, "history");
  check_ids(q->allow, q->nallow, lim, "items");
  check_ids(q->deny, q->ndeny, lim, "deny");
  if (q->values && q->nvalues != q->nhistory) fz_fail("values and history differ in length");
  if (q->nattributes > lim->max_pairs || q->ncontext > lim->max_pairs) fz_fail("too many pairs");
}

static void roundtrip(const uint8_t *data, size_t size) {
  char *s = malloc(size + 1);
  if (!s) fz_fail("out of memory");
  memcpy(s, data, size);
  s[size] = 0;
  rp_jbuf b = {0};
  rp_jbuf_jstr(&b, s);
  if (b.oom) fz_fail("jstr: out of memory");
  cJSON *v = cJSON_ParseWithLength(b.p, b.n);
  if (!v || !cJSON_IsString(v)) fz_fail("jstr wrote something cJSON does not read as a string");
  if (strcmp(v->valuestring, s) != 0) fz_fail("jstr: the string did not read back the same");
  cJSON_Delete(v);
  /* CSV: unquote the field and compare */
  rp_jbuf_reset(&b);
  rp_csv_field(&b, s);
  size_t n = strlen(s);
  if (b.n && b.p[0] == '"') {
    if (b.n < 2 || b.p[b.n - 1] != '"') fz_fail("csv: an unterminated quoted field");
    size_t o = 0;
    for (size_t i = 1; i + 1 < b.n; i++) {
      if (b.p[i] == '"') {
        if (b.p[i + 1] != '"') fz_fail("csv: a lone quote inside a quoted field");
        i++;
      }
      if (o >= n || b.p[i] != s[o++]) fz_fail("csv: the field does not read back");
    }
    if (o != n) fz_fail("csv: the field reads back shorter");
  } else if (b.n != n || memcmp(b.p, s, n) != 0 || strpbrk(s, ",\"\r\n")) {
    fz_fail("csv: an unquoted field that needed quotes or changed");
  }
  rp_jbuf_free(&b);
  free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static int init;
  if (!init) {
    cJSON_Hooks h = {hook_malloc, hook_free};
    cJSON_InitHooks(&h);
    fz_quiet();
    init = 1;
  }
  if (size == 0) return 0;
  unsigned op = data[0];
  data++, size--;
  rp_slimits lim = {1000, 1000, 64, 256, 1000};
  size_t arena_limit = size * 8 + ((size_t)8 << 20);
  switch ((op >> 2) & 3) {
    case 1:
      lim = (rp_slimits){3, 2, 2, 4, 2};
      break;
    case 2:
      lim = (rp_slimits){1000000, 1000000, 64, 65536, 1000000};
      break;
    case 3:
      arena_limit = 4096;
      break;
    default:
      break;
  }
  fz_mem m;
  fz_mem_begin(&m);
  rp_arena a;
  rp_arena_init(&a, arena_limit);
  rp_serr e;
  rp_sreq q;
  rp_sreq_init(&q);
  switch (op & 3) {
    case 0:
      if (rp_sreq_json(&q, &a, (const char *)data, size, &lim, &e) || rp_sreq_finish(&q, &lim, &e))
        check_error(&e);
      else
        check_request(&q, &lim);
      break;
    case 1: {
      static const char *const types[] = {"view", "click", "addtocart", "purchase"};
      rp_sevent *ev = NULL;
      int n = rp_sevents_json(&a, (const char *)data, size, &lim, types, 4, &ev, &e);
      if (n < 0) {
        check_error(&e);
      } else {
        if (n < 1 || n > lim.max_batch)
          fz_fail("%d events accepted (batch limit %d)", n, lim.max_batch);
        for (int i = 0; i < n; i++)
          if (!ev[i].user || !ev[i].item || !ev[i].event || !ev[i].request_id)
            fz_fail("event %d lacks a field", i);
      }
      break;
    }
    case 2: {
      char *qs = malloc(size + 1);
      if (!qs) fz_fail("out of memory");
      memcpy(qs, data, size);
      qs[size] = 0;
      int bad = 0;
      for (char *p = qs, *amp; p && !bad; p = amp) {
        amp = strchr(p, '&');
        if (amp) *amp++ = 0;
        if (!*p) continue;
        char *eq = strchr(p, '=');
        if (eq) *eq++ = 0;
        unescape(p);
        if (eq) unescape(eq);
        if (rp_sreq_param(&q, &a, p, eq ? eq : "", &lim, &e)) {
          check_error(&e);
          bad = 1;
        }
      }
      if (!bad && rp_sreq_finish(&q, &lim, &e)) check_error(&e), bad = 1;
      if (!bad) check_request(&q, &lim);
      free(qs);
      break;
    }
    default:
      roundtrip(data, size);
  }
  rp_arena_free(&a);
  fz_mem_end(&m, "the request parser", size);
  return 0;
}
