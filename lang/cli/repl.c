/*
** repl.c — the hnn read-eval-print loop.
**
** Reads lines from stdin, GNU readline when interactive, getline otherwise,
** and loads each complete input with hnn_load_string.  readline is loaded
** when an interactive session starts (dltable.h): scripts do not pay for
** it, and without it the REPL still runs, prompting, without line editing.
** An input is complete unless loading it fails with the parser's
** end-of-input phrase (the lua.c trick: the parser, not the REPL, knows
** when a statement is unfinished).  Lines starting with ':' are REPL
** commands.  Uses only hnn.h.
**
** Ctrl-C (SIGINT, recorded by the CLI's handler through hnn_interrupt)
** abandons the line being typed, or stops the running statement, and
** returns to the prompt with every definition kept, as in python, lua or
** R.  SIGTERM and SIGHUP, and SIGINT when the input is not a terminal, end
** the session.  readline's own signal handling is off: a signal makes the
** read in getc_interruptible return EINTR, which ends the line.
*/
#ifndef _GNU_SOURCE
#define _GNU_SOURCE   /* getline, strdup */
#endif
#include "repl.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <unistd.h>

#include <readline/history.h>
#include <readline/readline.h>

#include "dltable.h"

/* The readline symbols the REPL uses, loaded by rl_load; the macros below
** send every use through the table. */
#define RL_SYMS(X) \
  X(readline) X(add_history) X(append_history) X(write_history) X(using_history) X(read_history) \
  X(history_truncate_file) X(rl_readline_name) X(rl_outstream) X(rl_catch_signals) \
  X(rl_getc_function) X(rl_done)

static struct {
  RL_SYMS(DLTABLE_SLOT)
} rl;

static int rl_load(char *err, size_t errlen) {
  static const char *const names[] = { RL_SYMS(DLTABLE_NAME) };
  enum { N = sizeof names / sizeof *names };
  _Static_assert(sizeof rl == N * sizeof(void *), "rl is one pointer per name");
  return dltable_load("libreadline.so.8", "readline", names, N, &rl, err, errlen) &&
                 dltable_load("libreadline.so", "readline", names, N, &rl, err, errlen)
             ? -1
             : 0;
}

#define readline (*rl.readline)
#define add_history (*rl.add_history)
#define append_history (*rl.append_history)
#define write_history (*rl.write_history)
#define using_history (*rl.using_history)
#define read_history (*rl.read_history)
#define history_truncate_file (*rl.history_truncate_file)
#define rl_readline_name (*rl.rl_readline_name)
#define rl_outstream (*rl.rl_outstream)
#define rl_catch_signals (*rl.rl_catch_signals)
#define rl_getc_function (*rl.rl_getc_function)
#define rl_done (*rl.rl_done)

/* hnn's parser appends this to an error that hits the end of the input. */
#define INCOMPLETE_MARK "(the input ends in the middle of a statement)"
#define PROMPT "hnn> "
#define PROMPT_MORE "...> "
#define HISTORY_MAX 1000

typedef struct {
  hnn_state *S;
  int interactive;
  int editing;       /* readline loaded (interactive only) */
  int failed;        /* some input or command failed */
  int lineno;        /* lines read so far */
  int cancelled;     /* the last read_line was ended by a signal */
  char *history;     /* history file, or NULL for none */
} repl;

void repl_put_message(const char *s, FILE *f) {
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if ((c < 0x20 && c != '\t' && c != '\n') || c == 0x7f) fprintf(f, "\\x%02x", c);
    else fputc(c, f);
  }
}

/* Print the state's error text; it carries file:line:col and caret. */
static void report(repl *R) {
  const char *msg = hnn_error(R->S);
  if (!msg || !*msg) msg = "hnn: error: failed with no message";
  repl_put_message(msg, stderr);
  if (msg[strlen(msg) - 1] != '\n') fputc('\n', stderr);
  R->failed = 1;
}

/* A REPL-level message (bad command, unknown name); counts as a failure. */
static void complain(repl *R, const char *fmt, ...) {
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  fputs("hnn: error: ", stderr);
  repl_put_message(msg, stderr);
  fputc('\n', stderr);
  R->failed = 1;
}

