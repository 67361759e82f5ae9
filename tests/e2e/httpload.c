/*
 * httpload.c -- a small HTTP/1.1 client for the server tests (built as
 * $BUILD/tools/httpload by `make test`; no dependency beyond libc).
 *
 *   httpload load PORT PATHS_FILE CONNECTIONS SECONDS
 *       GETs the paths of PATHS_FILE (one per line, in turn) on
 *       127.0.0.1:PORT over keep-alive connections for SECONDS; prints
 *       "requests N", "status CODE N" per code, "errors N" (connect, read
 *       or parse failures), "versions N" (distinct model_version values seen).
 *       SIGTERM or SIGINT ends the run early (with the same report), so a
 *       test can run it "until done" with a large SECONDS.
 *   httpload raw PORT < BYTES
 *       sends the bytes as they are, prints the status line of the answer
 *       (or "closed" when the server closed without one).
 *
 * Latency is not measured here: tests assert behaviour, not speed.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static int port;
static char **paths;
static int npaths;
static double until;
static volatile sig_atomic_t stopped;

static void on_stop(int sig) {
  (void)sig;
  stopped = 1;
}
static _Atomic long requests, errors, codes[600];
static pthread_mutex_t vlock = PTHREAD_MUTEX_INITIALIZER;
static char versions[64][64];
static int nversions;

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int dial(void) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_port = htons((uint16_t)port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  struct timeval tv = {10, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

static void note_version(const char *body, size_t n) {
  const char *k = memmem(body, n, "\"model_version\":\"", 17);
  if (!k) return;
  k += 17;
  const char *e = memchr(k, '"', (size_t)(body + n - k));
  if (!e || e - k >= 63) return;
  pthread_mutex_lock(&vlock);
  int i = 0;
  for (; i < nversions; i++)
    if ((size_t)(e - k) == strlen(versions[i]) && memcmp(versions[i], k, (size_t)(e - k)) == 0)
      break;
  if (i == nversions && nversions < 64) {
    memcpy(versions[nversions], k, (size_t)(e - k));
    versions[nversions++][e - k] = 0;
  }
  pthread_mutex_unlock(&vlock);
}

/* One request on fd: returns the status, or -1 (fd unusable); *closing
 * when the server says Connection: close. */
static int one(int fd, const char *path, char *buf, size_t cap, int *closing) {
  char req[2048];
  int n = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", path);
  if (write(fd, req, (size_t)n) != n) return -1;
  size_t got = 0;
  char *hend = NULL;
  while (!hend) {
    if (got + 1 >= cap) return -1;
    ssize_t r = read(fd, buf + got, cap - got - 1);
    if (r <= 0) return -1;
    got += (size_t)r;
    buf[got] = 0;
    hend = strstr(buf, "\r\n\r\n");
  }
  int status = 0;
  if (sscanf(buf, "HTTP/1.%*d %d", &status) != 1) return -1;
  const char *cl = strcasestr(buf, "\r\nContent-Length:");
  size_t len = cl && cl < hend ? strtoul(cl + 17, NULL, 10) : 0;
  const char *cc = strcasestr(buf, "\r\nConnection: close");
  *closing = cc && cc < hend;
  size_t head = (size_t)(hend + 4 - buf);
  if (head + len >= cap) return -1;
  while (got < head + len) {
    ssize_t r = read(fd, buf + got, cap - got - 1);
    if (r <= 0) return -1;
    got += (size_t)r;
  }
  note_version(buf + head, len);
  return status;
}

static void *worker(void *ud) {
  long id = (long)(intptr_t)ud;
  char *buf = malloc(1 << 20);
  int fd = -1, i = (int)id;
  while (!stopped && now() < until) {
    if (fd < 0 && (fd = dial()) < 0) {
      errors++;
      usleep(1000);
      continue;
    }
    int closing = 0;
    int st = one(fd, paths[i++ % npaths], buf, 1 << 20, &closing);
    if (st < 0) {
      errors++;
      close(fd);
      fd = -1;
      continue;
    }
    requests++;
    codes[st >= 100 && st < 600 ? st : 0]++;
    if (closing) {
      close(fd);
      fd = -1;
    }
  }
  if (fd >= 0) close(fd);
  free(buf);
  return NULL;
}

static int load(int argc, char **argv) {
  if (argc != 6) return 2;
  port = atoi(argv[2]);
  FILE *f = fopen(argv[3], "r");
  if (!f) return perror(argv[3]), 1;
  char line[2048];
  int cap = 0;
  while (fgets(line, sizeof line, f)) {
    line[strcspn(line, "\r\n")] = 0;
    if (!line[0]) continue;
    if (npaths == cap) paths = realloc(paths, sizeof *paths * (size_t)(cap = cap ? 2 * cap : 64));
    paths[npaths++] = strdup(line);
  }
  fclose(f);
  if (!npaths) return fprintf(stderr, "no paths\n"), 1;
  int conns = atoi(argv[4]);
  until = now() + atof(argv[5]);
  signal(SIGTERM, on_stop);
  signal(SIGINT, on_stop);
  pthread_t th[256];
  if (conns < 1 || conns > 256) return 2;
  for (long c = 0; c < conns; c++) pthread_create(&th[c], NULL, worker, (void *)(intptr_t)c);
  for (int c = 0; c < conns; c++) pthread_join(th[c], NULL);
  printf("requests %ld\n", (long)requests);
  for (int c = 0; c < 600; c++)
    if (codes[c]) printf("status %d %ld\n", c, (long)codes[c]);
  printf("errors %ld\n", (long)errors);
  printf("versions %d\n", nversions);
  return 0;
}

static int raw(int argc, char **argv) {
  if (argc != 3) return 2;
  port = atoi(argv[2]);
  int fd = dial();
  if (fd < 0) return perror("connect"), 1;
  char buf[65536];
  ssize_t n;
  while ((n = read(0, buf, sizeof buf)) > 0)
    if (write(fd, buf, (size_t)n) != n) break;
  shutdown(fd, SHUT_WR);
  size_t got = 0;
  while (got < sizeof buf - 1 && (n = read(fd, buf + got, sizeof buf - 1 - got)) > 0) {
    got += (size_t)n;
    if (memchr(buf, '\n', got)) break;
  }
  buf[got] = 0;
  close(fd);
  if (!got) {
    puts("closed");
    return 0;
  }
  buf[strcspn(buf, "\r\n")] = 0;
  puts(buf);
  return 0;
}

int main(int argc, char **argv) {
  int rc = 2;
  if (argc > 1 && strcmp(argv[1], "load") == 0) rc = load(argc, argv);
  if (argc > 1 && strcmp(argv[1], "raw") == 0) rc = raw(argc, argv);
  if (rc == 2)
    fprintf(stderr,
            "usage: httpload load PORT PATHS_FILE CONNECTIONS SECONDS\n"
            "       httpload raw PORT < REQUEST_BYTES\n");
  return rc;
}
