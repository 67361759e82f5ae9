/*
 * main.c -- the recpipe command line.
 *
 *   recpipe run [--quiet] [--log-level LEVEL] SCRIPT.lua [args...]
 *   recpipe run [--quiet] [--log-level LEVEL] CONFIG.yaml [key=value...]
 *   recpipe serve [--quiet] [--log-level LEVEL] SCRIPT.lua|CONFIG.yaml [key=value...]
 *   recpipe schedule [--once] [--list] [--now=TIME] SCHEDULE.yaml
 *   recpipe dashboard REGISTRY -o FILE
 *   recpipe version | help [run] | run --help | serve --help
 */
#include <stdio.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>

#include "dist.h"
#include "host.h"
#include "rp.h"
#include "serve/serve.h"

static const char *usage =
    "usage: recpipe <command> [options]\n"
    "\n"
    "commands:\n"
    "  run SCRIPT.lua [args...]        run a Lua pipeline script; `arg` as in lua\n"
    "  run CONFIG.yaml [key=value...]  run the pipeline the YAML names (pipeline: NAME runs\n"
    "                                  pipelines/NAME.lua) with the config table; key=value\n"
    "                                  overrides (dotted keys nest, values typed as YAML)\n"
    "  serve SCRIPT.lua|CONFIG.yaml [key=value...]\n"
    "                                  serve a recommender over HTTP (serve --help: settings)\n"
    "  schedule SCHEDULE.yaml          run pipelines on a schedule (--once, --list, --now=TIME)\n"
    "  dashboard REGISTRY -o FILE      the registry as one self-contained HTML page\n"
    "  version                         print the version\n"
    "  help [run]                      this text, or the help of run\n"
    "\n"
    "options (before the script):\n"
    "  -q, --quiet                     no progress bars; only warnings and errors\n"
    "  --log-level LEVEL               error, warn, info (default) or debug\n"
    "\n"
    "exit status: 0 on success, 1 on any error (message and traceback on stderr)\n";

static const char *run_usage =
    "usage: recpipe run [--quiet] [--log-level LEVEL] SCRIPT.lua [args...]\n"
    "       recpipe run [--quiet] [--log-level LEVEL] CONFIG.yaml [key=value...]\n"
    "\n"
    "A script runs with `arg` set as the lua program sets it (arg[0] the script,\n"
    "arg[1..] its arguments, also passed as `...`); `-` reads the script from\n"
    "standard input.  A YAML config names its pipeline (`pipeline: explore` runs\n"
    "pipelines/explore.lua; a name with a slash is a file relative to the YAML);\n"
    "the pipeline receives the config table as `...`.  key=value arguments\n"
    "override the config: dotted keys nest (als.factors=64), values are typed as\n"
    "YAML types them (10 an integer, '10' a string, [1, 2] a list, empty = null).\n"
    "Errors print the message and a traceback on stderr and exit with status 1\n"
    "(a mistake in a config: the config file and the message alone).\n";

static const char *serve_usage =
    "usage: recpipe serve [--quiet] [--log-level LEVEL] SCRIPT.lua [key=value...]\n"
    "       recpipe serve [--quiet] [--log-level LEVEL] CONFIG.yaml [key=value...]\n"
    "\n"
    "Serves a recommender over HTTP: GET|POST /v1/recommend, GET /v1/similar,\n"
    "POST /v1/events, /healthz, /readyz, /metrics, POST /v1/admin/reload,\n"
    "GET /dashboard (with a registry).  The script returns the recommender and\n"
    "a table of settings; a YAML config holds settings and names the script\n"
    "(script: FILE.lua), a model file (model: FILE.rpa) or a registry's live\n"
    "model (registry: FILE, live: NAME; promotions are followed).  key=value\n"
    "arguments override settings.  SIGHUP reloads (the old model serves until\n"
    "the new one is ready); SIGTERM drains and stops.\n"
    "\n"
    "settings (default, meaning):\n";