/* Print a text the library allocated, ending it with a newline. */
static void put_text(char *text, const char *if_empty) {
  if (!text) return;
  fputs(*text ? text : if_empty, stdout);
  if (*text && text[strlen(text) - 1] != '\n') putchar('\n');
  free(text);
}

/* ---- input ---------------------------------------------------------- */

/* The history file: $HNN_HISTORY, else ~/.hnn_history, else none. */
static char *history_path(void) {
  const char *p = getenv("HNN_HISTORY");
  if (p && *p) return strdup(p);
  const char *home = getenv("HOME");
  if (!home || !*home) return NULL;
  char *path = malloc(strlen(home) + sizeof "/.hnn_history");
  if (path) sprintf(path, "%s/.hnn_history", home);
  return path;
}

static void history_start(repl *R) {
  rl_readline_name = "hnn";   /* for $if hnn in ~/.inputrc */
  if (!isatty(STDOUT_FILENO)) rl_outstream = stderr;   /* keep prompts out of a redirected stdout */
  using_history();
  R->history = history_path();
  if (R->history) read_history(R->history);   /* a missing file is fine */
}

/* Remember one input in memory and in the file.  append_history does not
** create a missing file, so fall back to writing the whole list.  Failures
** are ignored: history is a convenience. */
static void history_add(repl *R, const char *entry) {
  if (!R->editing) return;
  add_history(entry);
  if (R->history && append_history(1, R->history) != 0) write_history(R->history);
}

static void history_end(repl *R) {
  if (R->history) history_truncate_file(R->history, HISTORY_MAX);
  free(R->history);
}

/* Set by getc_interruptible: readline's line was ended by a signal. */
static int rl_interrupted;

/* readline's input, a byte at a time.  A signal ends the line being edited
** (the REPL then drops it): "^C" as a shell shows it, and accept-line.  The
** signals stay blocked except inside pselect, so one that arrives between
** the test of the flag and the wait still wakes the wait (readline's own
** rl_getc does the same). */
static int getc_interruptible(FILE *in) {
  sigset_t block, old;
  sigemptyset(&block);
  sigaddset(&block, SIGINT);
  sigaddset(&block, SIGTERM);
  sigaddset(&block, SIGHUP);
  sigprocmask(SIG_BLOCK, &block, &old);
  int fd = fileno(in), r;
  unsigned char ch;
  for (;;) {
    if (hnn_interrupted()) {
      if (hnn_interrupted() == SIGINT) fputs("^C", rl_outstream), fflush(rl_outstream);
      rl_interrupted = 1;
      rl_done = 1;
      r = '\n';
      break;
    }
    fd_set rd;
    FD_ZERO(&rd);
    FD_SET(fd, &rd);
    if (pselect(fd + 1, &rd, NULL, NULL, NULL, &old) < 0) {
      if (errno == EINTR) continue;
      r = EOF;
      break;
    }
    ssize_t n = read(fd, &ch, 1);
    if (n == 1 || n == 0 || errno != EINTR) {
      r = n == 1 ? ch : EOF;
      break;
    }
  }
  sigprocmask(SIG_SETMASK, &old, NULL);
  return r;
}

/* One line without its newline (caller frees), or NULL at end of input or
** when a signal ended the line (R->cancelled). */
static char *read_line(repl *R, int more) {
  char *line = NULL;
  R->cancelled = 0;
  if (R->editing) {
    rl_interrupted = 0;
    line = readline(more ? PROMPT_MORE : PROMPT);
    if (rl_interrupted) R->cancelled = 1, free(line), line = NULL;
  } else {
    if (R->interactive) {
      fputs(more ? PROMPT_MORE : PROMPT, isatty(STDOUT_FILENO) ? stdout : stderr);
      fflush(NULL);
    }
    size_t cap = 0;
    errno = 0;
    ssize_t n = getline(&line, &cap, stdin);
    if (n < 0) {
      if (errno == EINTR && hnn_interrupted()) {
        clearerr(stdin);
        R->cancelled = 1;
        if (R->interactive) putchar('\n');   /* the terminal echoed ^C */
      }
      return free(line), NULL;
    }
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r')) line[--n] = '\0';
  }
  if (line) R->lineno++;
  return line;
}

