/*
 * http.c -- the HTTP side of `recpipe serve`, on libmicrohttpd.
 *
 * Threading: one libmicrohttpd daemon per worker, each in external epoll
 * mode on its own listening socket (SO_REUSEPORT: the kernel spreads the
 * connections), driven by the worker's own thread: wait for events, let
 * MHD_run handle every ready connection, then score the cycle's batch.  A
 * worker owns its Lua state, arena and buffers outright, so a request never
 * waits for another thread.  Requests that can be batched (answer.c) are
 * suspended during the cycle, scored together after it, and resumed: the
 * next MHD_run sends their answers.  (MHD's internal thread pool gives no
 * hook at the end of a cycle, so it cannot batch; measured in
 * tests/bench/RESULTS.md.)
 *
 * Bodies: MHD calls the access handler first with the headers (we route,
 * check Content-Length against max_body and answer 413 at once when it is
 * over), then with each piece of the body (appended up to max_body), then
 * once more with nothing: then we answer.  A reload request is suspended
 * (MHD_suspend_connection) until the main thread has reloaded, then
 * resumed and answered with the outcome.
 *
 * Limits come from libmicrohttpd where it has them (connections, idle
 * timeout, request line and header memory) and from the settings for the
 * rest (body size, k, lists, batch size); malformed HTTP is answered by
 * libmicrohttpd itself (400, 413/431) and never reaches a worker.
 */
#include <arpa/inet.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <microhttpd.h>

#include "registry.h"
#include "serve.h"

typedef struct hconn {
  int ep, status;
  char *body;
  size_t len, cap;
  int too_big;
  double t0;
  int wid;
  int reload;          /* 0 none, 1 waiting, 2 done */
  rp_pending *pending; /* waiting for the worker's batch */
  int reload_ok;
  char reload_msg[600];
  struct MHD_Connection *mc;
  struct hconn *next;
  char rid[72];
} hconn;

/* ---- answering --------------------------------------------------------------- */
static enum MHD_Result send_reply(rp_server *s, hconn *h, int status, const char *body, size_t len,
                                  const char *type) {
  struct MHD_Response *r =
      MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
  if (!r) return MHD_NO;
  MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
  if (h->rid[0]) MHD_add_response_header(r, "X-Request-Id", h->rid);
  if (atomic_load(&s->draining)) MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
  if (status == 405)
    MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW,
                            h->ep == EP_RECOMMEND                      ? "GET, POST"
                            : h->ep == EP_EVENTS || h->ep == EP_RELOAD ? "POST"
                                                                       : "GET");
  if (status == 401) MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
  enum MHD_Result rc = MHD_queue_response(h->mc, (unsigned)status, r);
  MHD_destroy_response(r);
  h->status = status;
  return rc;
}

static enum MHD_Result send_json(rp_server *s, hconn *h, const rp_reply *r) {
  return send_reply(s, h, r->status, r->body, r->len, "application/json");
}

static enum MHD_Result send_error(rp_server *s, hconn *h, rp_worker *w, const rp_serr *e) {
  rp_reply r;
  if (w) {
    rp_answer_error(w, e, h->rid, &r);
    return send_json(s, h, &r);
  }
  char buf[800];
  int n = snprintf(buf, sizeof buf, "{\"error\":\"%s\",\"status\":%d}\n", "server busy", e->status);
  return send_reply(s, h, e->status, buf, (size_t)n, "application/json");
}

static enum MHD_Result error(rp_server *s, hconn *h, rp_worker *w, int status, const char *field,
                             const char *msg) {
  rp_serr e;
  rp_serr_set(&e, status, field, "%s", msg);
  return send_error(s, h, w, &e);
}

/* ---- routing ------------------------------------------------------------------- */
static int route(const char *url) {
  static const struct {
    const char *path;
    int ep;
  } routes[] = {
      {"/v1/recommend", EP_RECOMMEND}, {"/v1/similar", EP_SIMILAR},  {"/v1/events", EP_EVENTS},
      {"/healthz", EP_HEALTHZ},        {"/readyz", EP_READYZ},       {"/metrics", EP_METRICS},
      {"/v1/admin/reload", EP_RELOAD}, {"/dashboard", EP_DASHBOARD}, {NULL, EP_OTHER}};
  for (int i = 0; routes[i].path; i++)
    if (strcmp(url, routes[i].path) == 0) return routes[i].ep;
  return EP_OTHER;
}

static int method_ok(int ep, const char *m) {
  int get = strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0, post = strcmp(m, "POST") == 0;
  switch (ep) {
    case EP_RECOMMEND:
      return get || post;
    case EP_EVENTS:
    case EP_RELOAD:
      return post;
    default:
      return get;
  }
}

