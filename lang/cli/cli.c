/*
** cli.c — the hnn command-line program.
**
** Reads the options, opens one hnn state, applies the settings that must
** precede loading (seed, offset, -D overrides, environment switches read by
** the library), loads the script and the -e texts, then runs the REPL or
** prints the requested report; `hnn plot FILE.csv` (plot_main) draws a run's
** CSV file with hnn_plot_csv.  Uses only the public API (hnn.h), like lua.c,
** plus the REPL (repl.h).  The exit status is the hnn status of the first
** failure: 0 ok, 1 script error, 2 usage, 3 runtime error.
**
** Signals: SIGINT, SIGTERM and SIGHUP only record themselves
** (hnn_interrupt); a run stops at its next check and removes its temporary
** files as after any failure, no later statement starts, and the program
** then dies of the same signal (exit status 128 + signo in the shell).  A
** signal ignored at startup (nohup, a background job) stays ignored.
*/
#ifndef _GNU_SOURCE
#define _GNU_SOURCE   /* strndup, setenv */
#endif
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hnn.h"
#include "repl.h"

static const char *progname = "hnn";

/* In an MPI job (docs/mpi.md) only rank 0 speaks: the others print no usage
** error, and every error is printed once, after hnn_mpi_finish. */
static int mpi_quiet, mpi_many;

/* The image sizes runtime/plot.c draws (hnn_plot_csv refuses others). */
#define PLOT_SIZE_MIN 16
#define PLOT_SIZE_MAX 20000

/* Everything the command line asked for; filled by parse_args. */
typedef struct {
  const char **exprs;   /* -e texts, in order */
  int nexprs;
  const char **defs;    /* -D name=value, in order */
  int ndefs;
  const char *script;   /* file, "-" for stdin, or NULL */
  const char *outdir;   /* -o */
  uint64_t seed, offset;
  int has_seed, has_offset;
  int list_params, dump_ast, dump_c, interactive;
  double max_output;    /* --max-output, bytes (0: the library's default) */
} options;

static void usage(void) {
  printf(
      "usage: %s [options] [file.hnn | -]\n"
      "       %s plot FILE.csv [options] -o OUT.png|.svg|.pdf   (see hnn plot --help)\n"
      "Run an hnn script; with no script and no -e, start the REPL.\n"
      "\n"
      "options:\n"
      "  -e TEXT           run TEXT after the script (may repeat)\n"
      "  -D NAME=VALUE     override param NAME; VALUE is hnn text, e.g. -D n=10\n"
      "                    or -D 'x0=[1, 2]' (may repeat; -DNAME=VALUE also works)\n"
      "  --seed N          master random seed (default 0)\n"
      "  --seed-offset K   derive the seed of job K from the master seed\n"
      "  --task-id K       same as --seed-offset; without it, the environment\n"
      "                    variable SLURM_ARRAY_TASK_ID is used when set\n"
      "  -o DIR            write output files into DIR (created if missing)\n"
      "  --max-output SIZE refuse a run that would write more than SIZE bytes\n"
      "                    (suffix k, M, G, T: powers of 1000; 'none': no limit;\n"
      "                    default 4G)\n"
      "  -i                enter the REPL after the script and -e texts\n"
      "  --list-params     dry run: load without printing or running, then list\n"
      "                    every param with its value and where it was set\n"
      "  --dump-ast        dry run that prints the syntax tree of each loaded unit\n"
      "  --dump-c          print the generated C of the compiled callbacks\n"
      "  --version         print the version and exit\n"
      "  -h, --help        print this help and exit\n"
      "  --                end of options\n"
      "\n"
      "A script named '-' is read from standard input as one unit.  Piped input\n"
      "without a script runs line by line like the REPL: errors are reported\n"
      "and the remaining lines still run.  Numbers may be decimal or 0x hex.\n"
      "\n"
      "exit status: 0 ok, 1 script error, 2 usage error, 3 runtime error\n",
      progname, progname);
}