/* A pending signal ends the session, except SIGINT in an interactive one:
** that only interrupts (the line being typed, or the statement, which has
** already stopped) and is forgotten here. */
static int must_stop(repl *R) {
  int sig = hnn_interrupted();
  if (!sig) return 0;
  if (!R->interactive || sig != SIGINT) return 1;
  hnn_interrupt_clear();
  clearerr(stdout);   /* a write the signal interrupted */
  return 0;
}

static int blank(const char *s) {
  while (isspace((unsigned char)*s)) s++;
  return *s == '\0';
}

/* ---- commands ------------------------------------------------------- */

static void cmd_help(repl *R, const char *arg);

static void cmd_load(repl *R, const char *arg) {
  if (!*arg) {
    complain(R, "usage: :load FILE");
    return;
  }
  if (hnn_load_file(R->S, arg) != HNN_OK) report(R);
}

static void cmd_list(repl *R, const char *arg) {
  (void)arg;
  put_text(hnn_list(R->S), "(nothing defined yet)\n");
}

static void cmd_params(repl *R, const char *arg) {
  (void)arg;
  put_text(hnn_list_params(R->S), "(no params)\n");
}

static void cmd_type(repl *R, const char *arg) {
  if (!*arg) {
    complain(R, "usage: :type NAME");
    return;
  }
  char *d = hnn_describe(R->S, arg);
  if (!d) {
    complain(R, "unknown name '%s'", arg);
    return;
  }
  put_text(d, "");
}

/* Without an argument, show the seed; with one, set it for later loads. */
static void cmd_seed(repl *R, const char *arg) {
  if (!*arg) {
    printf("seed %" PRIu64 "\n", hnn_seed(R->S));
    return;
  }
  /* Decimal or 0x hex, as on the command line; no sign, no octal. */
  int hex = arg[0] == '0' && (arg[1] == 'x' || arg[1] == 'X');
  const char *digits = arg + (hex ? 2 : 0);
  char *end;
  errno = 0;
  unsigned long long v = strtoull(digits, &end, hex ? 16 : 10);
  if (errno || *end || !(hex ? isxdigit : isdigit)((unsigned char)*digits)) {
    complain(R, "usage: :seed N (a non-negative integer), got '%s'", arg);
    return;
  }
  if (hnn_set_seed(R->S, (uint64_t)v) != HNN_OK) report(R);
}

static const struct {
  const char *name, *alias, *args, *help;
  void (*fn)(repl *R, const char *arg);
} commands[] = {
  {"help", NULL, "", "this text", cmd_help},
  {"load", NULL, " FILE", "load and run a script file", cmd_load},
  {"list", NULL, "", "every name with its description", cmd_list},
  {"params", NULL, "", "every param with its value and origin", cmd_params},
  {"type", NULL, " NAME", "what NAME is, with its signature", cmd_type},
  {"seed", NULL, " [N]", "show the seed, or set it for later inputs", cmd_seed},
  {"quit", "q", "", "leave (Ctrl-D works too)", NULL},
};
#define NCOMMANDS (sizeof commands / sizeof commands[0])

static void cmd_help(repl *R, const char *arg) {
  (void)R, (void)arg;
  puts("Type hnn statements; a bare expression prints its value.  A statement\n"
       "left open (a bracket, a trailing operator) continues on the next line;\n"
       "an empty line abandons it.  Later inputs may redefine earlier names.\n"
       "\ncommands:");
  for (size_t i = 0; i < NCOMMANDS; i++) {
    char head[32];
    snprintf(head, sizeof head, ":%s%s%s%s", commands[i].name, commands[i].args,
             commands[i].alias ? ", :" : "", commands[i].alias ? commands[i].alias : "");
    printf("  %-14s %s\n", head, commands[i].help);
  }
  puts("\nexamples:\n"
       "  print 2^10\n"
       "  param a = 2\n"
       "  objective f(x) = a*(x - 1)^2\n"
       "  print f(3), grad f(3)\n"
       "  :type f");
}

