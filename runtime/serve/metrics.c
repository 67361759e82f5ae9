/*
 * metrics.c -- the server's counters and /metrics in the Prometheus text
 * exposition format (version 0.0.4): `_total` counters, `_seconds`
 * histograms with `le` buckets, `# HELP` / `# TYPE` lines, labels of
 * bounded cardinality (endpoints, status codes, chain reasons, event
 * types: fixed sets, reasons capped at RP_NREASONS).
 *
 * Each worker counts into its own cache-line-aligned block with plain
 * stores (one writer); a scrape sums the blocks.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "serve.h"

static const int status_codes[RP_NSTATUS - 1] = {200, 202, 400, 401, 403, 404,
                                                 405, 408, 413, 431, 500, 503};
static const char *const endpoints[EP_N] = {"recommend", "similar",   "events",
                                            "healthz",   "readyz",    "metrics",
                                            "reload",    "dashboard", "other"};
static const double buckets[RP_NBUCKETS] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
                                            0.01,   0.025,   0.05,   0.1,   0.25,   0.5,
                                            1,      2.5,     5,      10};

int rp_metrics_status_index(int status) {
  for (int i = 0; i < RP_NSTATUS - 1; i++)
    if (status_codes[i] == status) return i;
  return RP_NSTATUS - 1;
}

void rp_metrics_observe(rp_server *s, int worker, int endpoint, int status, double seconds) {
  rp_wmetrics *m = &s->wm[worker];
  if (endpoint < 0 || endpoint >= EP_N) endpoint = EP_OTHER;
  rp_count(&m->requests[endpoint][rp_metrics_status_index(status)], 1);
  int b = 0;
  while (b < RP_NBUCKETS && seconds > buckets[b]) b++;
  rp_count(&m->latency[endpoint][b], 1);
  rp_count(&m->latency_sum_us[endpoint], (uint64_t)(seconds * 1e6 + 0.5));
}

int rp_server_reason(rp_server *s, const char *reason) {
  int n = atomic_load_explicit(&s->nreasons, memory_order_acquire);
  for (int i = 0; i < n; i++)
    if (strcmp(s->reasons[i], reason) == 0) return i;
  pthread_mutex_lock(&s->reasons_lock);
  n = atomic_load(&s->nreasons);
  int i = 0;
  for (; i < n; i++)
    if (strcmp(s->reasons[i], reason) == 0) break;
  if (i == n) {
    if (n < RP_NREASONS - 1) {
      snprintf(s->reasons[n], sizeof s->reasons[n], "%s", reason);
      atomic_store_explicit(&s->nreasons, n + 1, memory_order_release);
    } else {
      i = RP_NREASONS - 1; /* "other" */
    }
  }
  pthread_mutex_unlock(&s->reasons_lock);
  return i;
}

static uint64_t get(const uint64_t *p) { return __atomic_load_n(p, __ATOMIC_RELAXED); }

/* a label value: backslash, double quote and line feed escaped */
static void label(rp_jbuf *b, const char *v) {
  for (const char *p = v; *p; p++) {
    if (*p == '\\' || *p == '"')
      rp_jbuf_add(b, "\\", 1), rp_jbuf_add(b, p, 1);
    else if (*p == '\n')
      rp_jbuf_add(b, "\\n", 2);
    else
      rp_jbuf_add(b, p, 1);
  }
}