/* "hnn: error: MESSAGE" (control bytes of a quoted argv word escaped), and
** then `hint` if any; HNN_ERR_USAGE. */
static int vusage(const char *hint, const char *fmt, va_list ap) {
  if (mpi_quiet) return HNN_ERR_USAGE;
  char msg[1024];
  vsnprintf(msg, sizeof msg, fmt, ap);
  fprintf(stderr, "%s: error: ", progname);
  repl_put_message(msg, stderr);
  fputc('\n', stderr);
  if (hint) fprintf(stderr, hint, progname);
  return HNN_ERR_USAGE;
}

/* A usage error: one line naming the problem, one line pointing at help. */
static int usage_error(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int r = vusage("try '%s --help'\n", fmt, ap);
  va_end(ap);
  return r;
}

/* Parse an unsigned 64-bit number, decimal or 0x hex; 0 on success. */
static int parse_u64(const char *s, uint64_t *out) {
  int base = 10;
  if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) base = 16, s += 2;
  if (!*s || !(base == 16 ? strchr("0123456789abcdefABCDEF", *s) : strchr("0123456789", *s)))
    return -1;   /* strtoull would accept a sign or blanks: refuse them */
  char *end;
  errno = 0;
  unsigned long long v = strtoull(s, &end, base);
  if (errno || *end) return -1;
  *out = (uint64_t)v;
  return 0;
}

/* The argument of option argv[*i]: the rest of a "-eTEXT"/"--seed=N" word
** (`attached`, or NULL) or the next word.  NULL when there is none. */
static const char *opt_arg(int argc, char **argv, int *i, const char *attached) {
  if (attached) return attached;
  if (*i + 1 >= argc) return NULL;
  return argv[++*i];
}

/* Does argv word `w` name long option `name`?  Sets *val to the text after
** '=' in "--name=value", else NULL. */
static int is_long(const char *w, const char *name, const char **val) {
  size_t n = strlen(name);
  if (strncmp(w, name, n) != 0) return 0;
  if (w[n] == '\0') return *val = NULL, 1;
  if (w[n] == '=') return *val = w + n + 1, 1;
  return 0;
}

/* An option taking a number: store it in *dst and set *has. */
static int number_opt(int argc, char **argv, int *i, const char *att, uint64_t *dst, int *has) {
  char opt[32];   /* the option's name, without any "=value" */
  snprintf(opt, sizeof opt, "%.*s", (int)strcspn(argv[*i], "="), argv[*i]);
  const char *v = opt_arg(argc, argv, i, att);
  if (!v) return usage_error("option '%s' needs a number", opt);
  if (parse_u64(v, dst) != 0)
    return usage_error("option '%s' expects a non-negative integer, got '%s'", opt, v);
  *has = 1;
  return 0;
}

/* "500M", "20G", "1e10", "none" -> bytes (HUGE_VAL for none); -1 if bad. */
static double parse_size(const char *v) {
  if (strcmp(v, "none") == 0) return HUGE_VAL;
  char *end;
  double x = strtod(v, &end);
  const char *units = "kMGTP";
  const char *u = *end ? strchr(units, *end) : NULL;
  if (*end && u && end[1] == '\0') x *= pow(1000, (double)(u - units + 1));
  else if (*end) return -1;
  return x > 0 && isfinite(x) ? x : -1;
}