/* A request id from X-Request-Id when it is a sane token, else a new one. */
static void request_id(rp_server *s, struct MHD_Connection *mc, hconn *h) {
  const char *v = MHD_lookup_connection_value(mc, MHD_HEADER_KIND, "X-Request-Id");
  if (v) {
    size_t n = strlen(v), ok = n > 0 && n <= 64;
    for (size_t i = 0; ok && i < n; i++)
      ok = (v[i] >= 'a' && v[i] <= 'z') || (v[i] >= 'A' && v[i] <= 'Z') ||
           (v[i] >= '0' && v[i] <= '9') || strchr("-_.:", v[i]);
    if (ok) {
      memcpy(h->rid, v, n + 1);
      return;
    }
  }
  rp_server_request_id(s, h->rid);
}

/* ---- query strings --------------------------------------------------------------- */
typedef struct params {
  rp_server *s;
  rp_worker *w;
  rp_sreq *q;
  rp_serr *e;
  int failed, similar;
} params;

static enum MHD_Result param(void *cls, enum MHD_ValueKind kind, const char *key,
                             const char *value) {
  (void)kind;
  params *p = cls;
  if (p->similar && strcmp(key, "item") != 0 && strcmp(key, "k") != 0) {
    rp_serr_set(p->e, 400, key, "unknown parameter '%.60s' (known: item, k)", key);
    p->failed = 1;
    return MHD_NO;
  }
  if (rp_sreq_param(p->q, &p->w->arena, key, value ? value : "", &p->s->lim, p->e)) {
    p->failed = 1;
    return MHD_NO;
  }
  return MHD_YES;
}

static int read_params(rp_server *s, rp_worker *w, struct MHD_Connection *mc, rp_sreq *q,
                       int similar, rp_serr *e) {
  params p = {s, w, q, e, 0, similar};
  MHD_get_connection_values(mc, MHD_GET_ARGUMENT_KIND, param, &p);
  return p.failed ? -1 : 0;
}

/* ---- admin ------------------------------------------------------------------------- */
static int token_equal(const char *a, const char *b) {
  size_t na = strlen(a), nb = strlen(b);
  unsigned char d = (unsigned char)(na != nb);
  for (size_t i = 0; i < na; i++) d |= (unsigned char)(a[i] ^ b[i < nb ? i : 0]);
  return d == 0;
}