static void head(rp_jbuf *b, const char *name, const char *type, const char *help) {
  rp_jbuf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static int64_t rss_bytes(void) {
  FILE *f = fopen("/proc/self/statm", "r");
  long long pages = 0, res = 0;
  if (!f) return 0;
  if (fscanf(f, "%lld %lld", &pages, &res) != 2) res = 0;
  fclose(f);
  return (int64_t)res * (int64_t)sysconf(_SC_PAGESIZE);
}

void rp_metrics_render(rp_server *s, int worker, rp_jbuf *b) {
  int nw = s->nworkers + 1;
  rp_jbuf_reset(b);
  head(b, "recpipe_requests_total", "counter", "Requests answered, by endpoint and HTTP status.");
  for (int e = 0; e < EP_N; e++)
    for (int c = 0; c < RP_NSTATUS; c++) {
      uint64_t t = 0;
      for (int w = 0; w < nw; w++) t += get(&s->wm[w].requests[e][c]);
      if (!t) continue;
      if (c < RP_NSTATUS - 1)
        rp_jbuf_printf(b, "recpipe_requests_total{endpoint=\"%s\",code=\"%d\"} %llu\n",
                       endpoints[e], status_codes[c], (unsigned long long)t);
      else
        rp_jbuf_printf(b, "recpipe_requests_total{endpoint=\"%s\",code=\"other\"} %llu\n",
                       endpoints[e], (unsigned long long)t);
    }
  head(b, "recpipe_request_duration_seconds", "histogram",
       "Time from a request's headers to its answer, by endpoint.");
  for (int e = 0; e < EP_N; e++) {
    uint64_t cum = 0, sum_us = 0, any = 0;
    for (int w = 0; w < nw; w++)
      for (int k = 0; k <= RP_NBUCKETS; k++) any += get(&s->wm[w].latency[e][k]);
    if (!any) continue;
    for (int k = 0; k <= RP_NBUCKETS; k++) {
      for (int w = 0; w < nw; w++) cum += get(&s->wm[w].latency[e][k]);
      if (k < RP_NBUCKETS)
        rp_jbuf_printf(b,
                       "recpipe_request_duration_seconds_bucket{endpoint=\"%s\",le=\"%g\"} %llu\n",
                       endpoints[e], buckets[k], (unsigned long long)cum);
      else
        rp_jbuf_printf(
            b, "recpipe_request_duration_seconds_bucket{endpoint=\"%s\",le=\"+Inf\"} %llu\n",
            endpoints[e], (unsigned long long)cum);
    }
    for (int w = 0; w < nw; w++) sum_us += get(&s->wm[w].latency_sum_us[e]);
    rp_jbuf_printf(b, "recpipe_request_duration_seconds_sum{endpoint=\"%s\"} %.6f\n", endpoints[e],
                   (double)sum_us / 1e6);
    rp_jbuf_printf(b, "recpipe_request_duration_seconds_count{endpoint=\"%s\"} %llu\n",
                   endpoints[e], (unsigned long long)cum);
  }
  /* the cache */
  rp_acache_stats cs;
  rp_acache_stats_get(s->cache, &cs);
  head(b, "recpipe_cache_hits_total", "counter", "Answers served from the cache.");
  rp_jbuf_printf(b, "recpipe_cache_hits_total %llu\n", (unsigned long long)cs.hits);
  head(b, "recpipe_cache_misses_total", "counter", "Answers computed (not in the cache).");
  rp_jbuf_printf(b, "recpipe_cache_misses_total %llu\n", (unsigned long long)cs.misses);
  head(b, "recpipe_cache_evictions_total", "counter", "Cached answers dropped for room (LRU).");
  rp_jbuf_printf(b, "recpipe_cache_evictions_total %llu\n", (unsigned long long)cs.evictions);
  head(b, "recpipe_cache_expirations_total", "counter", "Cached answers dropped past their TTL.");
  rp_jbuf_printf(b, "recpipe_cache_expirations_total %llu\n", (unsigned long long)cs.expired);
  head(b, "recpipe_cache_entries", "gauge", "Answers in the cache.");
  rp_jbuf_printf(b, "recpipe_cache_entries %llu\n", (unsigned long long)cs.entries);
  head(b, "recpipe_cache_bytes", "gauge", "Bytes of keys and answers in the cache.");
  rp_jbuf_printf(b, "recpipe_cache_bytes %llu\n", (unsigned long long)cs.bytes);
  /* the model */
  rp_gen *g = rp_gen_acquire(s, worker);
  head(b, "recpipe_model_info", "gauge", "The model version answering (value 1).");
  rp_jbuf_puts(b, "recpipe_model_info{version=\"");
  label(b, g ? g->version : "");
  rp_jbuf_puts(b, "\"} 1\n");
  head(b, "recpipe_model_loaded_timestamp_seconds", "gauge",
       "When the model answering was loaded.");
  rp_jbuf_printf(b, "recpipe_model_loaded_timestamp_seconds %.3f\n", g ? g->loaded_unix : 0.0);
  head(b, "recpipe_model_load_seconds", "gauge", "How long loading the model answering took.");
  rp_jbuf_printf(b, "recpipe_model_load_seconds %.6f\n", g ? g->load_seconds : 0.0);
  if (s->set.live[0]) {
    head(b, "recpipe_model_live_version", "gauge",
         "The registry version of the live model answering (setting live).");
    rp_jbuf_puts(b, "recpipe_model_live_version{name=\"");
    label(b, s->set.live);
    rp_jbuf_printf(b, "\"} %lld\n", (long long)(g ? g->live_version : 0));
    head(b, "recpipe_registry_errors_total", "counter",
         "Looks at the registry's live version that failed (the model keeps serving).");
    rp_jbuf_printf(b, "recpipe_registry_errors_total %llu\n",
                   (unsigned long long)atomic_load(&s->registry_errors));
  }
  rp_gen_release(s, worker);
  head(b, "recpipe_model_reloads_total", "counter", "Reloads, by result.");
  rp_jbuf_printf(b, "recpipe_model_reloads_total{result=\"ok\"} %llu\n",
                 (unsigned long long)atomic_load(&s->reloads_ok));
  rp_jbuf_printf(b, "recpipe_model_reloads_total{result=\"failed\"} %llu\n",
                 (unsigned long long)atomic_load(&s->reloads_failed));
  pthread_mutex_lock(&s->status_lock);
  if (s->last_error[0]) {
    char msg[256];
    snprintf(msg, sizeof msg, "%.255s", s->last_error);
    head(b, "recpipe_model_last_reload_error_info", "gauge",
         "Why the last failed reload failed (value 1; the old model kept serving).");
    rp_jbuf_puts(b, "recpipe_model_last_reload_error_info{message=\"");
    label(b, msg);
    rp_jbuf_puts(b, "\"} 1\n");
    head(b, "recpipe_model_last_reload_error_timestamp_seconds", "gauge",
         "When the last reload failed.");
    rp_jbuf_printf(b, "recpipe_model_last_reload_error_timestamp_seconds %.3f\n",
                   s->last_error_unix);
  }
  pthread_mutex_unlock(&s->status_lock);
  /* answers by reason, feedback by type */
  head(b, "recpipe_answers_total", "counter", "Answers by the chain rule (reason) that gave them.");
  int nr = atomic_load(&s->nreasons);
  for (int r = 0; r < RP_NREASONS; r++) {
    if (r >= nr && r != RP_NREASONS - 1) continue;
    uint64_t t = 0;
    for (int w = 0; w < nw; w++) t += get(&s->wm[w].reasons[r]);
    if (r == RP_NREASONS - 1 && !t) continue;
    rp_jbuf_puts(b, "recpipe_answers_total{reason=\"");
    label(b, r < nr ? s->reasons[r] : "other");
    rp_jbuf_printf(b, "\"} %llu\n", (unsigned long long)t);
  }
  head(b, "recpipe_feedback_events_total", "counter", "Feedback events accepted, by type.");
  for (int t = 0; t < s->set.nevent_types && t < RP_NEVTYPES; t++) {
    uint64_t c = 0;
    for (int w = 0; w < nw; w++) c += get(&s->wm[w].events[t]);
    rp_jbuf_puts(b, "recpipe_feedback_events_total{event=\"");
    label(b, s->set.event_types[t]);
    rp_jbuf_printf(b, "\"} %llu\n", (unsigned long long)c);
  }
  /* the logs */
  rp_slog *logs[2] = {s->impressions, s->events};
  const char *names[2] = {"impressions", "events"};
  rp_slog_stats st[2];
  for (int i = 0; i < 2; i++) rp_slog_stats_get(logs[i], &st[i]);
  static const struct {
    const char *name, *type, *help;
  } series[] = {
      {"recpipe_log_lines_total", "counter", "Lines appended to the logs."},
      {"recpipe_log_committed_lines_total", "counter",
       "Lines written and fdatasync'ed: on disk whatever happens to the process."},
      {"recpipe_log_dropped_total", "counter",
       "Appends refused because the backlog was full (lost impressions, 503 events)."},
      {"recpipe_log_write_errors_total", "counter", "Failed writes or fsyncs of the logs."},
      {"recpipe_log_commits_total", "counter", "Group commits (write + fdatasync)."},
      {"recpipe_log_backlog_bytes", "gauge", "Bytes waiting for the next commit."},
      {"recpipe_log_torn_lines_repaired_total", "counter",
       "Torn last lines (left by a crash) cut off when a log was opened."}};
  for (int k = 0; k < 7; k++) {
    head(b, series[k].name, series[k].type, series[k].help);
    for (int i = 0; i < 2; i++) {
      if (!logs[i]) continue;
      const rp_slog_stats *t = &st[i];
      uint64_t v = k == 0   ? t->lines
                   : k == 1 ? t->committed
                   : k == 2 ? t->dropped
                   : k == 3 ? t->write_errors
                   : k == 4 ? t->commits
                   : k == 5 ? (uint64_t)(t->backlog > 0 ? t->backlog : 0)
                            : t->torn_repaired;
      rp_jbuf_printf(b, "%s{log=\"%s\"} %llu\n", series[k].name, names[i], (unsigned long long)v);
    }
  }
  /* the process */
  head(b, "recpipe_in_flight_requests", "gauge", "Requests being answered.");
  rp_jbuf_printf(b, "recpipe_in_flight_requests %lld\n", (long long)atomic_load(&s->in_flight));
  head(b, "recpipe_workers", "gauge", "Worker threads (one Lua state each).");
  rp_jbuf_printf(b, "recpipe_workers %d\n", s->nworkers);
  head(b, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.");
  rp_jbuf_printf(b, "process_resident_memory_bytes %lld\n", (long long)rss_bytes());
  head(b, "process_start_time_seconds", "gauge", "Start time of the process since the epoch.");
  rp_jbuf_printf(b, "process_start_time_seconds %.3f\n", s->started_unix);
}