/* Fill `o` from argv; options may come before or after the script name.
** Returns 0, or HNN_ERR_USAGE after printing the message. */
static int parse_args(int argc, char **argv, options *o) {
  int only_files = 0;
  for (int i = 1; i < argc; i++) {
    const char *w = argv[i], *v = NULL;
    if (only_files || w[0] != '-' || w[1] == '\0') {
      if (o->script)
        return usage_error("more than one script ('%s' and '%s'); combine them with 'use'",
                           o->script, w);
      o->script = w;
    } else if (strcmp(w, "--") == 0) {
      only_files = 1;
    } else if (w[1] == 'e' || w[1] == 'D' || w[1] == 'o') {
      const char *arg = opt_arg(argc, argv, &i, w[2] ? w + 2 : NULL);
      if (!arg) return usage_error("option '-%.1s' needs an argument", w + 1);
      if (w[1] == 'e') o->exprs[o->nexprs++] = arg;
      else if (w[1] == 'D') o->defs[o->ndefs++] = arg;
      else o->outdir = arg;
    } else if (strcmp(w, "-i") == 0) {
      o->interactive = 1;
    } else if (is_long(w, "--seed", &v)) {
      if (number_opt(argc, argv, &i, v, &o->seed, &o->has_seed)) return HNN_ERR_USAGE;
    } else if (is_long(w, "--seed-offset", &v) || is_long(w, "--task-id", &v)) {
      if (number_opt(argc, argv, &i, v, &o->offset, &o->has_offset)) return HNN_ERR_USAGE;
    } else if (is_long(w, "--max-output", &v)) {
      const char *a = opt_arg(argc, argv, &i, v);
      if (!a) return usage_error("option '--max-output' needs a size, e.g. 20G");
      if ((o->max_output = parse_size(a)) < 0)
        return usage_error("option '--max-output' expects a size such as 500M, 20G or none, got '%s'", a);
    } else if (strcmp(w, "--list-params") == 0) {
      o->list_params = 1;
    } else if (strcmp(w, "--dump-ast") == 0) {
      o->dump_ast = 1;
    } else if (strcmp(w, "--dump-c") == 0) {
      o->dump_c = 1;
    } else if (strcmp(w, "--version") == 0) {
      printf("hnn %s\n", hnn_version());
      exit(HNN_OK);
    } else if (strcmp(w, "--help") == 0 || strcmp(w, "-h") == 0) {
      usage();
      exit(HNN_OK);
    } else {
      return usage_error("unknown option '%s'", w);
    }
  }
  return 0;
}

/* A bad environment switch: one line, exit 2 (the library would ignore it). */
static int env_error(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int r = vusage(NULL, fmt, ap);
  va_end(ap);
  return r;
}

static int is_dir(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* The environment switches the library reads where it needs them (the
** thread pool, the module search, the JIT) fall back to a default on a bad
** value; check them once here, so a typo is not silently ignored. */
static int check_env(void) {
  const char *v = getenv("HNN_THREADS");
  uint64_t n;
  if (v && *v && (parse_u64(v, &n) != 0 || n < 1))
    return env_error("HNN_THREADS is '%s'; it must be a whole number of threads, at least 1", v);
  if ((v = getenv("HNN_STDLIB")) && *v && !is_dir(v))
    return env_error("HNN_STDLIB is '%s', which is not a directory (it names the folder of the standard modules)", v);
  if ((v = getenv("HNN_TCC_LIBDIR")) && *v) {
    char lib[4096];
    snprintf(lib, sizeof lib, "%s/libtcc1.a", v);
    if (!is_dir(v) || access(lib, R_OK) != 0)
      return env_error("HNN_TCC_LIBDIR is '%s', which is not a directory holding tcc's libtcc1.a", v);
  }
  return 0;
}

/* Without --task-id/--seed-offset, a Slurm job array gives each task its own
** stream through SLURM_ARRAY_TASK_ID, so array jobs need no extra flag. */
static int offset_from_env(options *o) {
  const char *t = getenv("SLURM_ARRAY_TASK_ID");
  if (o->has_offset || !t || !*t) return 0;
  if (parse_u64(t, &o->offset) != 0)
    return usage_error("SLURM_ARRAY_TASK_ID is '%s', not a non-negative integer", t);
  o->has_offset = 1;
  return 0;
}

/* mkdir -p: create `dir` and its missing parents.  0 or -1 with errno set. */
static int make_dirs(const char *dir) {
  char *p = strdup(dir);
  if (!p) return -1;
  for (char *s = p + 1;; s++) {
    if (*s != '/' && *s != '\0') continue;
    char c = *s;
    *s = '\0';
    if (mkdir(p, 0777) != 0 && errno != EEXIST) return free(p), -1;
    *s = c;
    if (c == '\0') break;
  }
  struct stat st;
  int ok = stat(p, &st) == 0 && S_ISDIR(st.st_mode);
  free(p);
  if (!ok) errno = ENOTDIR;
  return ok ? 0 : -1;
}

/* ---- signals -------------------------------------------------------- */

static const int caught[] = { SIGINT, SIGTERM, SIGHUP };

static void on_signal(int signo) { hnn_interrupt(signo); }

/* No SA_RESTART: a read blocked at the REPL's prompt or on a FIFO returns
** EINTR, so the signal is seen at once. */
static void catch_signals(void) {
  for (size_t i = 0; i < sizeof caught / sizeof *caught; i++) {
    struct sigaction sa, old;
    if (sigaction(caught[i], NULL, &old) != 0 || old.sa_handler == SIG_IGN) continue;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(caught[i], &sa, NULL);
  }
}

/* After cleanup: die of the pending signal, so a calling shell sees a
** killed process (and stops a script on SIGINT); else return st. */
static int exit_status(int st) {
  int sig = hnn_interrupted();
  if (!sig) return st;
  fflush(stdout);
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = SIG_DFL;
  sigemptyset(&sa.sa_mask);
  sigaction(sig, &sa, NULL);
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, sig);
  sigprocmask(SIG_UNBLOCK, &set, NULL);
  raise(sig);
  return 128 + sig;   /* not reached */
}