/* 0 when the admin request may go on; else the error status (e set). */
static int admin_check(rp_server *s, struct MHD_Connection *mc, rp_serr *e) {
  if (!s->admin_token[0]) {
    if (s->loopback) return 0;
    return rp_serr_set(e, 403, "",
                       "admin endpoints are off: the server listens on a "
                       "non-loopback address and has no admin_token "
                       "(setting, or RECPIPE_ADMIN_TOKEN)"),
           403;
  }
  const char *v = MHD_lookup_connection_value(mc, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
  if (!v || strncmp(v, "Bearer ", 7) != 0 || !token_equal(v + 7, s->admin_token))
    return rp_serr_set(e, 401, "Authorization",
                       "admin endpoints need 'Authorization: Bearer <admin_token>'"),
           401;
  return 0;
}

void rp_http_reload_done(rp_server *s, int ok, const char *message) {
  pthread_mutex_lock(&s->wait_lock);
  hconn *h = s->reload_waiting;
  s->reload_waiting = NULL;
  pthread_mutex_unlock(&s->wait_lock);
  while (h) {
    hconn *next = h->next;
    h->reload = 2;
    h->reload_ok = ok;
    snprintf(h->reload_msg, sizeof h->reload_msg, "%s", message);
    MHD_resume_connection(h->mc);
    h = next;
  }
}

static enum MHD_Result reload(rp_server *s, hconn *h, rp_worker *w) {
  if (h->reload == 2) {
    rp_jbuf *b = &w->out;
    rp_jbuf_reset(b);
    if (h->reload_ok) {
      rp_jbuf_puts(b, "{\"reloaded\":true,\"model_version\":");
      rp_jbuf_jstr(b, h->reload_msg);
      rp_jbuf_puts(b, "}\n");
      return send_reply(s, h, 200, b->p, b->n, "application/json");
    }
    return error(s, h, w, 500, "", h->reload_msg);
  }
  rp_serr e;
  if (admin_check(s, h->mc, &e)) return send_error(s, h, w, &e);
  h->reload = 1;
  pthread_mutex_lock(&s->wait_lock);
  h->next = s->reload_waiting;
  s->reload_waiting = h;
  pthread_mutex_unlock(&s->wait_lock);
  MHD_suspend_connection(h->mc);
  pthread_kill(s->main_thread, SIGUSR1);
  return MHD_YES;
}

/* GET /dashboard: the registry's page (rp_dashboard_render, as `recpipe
 * dashboard` writes it), read from a read-only connection of its own (the
 * main thread's is for the live pointer).  An admin endpoint: the page shows
 * run configurations and logs. */
static enum MHD_Result dashboard(rp_server *s, hconn *h, rp_worker *w) {
  rp_serr e;
  if (admin_check(s, h->mc, &e)) return send_error(s, h, w, &e);
  if (!s->set.registry[0])
    return error(s, h, w, 404, "path", "no dashboard: no registry configured (setting 'registry')");
  rp_registry *reg;
  rp_err err;
  rp_buf page = {0};
  rp_dashboard_opts d;
  rp_dashboard_opts_init(&d);
  int rc = rp_serve_registry_open(s->set.registry, &reg, &err);
  if (!rc) {
    rc = rp_dashboard_render(reg, &d, &page, &err);
    rp_registry_close(reg);
  }
  enum MHD_Result r;
  if (rc)
    r = error(s, h, w, 503, "", err.msg);
  else
    r = send_reply(s, h, 200, page.data, page.len, "text/html; charset=utf-8");
  rp_buf_free(&page);
  return r;
}

/* ---- the handler -------------------------------------------------------------------- */
static enum MHD_Result dispatch(rp_server *s, hconn *h, rp_worker *w, const char *method) {
  rp_reply r;
  rp_serr e;
  rp_sreq q;
  switch (h->ep) {
    case EP_HEALTHZ:
      return send_reply(s, h, 200, "{\"status\":\"ok\"}\n", 16, "application/json");
    case EP_READYZ:
      if (atomic_load(&s->draining))
        return error(s, h, w, 503, "", "draining: the server is shutting down");
      return send_reply(s, h, 200, "{\"status\":\"ready\"}\n", 19, "application/json");
    case EP_METRICS:
      rp_metrics_render(s, w->id, &w->out);
      if (w->out.oom) return error(s, h, w, 503, "", "not enough memory for the metrics");
      return send_reply(s, h, 200, w->out.p, w->out.n, "text/plain; version=0.0.4; charset=utf-8");
    case EP_RELOAD:
      return reload(s, h, w);
    case EP_DASHBOARD:
      return dashboard(s, h, w);
    case EP_EVENTS: {
      rp_sevent *ev;
      int n =
          rp_sevents_json(&w->arena, h->body ? h->body : "", h->len, &s->lim,
                          (const char *const *)s->set.event_types, s->set.nevent_types, &ev, &e);
      if (n < 0) return send_error(s, h, w, &e);
      rp_answer_events(s, w, ev, n, h->rid, &r);
      return send_json(s, h, &r);
    }
    case EP_RECOMMEND:
    case EP_SIMILAR: {
      rp_sreq_init(&q);
      int post = strcmp(method, "POST") == 0;
      if (post ? rp_sreq_json(&q, &w->arena, h->body ? h->body : "", h->len, &s->lim, &e)
               : read_params(s, w, h->mc, &q, h->ep == EP_SIMILAR, &e))
        return send_error(s, h, w, &e);
      if (rp_sreq_finish(&q, &s->lim, &e)) return send_error(s, h, w, &e);
      if (h->ep == EP_SIMILAR) {
        rp_answer_similar(s, w, &q, h->rid, &r);
      } else {
        rp_answer_recommend(s, w, &q, h->rid, &r, &h->pending);
        if (r.status == 0) { /* in the batch: answered after this cycle */
          if (w->nsusp == w->susp_cap) {
            int cap = w->susp_cap ? 2 * w->susp_cap : 64;
            void **a = rp_realloc(w->susp, sizeof *a * (size_t)cap);
            if (!a) { /* cannot wait: answer from the batch right now */
              rp_answer_batch(s, w);
              w->nbatch = 0;
              rp_pending *p = h->pending;
              h->pending = NULL;
              rp_answer_pending(s, w, p, h->rid, &r);
              return send_json(s, h, &r);
            }
            w->susp = a;
            w->susp_cap = cap;
          }
          w->susp[w->nsusp++] = h;
          MHD_suspend_connection(h->mc);
          return MHD_YES;
        }
      }
      return send_json(s, h, &r);
    }
    default:
      return error(s, h, w, 404, "path", "no such endpoint");
  }
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *mc, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_size, void **con_cls) {
  (void)version;
  rp_worker *w = cls;
  rp_server *s = w->srv;
  hconn *h = *con_cls;
  if (!h) {
    if (!(h = rp_calloc(1, sizeof *h))) return MHD_NO;
    *con_cls = h;
    h->t0 = rp_now();
    h->mc = mc;
    h->wid = w->id;
    h->ep = route(url);
    atomic_fetch_add(&s->in_flight, 1);
    request_id(s, mc, h);
    if (h->ep == EP_OTHER) return error(s, h, w, 404, "path", "no such endpoint");
    if (!method_ok(h->ep, method)) return error(s, h, w, 405, "method", "method not allowed");
    const char *cl =
        MHD_lookup_connection_value(mc, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (cl && strtoull(cl, NULL, 10) > (unsigned long long)s->set.max_body) {
      char msg[128];
      snprintf(msg, sizeof msg, "body too large (at most %lld bytes)", (long long)s->set.max_body);
      h->too_big = 1;
      return error(s, h, w, 413, "body", msg);
    }
    return MHD_YES;
  }
  if (*upload_size) {
    size_t n = *upload_size;
    *upload_size = 0;
    if (h->too_big) return MHD_YES;
    if ((int64_t)(h->len + n) > s->set.max_body) {
      h->too_big = 1;
      rp_free(h->body);
      h->body = NULL;
      h->len = 0;
      return MHD_YES;
    }
    if (h->len + n + 1 > h->cap) {
      size_t cap = h->cap ? h->cap * 2 : 4096;
      while (cap < h->len + n + 1) cap *= 2;
      char *b = rp_realloc(h->body, cap);
      if (!b) {
        h->too_big = 1;
        return MHD_YES;
      }
      h->body = b;
      h->cap = cap;
    }
    memcpy(h->body + h->len, upload_data, n);
    h->len += n;
    h->body[h->len] = 0;
    return MHD_YES;
  }
  if (h->status) return MHD_YES; /* answered already (413 before the body) */
  if (h->pending) {              /* back from the batch */
    rp_reply r;
    rp_pending *p = h->pending;
    h->pending = NULL;
    rp_answer_pending(s, w, p, h->rid, &r);
    enum MHD_Result rc = send_json(s, h, &r);
    rp_arena_reset(&w->arena);
    return rc;
  }
  if (h->too_big) {
    char msg[128];
    snprintf(msg, sizeof msg, "body too large (at most %lld bytes)", (long long)s->set.max_body);
    return error(s, h, w, 413, "body", msg);
  }
  enum MHD_Result rc = dispatch(s, h, w, method);
  if (h->reload != 1) rp_arena_reset(&w->arena);
  return rc;
}

static void on_completed(void *cls, struct MHD_Connection *mc, void **con_cls,
                         enum MHD_RequestTerminationCode toe) {
  (void)mc, (void)toe;
  rp_worker *w = cls;
  rp_server *s = w->srv;
  hconn *h = *con_cls;
  if (!h) return;
  if (h->pending) rp_pending_free(s, w, h->pending); /* the client went away */
  rp_metrics_observe(s, h->wid, h->ep, h->status ? h->status : 499, rp_now() - h->t0);
  atomic_fetch_sub(&s->in_flight, 1);
  rp_free(h->body);
  rp_free(h);
  *con_cls = NULL;
}

__attribute__((format(printf, 2, 0))) static void mhd_log(void *cls, const char *fmt, va_list ap) {
  (void)cls;
  char buf[512];
  vsnprintf(buf, sizeof buf, fmt, ap);
  size_t n = strlen(buf);
  while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r')) buf[--n] = 0;
  rp_log(RP_LOG_DEBUG, "http: %s", buf);
}

/* The worker's loop: wait for events on the daemon's epoll set (at most
 * until its next timeout, never long enough to miss a stop), run it, then
 * score and resume the cycle's batch. */
static void *worker_loop(void *ud) {
  rp_worker *w = ud;
  rp_server *s = w->srv;
  const union MHD_DaemonInfo *di = MHD_get_daemon_info(w->daemon, MHD_DAEMON_INFO_EPOLL_FD);
  int ep = di ? di->epoll_fd : -1;
  int again = 0; /* cycles to run without waiting (resumed connections) */
  while (!atomic_load(&w->stop)) {
    if (atomic_load(&s->draining) && !w->quiesced) {
      MHD_socket fd = MHD_quiesce_daemon(w->daemon);
      if (fd != MHD_INVALID_SOCKET) close(fd);
      w->quiesced = 1;
    }
    int ms = 50;
    MHD_UNSIGNED_LONG_LONG to;
    if (MHD_get_timeout(w->daemon, &to) == MHD_YES && to < (MHD_UNSIGNED_LONG_LONG)ms) ms = (int)to;
    if (again > 0) ms = 0, again--;
    if (ep >= 0) { /* the epoll set is readable when events wait (polled, not consumed) */
      struct pollfd pf = {ep, POLLIN, 0};
      poll(&pf, 1, ms);
    }
    MHD_run(w->daemon);
    if (w->nbatch) {
      rp_answer_batch(s, w);
      w->nbatch = 0;
      /* the next MHD_run sends the answers */
      for (int i = 0; i < w->nsusp; i++) MHD_resume_connection(((hconn *)w->susp[i])->mc);
      w->nsusp = 0;
      again = 2; /* resume, then send: without waiting for the sockets to signal */
    }
  }
  return NULL;
}

int rp_http_start(rp_server *s, rp_err *err) {
  struct addrinfo hints, *ai = NULL;
  memset(&hints, 0, sizeof hints);
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  char port[16];
  snprintf(port, sizeof port, "%d", s->set.port);
  int gai = getaddrinfo(s->set.host, port, &hints, &ai);
  if (gai != 0 || !ai)
    return rp_errf(err, RP_EINVAL, "setting 'host': cannot resolve '%s': %s", s->set.host,
                   gai_strerror(gai));
  s->loopback = 0;
  if (ai->ai_family == AF_INET)
    s->loopback = (ntohl(((struct sockaddr_in *)ai->ai_addr)->sin_addr.s_addr) >> 24) == 127;
  else if (ai->ai_family == AF_INET6)
    s->loopback = memcmp(&((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr, &in6addr_loopback,
                         sizeof(struct in6_addr)) == 0;
  unsigned flags = MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG |
                   (ai->ai_family == AF_INET6 ? MHD_USE_IPv6 : 0);
  size_t memlimit = (size_t)s->set.max_header + 8192;
  int per = s->set.connection_limit / s->nworkers;
  int rc = RP_OK;
  for (int i = 0; i < s->nworkers && !rc; i++) {
    rp_worker *w = &s->workers[i];
    w->srv = s;
    struct MHD_OptionItem ops[] = {
        {MHD_OPTION_SOCK_ADDR, 0, ai->ai_addr},
        {MHD_OPTION_LISTENING_ADDRESS_REUSE, 1, NULL}, /* SO_REUSEPORT: one socket per worker */
        {MHD_OPTION_CONNECTION_LIMIT, per > 0 ? per : 1, NULL},
        {MHD_OPTION_CONNECTION_TIMEOUT, s->set.timeout, NULL},
        {MHD_OPTION_CONNECTION_MEMORY_LIMIT, (intptr_t)memlimit, NULL},
        {MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)on_completed, w},
        {MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)mhd_log, s},
        {MHD_OPTION_END, 0, NULL}};
    w->daemon = MHD_start_daemon(flags, 0, NULL, NULL, on_request, w, MHD_OPTION_ARRAY, ops,
                                 MHD_OPTION_END);
    if (!w->daemon) {
      rc = rp_errf(err, RP_EIO, "cannot listen on %s port %d (in use? bad address?)", s->set.host,
                   i ? s->port : s->set.port);
      break;
    }
    if (i == 0) { /* port 0: the others listen where the first one got */
      const union MHD_DaemonInfo *di = MHD_get_daemon_info(w->daemon, MHD_DAEMON_INFO_BIND_PORT);
      s->port = di ? di->port : s->set.port;
      if (ai->ai_family == AF_INET)
        ((struct sockaddr_in *)ai->ai_addr)->sin_port = htons((uint16_t)s->port);
      else
        ((struct sockaddr_in6 *)ai->ai_addr)->sin6_port = htons((uint16_t)s->port);
    }
  }
  freeaddrinfo(ai);
  for (int i = 0; i < s->nworkers && !rc; i++) {
    if (pthread_create(&s->workers[i].thread, NULL, worker_loop, &s->workers[i]) != 0)
      rc = rp_errf(err, RP_EIO, "cannot start worker thread %d", i);
    else
      s->workers[i].started = 1;
  }
  if (rc) rp_http_stop(s);
  return rc;
}

void rp_http_stop(rp_server *s) {
  rp_http_reload_done(s, 0, "the server is shutting down");
  for (int i = 0; i < s->nworkers; i++) {
    rp_worker *w = &s->workers[i];
    atomic_store(&w->stop, 1);
    if (w->started) pthread_join(w->thread, NULL);
    w->started = 0;
  }
  for (int i = 0; i < s->nworkers; i++) {
    rp_worker *w = &s->workers[i];
    if (w->daemon) MHD_stop_daemon(w->daemon);
    w->daemon = NULL;
  }
}
