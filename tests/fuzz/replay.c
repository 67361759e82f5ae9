/*
 * replay.c -- runs a fuzz harness on files, without libFuzzer.
 *
 *   replay_<name> [-x XFAIL] [-t SECONDS] PATH...
 *
 * Linked with one harness's LLVMFuzzerTestOneInput by any compiler (the
 * plain and sanitizer builds use gcc), so `make test` replays the checked-in
 * corpora and regression inputs as an ordinary test.  A PATH is a file or a
 * directory (its files, in name order).  Each input runs in this process;
 * a crash, a failed harness check (abort) or an input running longer than
 * SECONDS (default 60) fails the test, naming the input.
 *
 * XFAIL lists inputs that are known to fail ("<dir>/<file>  # why", paths
 * relative to tests/fuzz/): each runs in a child process and must fail
 * there.  One that passes fails the test too ("XPASS"): its bug is fixed,
 * and its line must go, so it becomes an ordinary regression input.
 */
#include <dirent.h>
#include <pthread.h>
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

static char **xfail;
static int nxfail;
static const char *current;

static void on_alarm(int sig) {
  (void)sig;
  static const char msg[] = "replay: input ran too long (a hang?): ";
  ssize_t k = write(2, msg, sizeof msg - 1);
  k += write(2, current, strlen(current));
  k += write(2, "\n", 1);
  (void)k;
  _exit(1);
}

static unsigned char *slurp(const char *path, size_t *n) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    fprintf(stderr, "replay: cannot open %s: %s\n", path, strerror(errno));
    exit(2);
  }
  size_t cap = 4096, len = 0;
  unsigned char *buf = malloc(cap);
  size_t k;
  while (buf && (k = fread(buf + len, 1, cap - len, f)) > 0) {
    len += k;
    if (len == cap) buf = realloc(buf, cap *= 2);
  }
  fclose(f);
  if (!buf) {
    fprintf(stderr, "replay: out of memory reading %s\n", path);
    exit(2);
  }
  *n = len;
  return buf;
}

/* Is path listed in the xfail file?  Entries are suffixes of paths
 * ("read/one-field"), so the check works from any directory. */
static int is_xfail(const char *path) {
  size_t pl = strlen(path);
  for (int k = 0; k < nxfail; k++) {
    size_t el = strlen(xfail[k]);
    if (el <= pl && strcmp(path + pl - el, xfail[k]) == 0 && (el == pl || path[pl - el - 1] == '/'))
      return 1;
  }
  return 0;
}

static void load_xfail(const char *list) {
  FILE *f = fopen(list, "r");
  if (!f) {
    fprintf(stderr, "replay: cannot open %s: %s\n", list, strerror(errno));
    exit(2);
  }
  char line[1024];
  while (fgets(line, sizeof line, f)) {
    char *h = strchr(line, '#');
    if (h) *h = 0;
    char *s = line + strspn(line, " \t\r\n");
    size_t n = strcspn(s, " \t\r\n");
    if (!n) continue;
    s[n] = 0;
    xfail = realloc(xfail, (size_t)(nxfail + 1) * sizeof *xfail);
    if (!xfail || !(xfail[nxfail++] = strdup(s))) exit(2);
  }
  fclose(f);
}

/* Each input runs on a thread with a stack of REPLAY_STACK bytes, the kind
 * a server's worker thread has, rather than the main thread's 8 MiB: a
 * recursion the input controls then overflows it in every build, not only
 * in those whose frames are large. */
#define REPLAY_STACK ((size_t)1 << 20)

typedef struct call {
  const unsigned char *data;
  size_t n;
} call;

static void *call_main(void *arg) {
  const call *c = arg;
  LLVMFuzzerTestOneInput(c->data, c->n);
  return NULL;
}

static void run_input(const unsigned char *data, size_t n) {
  call c = {data, n};
  pthread_attr_t a;
  pthread_t th;
  if (pthread_attr_init(&a) || pthread_attr_setstacksize(&a, REPLAY_STACK) ||
      pthread_create(&th, &a, call_main, &c)) {
    fprintf(stderr, "replay: cannot start a thread\n");
    exit(2);
  }
  pthread_join(th, NULL);
  pthread_attr_destroy(&a);
}

static int ran, xfailed, failed;
static unsigned timeout_s = 60;

static void run_one(const char *path) {
  size_t n;
  unsigned char *data = slurp(path, &n);
  current = path;
  if (is_xfail(path)) {
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
      perror("replay: fork");
      exit(2);
    }
    if (pid == 0) {
      /* the child's report would bury the test's output: keep one line */
      if (!freopen("/dev/null", "w", stderr)) _exit(3);
      alarm(timeout_s);
      run_input(data, n);
      _exit(0);
    }
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    if (WIFEXITED(st) && WEXITSTATUS(st) == 0) {
      printf(
          "XPASS %s: listed as a known failure but passes now; delete its line from "
          "tests/fuzz/xfail\n",
          path);
      failed++;
    } else {
      printf("xfail %s (%s %d, as expected)\n", path, WIFSIGNALED(st) ? "signal" : "exit",
             WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
      xfailed++;
    }
  } else {
    alarm(timeout_s);
    run_input(data, n);
    alarm(0);
    ran++;
  }
  free(data);
}

static int cmp(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static void run_path(const char *path) {
  struct stat st;
  if (stat(path, &st) != 0) {
    fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
    exit(2);
  }
  if (!S_ISDIR(st.st_mode)) {
    run_one(path);
    return;
  }
  DIR *d = opendir(path);
  if (!d) {
    fprintf(stderr, "replay: cannot list %s: %s\n", path, strerror(errno));
    exit(2);
  }
  char **names = NULL;
  size_t n = 0;
  struct dirent *e;
  while ((e = readdir(d))) {
    if (e->d_name[0] == '.') continue;
    names = realloc(names, (n + 1) * sizeof *names);
    if (!names) exit(2);
    size_t len = strlen(path) + strlen(e->d_name) + 2;
    names[n] = malloc(len);
    if (!names[n]) exit(2);
    snprintf(names[n++], len, "%s/%s", path, e->d_name);
  }
  closedir(d);
  qsort(names, n, sizeof *names, cmp);
  for (size_t k = 0; k < n; k++) {
    run_path(names[k]);
    free(names[k]);
  }
  free(names);
}

int main(int argc, char **argv) {
  if (LLVMFuzzerInitialize) LLVMFuzzerInitialize(&argc, &argv);
  signal(SIGALRM, on_alarm);
  int k = 1;
  for (; k < argc && argv[k][0] == '-'; k += 2) {
    if (k + 1 >= argc) break;
    if (strcmp(argv[k], "-x") == 0)
      load_xfail(argv[k + 1]);
    else if (strcmp(argv[k], "-t") == 0)
      timeout_s = (unsigned)atoi(argv[k + 1]);
    else
      break;
  }
  if (k >= argc) {
    fprintf(stderr, "usage: %s [-x XFAIL] [-t SECONDS] PATH...\n", argv[0]);
    return 2;
  }
  for (; k < argc; k++) run_path(argv[k]);
  printf("replay: %d inputs passed, %d known failures failed as expected%s\n", ran, xfailed,
         failed ? ", and some known failures passed (XPASS above)" : "");
  if (ran + xfailed + failed == 0) {
    fprintf(stderr, "replay: no inputs\n");
    return 1;
  }
  return failed ? 1 : 0;
}
