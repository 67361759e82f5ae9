/*
 * proc.c -- the scheduler's child processes: spawn with a log file and a
 * process group of their own, limits, descriptions of how they ended.
 *
 * The memory limit is enforced by polling the child's resident set
 * (VmRSS in /proc/PID/status), not by RLIMIT_AS: address-space limits
 * break programs that reserve much more than they touch (OpenBLAS thread
 * buffers, AddressSanitizer's shadow memory), and cgroups need privileges.
 * A child that grows past the limit between two polls is killed at the
 * next one.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "schedule.h"

extern char **environ;

/* environ with env's NAME=value entries replacing or adding (a new array of
 * borrowed strings, rp_free) */
static char **merged_env(char *const env[]) {
  size_t n = 0, k = 0;
  while (environ[n]) n++;
  while (env && env[k]) k++;
  char **out = rp_calloc(n + k + 1, sizeof *out);
  if (!out) return NULL;
  size_t m = 0;
  for (size_t i = 0; i < n; i++) {
    size_t len = strcspn(environ[i], "=");
    int replaced = 0;
    for (size_t j = 0; j < k; j++)
      replaced |= strncmp(env[j], environ[i], len) == 0 && env[j][len] == '=';
    if (!replaced) out[m++] = environ[i];
  }
  for (size_t j = 0; j < k; j++) out[m++] = env[j];
  return out;
}

int rp_child_spawn(char *const argv[], char *const env[], const char *log_path, rp_child *c,
                   rp_err *err) {
  memset(c, 0, sizeof *c);
  char **envp = merged_env(env);
  if (!envp) return rp_enomem(err, "child environment");
  int fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) {
    rp_free(envp);
    return rp_errf(err, RP_EIO, "cannot open log '%s': %s", log_path, strerror(errno));
  }
  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid < 0) {
    int e = errno;
    close(fd);
    rp_free(envp);
    return rp_errf(err, RP_EIO, "cannot start '%s': fork: %s", argv[0], strerror(e));
  }
  if (pid == 0) {
    /* the child: only async-signal-safe calls until exec */
    setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127); /* the scheduler died before prctl */
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    signal(SIGTERM, SIG_DFL);
    signal(SIGINT, SIG_DFL);
    signal(SIGCHLD, SIG_DFL);
    signal(SIGPIPE, SIG_DFL);
    int devnull = open("/dev/null", O_RDONLY);
    if (devnull >= 0) dup2(devnull, 0);
    dup2(fd, 1);
    dup2(fd, 2);
    execve(argv[0], argv, envp);
    dprintf(2, "recpipe schedule: cannot run %s: %s\n", argv[0], strerror(errno));
    _exit(127);
  }
  setpgid(pid, pid); /* also from here, so signals to the group work at once */
  close(fd);
  rp_free(envp);
  c->pid = pid;
  c->started = rp_now();
  return RP_OK;
}

int64_t rp_child_rss(int pid) {
  char path[64], line[256];
  snprintf(path, sizeof path, "/proc/%d/status", pid);
  FILE *f = fopen(path, "re");
  if (!f) return -1;
  int64_t kb = -1;
  while (fgets(line, sizeof line, f))
    if (strncmp(line, "VmRSS:", 6) == 0) {
      kb = strtoll(line + 6, NULL, 10);
      break;
    }
  fclose(f);
  return kb < 0 ? 0 : kb * 1024; /* a zombie has no VmRSS line: nothing resident */
}

void rp_child_signal(rp_child *c, int sig) {
  if (c->pid > 0) {
    if (kill(-c->pid, sig) != 0) kill(c->pid, sig);
  }
}

int rp_child_check(rp_child *c, double now) {
  if (c->pid <= 0) return 0;
  if (c->term_at > 0) {
    if (now - c->term_at >= 5) {
      rp_child_signal(c, SIGKILL);
      c->term_at = now + 1e9; /* once */
      return 1;
    }
    return 0;
  }
  if (c->memory > 0) {
    int64_t rss = rp_child_rss(c->pid);
    if (rss > c->peak_rss) c->peak_rss = rss;
    if (rss > c->memory) {
      c->killed = RP_KILL_MEMORY;
      rp_child_signal(c, SIGKILL);
      c->term_at = now + 1e9;
      return 1;
    }
  }
  if (c->deadline > 0 && now >= c->deadline) {
    c->killed = RP_KILL_TIMEOUT;
    rp_child_signal(c, SIGTERM);
    c->term_at = now;
    return 1;
  }
  return 0;
}

static void size_text(int64_t b, char *buf, size_t n) {
  if (b >= (int64_t)1 << 30)
    snprintf(buf, n, "%.1fG", (double)b / (double)(1 << 30));
  else
    snprintf(buf, n, "%.0fM", (double)b / (double)(1 << 20));
}

void rp_child_describe(const rp_child *c, int ws, char *buf, size_t size) {
  char base[64], lim[32], peak[32], dur[32];
  if (WIFEXITED(ws))
    snprintf(base, sizeof base, "exit status %d", WEXITSTATUS(ws));
  else if (WIFSIGNALED(ws))
    snprintf(base, sizeof base, "killed by signal %d (%s)", WTERMSIG(ws), strsignal(WTERMSIG(ws)));
  else
    snprintf(base, sizeof base, "ended (status %d)", ws);
  switch (c->killed) {
    case RP_KILL_MEMORY:
      size_text(c->memory, lim, sizeof lim);
      size_text(c->peak_rss, peak, sizeof peak);
      snprintf(buf, size, "%s: memory limit %s exceeded (resident %s)", base, lim, peak);
      break;
    case RP_KILL_TIMEOUT:
      rp_sched_format_duration(c->deadline - c->started, dur, sizeof dur);
      snprintf(buf, size, "%s: wall-time limit %s exceeded", base, dur);
      break;
    case RP_KILL_STOP:
      snprintf(buf, size, "%s: stopped by the scheduler (SIGTERM)", base);
      break;
    default:
      snprintf(buf, size, "%s", base);
  }
}