static int parse_level(const char *s) {
  const char *names[] = {"error", "warn", "info", "debug"};
  for (int i = 0; i < 4; i++)
    if (strcmp(s, names[i]) == 0) return i;
  return -1;
}

int main(int argc, char **argv) {
  rp_host_opts o = {0, RP_LOG_INFO};
  int i = 1, level_set = 0;
  const char *cmd = NULL;
  for (; i < argc; i++) {
    const char *a = argv[i];
    if (strcmp(a, "-q") == 0 || strcmp(a, "--quiet") == 0) {
      o.quiet = 1;
    } else if (strcmp(a, "--log-level") == 0 || strncmp(a, "--log-level=", 12) == 0) {
      const char *v = a[11] == '=' ? a + 12 : (i + 1 < argc ? argv[++i] : "");
      o.log_level = parse_level(v);
      level_set = 1;
      if (o.log_level < 0) {
        fprintf(stderr, "recpipe: bad --log-level '%s' (error, warn, info or debug)\n", v);
        return 1;
      }
    } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
      if (cmd && strcmp(cmd, "serve") == 0) {
        fputs(serve_usage, stdout);
        fputs(rp_serve_settings_help(), stdout);
      } else {
        fputs(cmd && strcmp(cmd, "run") == 0 ? run_usage : usage, stdout);
      }
      return 0;
    } else if (strcmp(a, "--version") == 0) {
      cmd = "version";
      break;
    } else if (a[0] == '-' && a[1]) {
      fprintf(stderr, "recpipe: unknown option '%s'\n%s", a, usage);
      return 1;
    } else if (!cmd) {
      cmd = a;
      /* these take their own options */
      if (strcmp(cmd, "schedule") == 0 || strcmp(cmd, "dashboard") == 0) {
        i++;
        break;
      }
    } else {
      break; /* the script: everything after it belongs to the script */
    }
  }
  if (o.quiet && !level_set) o.log_level = RP_LOG_WARN;
  if (!cmd || strcmp(cmd, "help") == 0) {
    int run = cmd && i < argc && strcmp(argv[i], "run") == 0;
    fputs(run ? run_usage : usage, cmd ? stdout : stderr);
    return cmd ? 0 : 1;
  }
  if (strcmp(cmd, "version") == 0) {
    printf("recpipe %s (%s)\n", RP_VERSION, LUA_RELEASE);
    return 0;
  }
  if (strcmp(cmd, "serve") == 0) {
    if (i >= argc) {
      fprintf(stderr, "recpipe: serve needs a serve script or a YAML config\n%s", serve_usage);
      return 1;
    }
    rp_host_init(&o, argv[0]);
    return rp_serve_main(argc, argv, i, argv[0]);
  }
  if (strcmp(cmd, "schedule") == 0 || strcmp(cmd, "dashboard") == 0) {
    rp_log_set_level(o.log_level);
    return strcmp(cmd, "schedule") == 0 ? rp_schedule_main(argc, argv, i)
                                        : rp_dashboard_main(argc, argv, i);
  }
  if (strcmp(cmd, "run") != 0) {
    fprintf(stderr, "recpipe: unknown command '%s'\n%s", cmd, usage);
    return 1;
  }
  if (i >= argc) {
    fprintf(stderr, "recpipe: run needs a script or a YAML config\n%s", run_usage);
    return 1;
  }
  /* under mpirun: join MPI before the script runs (every rank must) */
  rp_err err;
  if (rp_dist_init(&err)) {
    fprintf(stderr, "recpipe: %s\n", err.msg);
    return 1;
  }
  lua_State *L = rp_host_new(&o, argv[0]);
  if (!L) {
    if (rp_dist_launched()) rp_dist_abort("cannot create the Lua state");
    return 1;
  }
  int rc = rp_host_run(L, argc, argv, i);
  if (rc && rp_dist_launched()) rp_dist_abort("the script failed (see above)");
  lua_close(L);
  rp_dist_finalize();
  return rc;
}