/* Print the state's error text as is (it carries file:line:col and caret). */
static int report(hnn_state *S, int status) {
  if (mpi_many) return status;   /* printed by finish_mpi */
  const char *msg = hnn_error(S);
  if (!msg || !*msg) {
    fprintf(stderr, "%s: error: failed with status %d and no message\n", progname, status);
  } else {
    repl_put_message(msg, stderr);
    if (msg[strlen(msg) - 1] != '\n') fputc('\n', stderr);
  }
  return status;
}

/* Apply seed, offset and -D overrides; they must precede every load. */
static int configure(hnn_state *S, const options *o) {
  int st;
  if (o->outdir) {
    if (make_dirs(o->outdir) != 0) {
      fprintf(stderr, "%s: error: cannot create output directory '%s': %s\n", progname, o->outdir,
              strerror(errno));
      return HNN_ERR_RUNTIME;
    }
    if ((st = hnn_set_output_dir(S, o->outdir)) != HNN_OK) return report(S, st);
  }
  if (o->max_output > 0 && (st = hnn_set_max_output(S, o->max_output)) != HNN_OK) return report(S, st);
  /* --dump-ast inspects the program, like --list-params: nothing runs */
  hnn_set_dry_run(S, o->list_params || o->dump_ast);
  hnn_set_dump_ast(S, o->dump_ast);
  if (o->has_seed && (st = hnn_set_seed(S, o->seed)) != HNN_OK) return report(S, st);
  if (o->has_offset && (st = hnn_set_seed_offset(S, o->offset)) != HNN_OK) return report(S, st);
  for (int i = 0; i < o->ndefs; i++) {
    const char *d = o->defs[i], *eq = strchr(d, '=');
    if (!eq || eq == d)
      return usage_error("-D expects NAME=VALUE, got '%s'", d);
    char *name = strndup(d, (size_t)(eq - d));
    if (!name) return HNN_ERR_RUNTIME;
    st = hnn_define(S, name, eq + 1);
    free(name);
    if (st != HNN_OK) return report(S, st);
  }
  return HNN_OK;
}

/* Read all of stdin for the script "-".  NULL on a read error. */
static char *slurp_stdin(void) {
  size_t len = 0, cap = 4096;
  char *buf = malloc(cap);
  while (buf) {
    len += fread(buf + len, 1, cap - len - 1, stdin);
    if (len + 1 < cap) break;
    char *nb = realloc(buf, cap *= 2);
    if (!nb) free(buf);
    buf = nb;
  }
  if (!buf || ferror(stdin)) return free(buf), NULL;
  buf[len] = '\0';
  return buf;
}

/* Load the script, then each -e text, stopping at the first failure. */
static int load_all(hnn_state *S, const options *o) {
  int st = HNN_OK;
  if (o->script && strcmp(o->script, "-") == 0) {
    char *src = slurp_stdin();
    if (!src) {
      fprintf(stderr, "%s: error: cannot read standard input: %s\n", progname, strerror(errno));
      return HNN_ERR_RUNTIME;
    }
    st = hnn_load_string(S, src, "<stdin>");
    free(src);
  } else if (o->script) {
    st = hnn_load_file(S, o->script);
  }
  if (st != HNN_OK) return report(S, st);
  for (int i = 0; i < o->nexprs; i++) {
    char name[32];
    if (o->nexprs == 1) snprintf(name, sizeof name, "<-e>");
    else snprintf(name, sizeof name, "<-e #%d>", i + 1);
    if ((st = hnn_load_string(S, o->exprs[i], name)) != HNN_OK) return report(S, st);
  }
  return HNN_OK;
}