/* Run the command in `line` (which starts with ':'); 1 means quit. */
static int command(repl *R, char *line) {
  char *name = line + 1, *arg = name;
  while (*arg && !isspace((unsigned char)*arg)) arg++;
  if (*arg) *arg++ = '\0';
  while (isspace((unsigned char)*arg)) arg++;
  char *end = arg + strlen(arg);
  while (end > arg && isspace((unsigned char)end[-1])) *--end = '\0';
  for (size_t i = 0; i < NCOMMANDS; i++) {
    int hit = strcmp(name, commands[i].name) == 0 ||
              (commands[i].alias && strcmp(name, commands[i].alias) == 0);
    if (!hit) continue;
    if (!commands[i].fn) return 1;
    commands[i].fn(R, arg);
    return 0;
  }
  complain(R, "unknown command ':%s' (try :help)", name);
  return 0;
}

/* ---- the loop ------------------------------------------------------- */

/* Append "\n" and `line` to the malloc'd text *buf. */
static int append(char **buf, const char *line) {
  size_t n = strlen(*buf), m = strlen(line);
  char *b = realloc(*buf, n + m + 2);
  if (!b) return -1;
  b[n] = '\n';
  memcpy(b + n + 1, line, m + 1);
  *buf = b;
  return 0;
}

enum { LOADED, FAILED, UNFINISHED };

/* Load one input, named after its first line, and classify the outcome. */
static int try_load(repl *R, const char *text, int first_line) {
  if (hnn_load_string_at(R->S, text, "<stdin>", first_line) == HNN_OK) return LOADED;
  return hnn_error_incomplete(R->S) ? UNFINISHED : FAILED;
}

/* Read, accumulate and load inputs until end of input or a signal that
** ends the session (returns 0) or :quit (returns 1). */
static int loop(repl *R) {
  char *buf = NULL;   /* the unfinished input so far, or NULL */
  int first = 0;      /* its first line number */
  int quit = 0;
  char *line;
  while (!quit && !must_stop(R)) {
    line = read_line(R, buf != NULL);
    if (R->cancelled) {   /* Ctrl-C: drop the line and any unfinished input */
      free(buf), buf = NULL;
      continue;
    }
    if (!line) break;
    if (!buf && blank(line)) {
      free(line);
      continue;
    }
    if (!buf && line[strspn(line, " \t")] == ':') {
      history_add(R, line);
      quit = command(R, line + strspn(line, " \t"));
      free(line);
    } else if (buf && blank(line)) {
      /* An empty line gives up on the unfinished input: show why. */
      free(line);
      history_add(R, buf);
      report(R);
      free(buf), buf = NULL;
    } else {
      if (!buf) first = R->lineno, buf = line;
      else if (append(&buf, line) != 0) complain(R, "out of memory");
      if (buf != line) free(line);
      int r = try_load(R, buf, first);
      if (r == UNFINISHED) continue;
      history_add(R, buf);
      if (r == FAILED) report(R);
      free(buf), buf = NULL;
    }
    fflush(stdout);   /* keep prints and errors in order when both are piped */
  }
  if (buf) {          /* input ended inside a statement */
    history_add(R, buf);
    report(R);
    free(buf);
  }
  return quit;
}

int repl_run(hnn_state *S, int interactive) {
  repl R = { .S = S, .interactive = interactive };
  if (interactive) {
    char err[256];
    R.editing = rl_load(err, sizeof err) == 0;
    if (R.editing) {
      rl_catch_signals = 0;   /* the CLI's handler records signals; see getc_interruptible */
      rl_getc_function = getc_interruptible;
      history_start(&R);
    }
    else fprintf(stderr, "hnn: warning: %s; reading lines without editing or history\n", err);
    printf("hnn %s  (:help for help, Ctrl-D to quit)\n", hnn_version());
  }
  int quit = loop(&R);
  if (interactive) {
    if (!quit) putchar('\n');   /* after Ctrl-D, start the shell prompt afresh */
    if (R.editing) history_end(&R);
  }
  fflush(stdout);
  return R.failed ? 1 : 0;
}