/* Print a text the library allocated, ending it with a newline. */
static void put_text(char *text) {
  if (!text) return;
  fputs(text, stdout);
  if (*text && text[strlen(text) - 1] != '\n') putchar('\n');
  free(text);
}

/* What runs after the options are known; returns the exit status. */
static int run(hnn_state *S, options *o) {
  int st = configure(S, o);
  if (st != HNN_OK) return st;
  int have_input = o->script || o->nexprs > 0;
  int report_only = o->list_params || o->dump_ast || o->dump_c;
  int tty = isatty(STDIN_FILENO);
  /* mpirun gives standard input to rank 0 alone */
  if (mpi_many && (!have_input || o->interactive || (o->script && strcmp(o->script, "-") == 0)))
    return usage_error("under MPI hnn runs a script file or -e texts: no REPL and no script on standard input");
  if (!have_input && report_only) {
    /* A report needs a whole program: read piped input as one unit. */
    if (tty) return usage_error("%s needs a script, -e TEXT or piped input",
                                o->list_params ? "--list-params" : o->dump_ast ? "--dump-ast" : "--dump-c");
    o->script = "-";
    have_input = 1;
  }
  if ((st = load_all(S, o)) != HNN_OK) return st;
  if (o->list_params) put_text(hnn_list_params(S));
  if (o->dump_c) {
    char *c = hnn_dump_c(S);
    if (c && !*c)
      fprintf(stderr, "%s: warning: no callbacks were compiled, so there is no C to show\n", progname);
    put_text(c);
  }
  if (!have_input || o->interactive) {
    fflush(stdout);
    st = repl_run(S, tty);
  }
  return st;
}

/* `hnn plot FILE.csv [options]`: the options fill hnn_plot_options. */
static int plot_main(int argc, char **argv) {
  hnn_plot_options po;
  memset(&po, 0, sizeof po);
  const char *csv = NULL, *out = NULL;
  for (int i = 1; i < argc; i++) {
    const char *w = argv[i], *v = NULL, **dst = NULL;
    if (w[0] != '-' || w[1] == '\0') {
      if (csv) return usage_error("plot: more than one CSV file ('%s' and '%s')", csv, w);
      csv = w;
      continue;
    }
    if (strcmp(w, "-o") == 0 || is_long(w, "--output", &v)) dst = &out;
    else if (is_long(w, "--x", &v)) dst = &po.x;
    else if (is_long(w, "--y", &v)) dst = &po.y;
    else if (is_long(w, "--group", &v)) dst = &po.group;
    else if (is_long(w, "--color", &v)) dst = &po.color;
    else if (is_long(w, "--title", &v)) dst = &po.title;
    else if (is_long(w, "--size", &v)) dst = &v;
    else if (strcmp(w, "--logy") == 0) po.logy = 1;
    else if (strcmp(w, "--logx") == 0) po.logx = 1;
    else if (strcmp(w, "--scatter") == 0) po.scatter = 1;
    else if (strcmp(w, "--last") == 0) po.last = 1;
    else if (strcmp(w, "--help") == 0 || strcmp(w, "-h") == 0) {
      printf("usage: %s plot FILE.csv [options] [-o OUT.png|.svg|.pdf]\n"
             "Plot a CSV file written by a run.  Without -o the image is FILE.png,\n"
             "which must not exist yet: only -o replaces a file.\n\n"
             "  --x NAME          x column (default t)\n"
             "  --y NAME[,NAME]   y columns (default: all but t, step, particle)\n"
             "  --group NAME      one line per distinct value of NAME (default: particle)\n"
             "  --scatter         points instead of lines\n"
             "  --color NAME      colour points by NAME, with a colorbar (implies --scatter)\n"
             "  --last            only the rows of the last t\n"
             "  --logy, --logx    log-scale axes\n"
             "  --title TEXT      title (default: the file name)\n"
             "  --size WxH        image size in pixels (default 800x600)\n",
             progname);
      exit(HNN_OK);
    } else return usage_error("plot: unknown option '%s'", w);
    if (!dst) continue;
    if (!(*dst = opt_arg(argc, argv, &i, v))) return usage_error("plot: option '%s' needs an argument", w);
    int end = 0;
    if (dst == &v && (sscanf(v, "%dx%d%n", &po.width, &po.height, &end) != 2 || v[end] || po.width < PLOT_SIZE_MIN ||
                      po.height < PLOT_SIZE_MIN || po.width > PLOT_SIZE_MAX || po.height > PLOT_SIZE_MAX))
      return usage_error("plot: --size expects WxH, each from %d to %d pixels (e.g. 800x600), got '%s'", PLOT_SIZE_MIN,
                         PLOT_SIZE_MAX, v);
  }
  if (!csv) return usage_error("plot: needs a CSV file");
  char *def = NULL;
  if (!out) {   /* FILE.csv -> FILE.png, never over a file the user did not name */
    const char *dot = strrchr(csv, '.');
    size_t n = dot && !strchr(dot, '/') ? (size_t)(dot - csv) : strlen(csv);
    if (!(def = malloc(n + 5))) return HNN_ERR_RUNTIME;
    snprintf(def, n + 5, "%.*s.png", (int)n, csv);
    out = def;
    struct stat st;
    if (lstat(def, &st) == 0) {
      int r = usage_error("plot: '%s' exists; replace it with -o %s, or choose another name with -o", def, def);
      free(def);
      return r;
    }
  }
  catch_signals();
  hnn_state *S = hnn_open();
  int st = S ? hnn_plot_csv(S, csv, out, &po) : HNN_ERR_RUNTIME;
  if (S && st != HNN_OK) report(S, st);
  hnn_close(S);
  free(def);
  return exit_status(st);
}

/* The end of an MPI job: agree on the outcome; rank 0 prints the error of
** the lowest failing rank (all ranks exit with its status). */
static int finish_mpi(hnn_state *S, int st) {
  char *text = NULL;
  st = hnn_mpi_finish(st, S && hnn_error(S) ? hnn_error(S) : "", &text);
  if (st != HNN_OK && !mpi_quiet) {
    /* empty: a usage error rank 0 has printed already */
    if (text && *text) {
      repl_put_message(text, stderr);
      if (text[strlen(text) - 1] != '\n') fputc('\n', stderr);
    }
  }
  free(text);
  return st;
}

int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "plot") == 0) return plot_main(argc - 1, argv + 1);
  if (hnn_mpi_start(&argc, &argv) != HNN_OK) return HNN_ERR_RUNTIME;
  atexit(hnn_mpi_stop);   /* also after --help and --version, which exit at once */
  mpi_many = hnn_mpi_size() > 1;
  mpi_quiet = hnn_mpi_rank() != 0;
  if (mpi_quiet && !freopen("/dev/null", "w", stdout)) return HNN_ERR_RUNTIME;
  options o;
  memset(&o, 0, sizeof o);
  /* Every -e or -D uses at least one word, so argc slots always suffice. */
  o.exprs = calloc((size_t)argc, sizeof *o.exprs);
  o.defs = calloc((size_t)argc, sizeof *o.defs);
  if (!o.exprs || !o.defs) return HNN_ERR_RUNTIME;
  int st = parse_args(argc, argv, &o);
  if (st == HNN_OK) st = offset_from_env(&o);
  if (st == HNN_OK) st = check_env();
  if (st == HNN_OK) {
    catch_signals();
    hnn_state *S = hnn_open();
    if (!S) {
      fprintf(stderr, "%s: error: cannot create the interpreter (out of memory?)\n", progname);
      st = HNN_ERR_RUNTIME;
      if (mpi_many) st = finish_mpi(NULL, st);
    } else {
      if (mpi_quiet) hnn_set_warnings(S, NULL);
      st = run(S, &o);
      if (mpi_many) st = finish_mpi(S, st);
      hnn_close(S);
    }
  } else if (mpi_many) {
    st = finish_mpi(NULL, st);
  }
  free(o.exprs);
  free(o.defs);
  if (fflush(stdout) != 0 && st == HNN_OK && !hnn_interrupted()) {
    fprintf(stderr, "%s: error: cannot write standard output: %s\n", progname, strerror(errno));
    st = HNN_ERR_RUNTIME;
  }
  hnn_mpi_stop();
  return exit_status(st);
}
