/*
** embed.c -- embedding hnn in a C program through hnn.h only.
**
** Two independent states live in one process:
**   A: Himmelblau's function scaled to the unit square, the logistic
**      activation and the Hopfield metric it induces;
**   B: a quadratic 0.5 x'Qx + b'x whose Q and b are params.
** Each state is opened, loaded and compiled in its own thread (hnn serializes
** the libtcc compilations behind a process-wide mutex); the main thread then
** looks the callbacks up again, calls them and prints the results.  Finally
** it shows error handling: a bad script, an unknown name, a bad API call.
**
** Build:  cc embed.c $(pkg-config --cflags --libs hnn)      (see Makefile)
** The program prints the same text on every run (embed.out).
*/
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hnn.h"

static const char *model_a =
  "# Himmelblau on [0,1]^2 with a logistic Hopfield geometry\n"
  "objective himmelblau(x[2]) = ((10*x[1] - 5)^2 + (10*x[2] - 5) - 11)^2 +\n"
  "                             ((10*x[1] - 5) + (10*x[2] - 5)^2 - 7)^2\n"
  "activation logistic(u) = 1/(1 + exp(-u))\n"
  "metric G = hopfield(logistic)\n";

static const char *model_b =
  "# quadratic 0.5 x'Qx + b'x\n"
  "param Q[3,3] = [[4, 1, 0], [1, 3, 1], [0, 1, 2]]\n"
  "param b[3] = [1, -2, 0.5]\n"
  "objective q(x[3]) = 0.5*dot(x, Q*x) + dot(b, x)\n"
  "metric E = euclidean\n";

/* One model, loaded and compiled by one thread. */
typedef struct {
  const char *name;     /* used in messages */
  const char *text;
  const char *fns[3];   /* callbacks to compile: name, what, n */
  hnn_what what[3];
  size_t n[3];
  int nfns;
  int rounds;           /* open/load/compile/close this many times first */
  hnn_state *S;         /* the state kept for the main thread */
  int status;
  char err[512];
} job;

static void *compile_job(void *arg) {
  job *j = arg;
  j->status = HNN_OK;
  /* Several fresh states in a row: each load and each hnn_get compiles. */
  for (int round = 0; round <= j->rounds && j->status == HNN_OK; round++) {
    hnn_state *S = hnn_open();
    if (!S) {
      j->status = HNN_ERR_USAGE;
      break;
    }
    int r = hnn_load_string(S, j->text, j->name);
    for (int k = 0; r == HNN_OK && k < j->nfns; k++)
      if (!hnn_get(S, j->fns[k], j->what[k], j->n[k])) r = HNN_ERR_SCRIPT;
    if (r != HNN_OK) {
      snprintf(j->err, sizeof j->err, "%s", hnn_error(S));
      j->status = r;
      hnn_close(S);
    } else if (round == j->rounds) {
      j->S = S;     /* keep the last one */
    } else {
      hnn_close(S);
    }
  }
  return NULL;
}

/* Print an error text (it may hold several lines) ending with one newline. */
static void print_error(const char *what, const char *text) {
  size_t n = strlen(text);
  while (n && text[n - 1] == '\n') n--;
  printf("%s: %.*s\n", what, (int)n, text);
}

static void print_vec(const char *label, const double *v, size_t n) {
  printf("%-28s [", label);
  for (size_t i = 0; i < n; i++) printf("%s%.10g", i ? ", " : "", v[i]);
  printf("]\n");
}

/* Look a callback up (already compiled: a cache hit), or report why not. */
static hnn_fn *get(hnn_state *S, const char *name, hnn_what what, size_t n) {
  hnn_fn *fn = hnn_get(S, name, what, n);
  if (!fn) {
    fprintf(stderr, "hnn_get(%s): %s\n", name, hnn_error(S));
    exit(1);
  }
  return fn;
}

int main(void) {
  printf("hnn %s\n", hnn_version());

  /* ---- two states, compiled concurrently from two threads */
  job ja = { "himmelblau.hnn", NULL, { "himmelblau", "logistic", "G" },
             { HNN_GRADIENT, HNN_DERIV1, HNN_METRIC }, { 0, 2, 2 }, 3, 10, NULL, 0, "" };
  job jb = { "quadratic.hnn", NULL, { "q", "q", "E" },
             { HNN_VALUE, HNN_GRADIENT, HNN_METRIC }, { 0, 0, 3 }, 3, 10, NULL, 0, "" };
  ja.text = model_a;
  jb.text = model_b;
  pthread_t ta, tb;
  if (pthread_create(&ta, NULL, compile_job, &ja) || pthread_create(&tb, NULL, compile_job, &jb)) {
    fprintf(stderr, "pthread_create failed\n");
    return 1;
  }
  pthread_join(ta, NULL);
  pthread_join(tb, NULL);
  if (ja.status || jb.status) {
    fprintf(stderr, "compile failed:\n%s%s", ja.err, jb.err);
    return 1;
  }
  printf("compiled in two threads: ok\n");
  hnn_state *A = ja.S, *B = jb.S;

  /* ---- state A: gradient, activation derivative, metric */
  double x[2] = { 0.3, 0.7 }, out[9];
  hnn_fn *grad = get(A, "himmelblau", HNN_GRADIENT, 0);
  hnn_fn *ds = get(A, "logistic", HNN_DERIV1, 2);
  hnn_fn *G = get(A, "G", HNN_METRIC, 2);
  printf("\n[A] himmelblau: grad takes %zu doubles, returns %zu\n", hnn_fn_nin(grad), hnn_fn_nout(grad));
  if (hnn_call(grad, x, out) != HNN_OK) return 1;
  print_vec("grad himmelblau([0.3, 0.7])", out, 2);
  if (hnn_call(ds, x, out) != HNN_OK) return 1;
  print_vec("logistic'([0.3, 0.7])", out, 2);
  if (hnn_call(G, x, out) != HNN_OK) return 1;
  print_vec("G([0.3, 0.7]) (row-major)", out, 4);
  /* A caller-owned workspace makes calls reentrant (hnn_call_ws). */
  double *work = calloc(hnn_fn_nwork(grad) + 1, sizeof *work);
  double y[2] = { 0.5, 0.5 };
  if (!work || hnn_call_ws(grad, y, out, work) != HNN_OK) return 1;
  print_vec("grad himmelblau([0.5, 0.5])", out, 2);
  free(work);
  char *d = hnn_describe(A, "himmelblau");
  printf("describe: %s\n", d ? d : "(null)");
  free(d);

  /* ---- state B: value and gradient; params changed in place */
  double z[3] = { 1, 0, -1 };
  hnn_fn *q = get(B, "q", HNN_VALUE, 0), *gq = get(B, "q", HNN_GRADIENT, 0);
  hnn_fn *E = get(B, "E", HNN_METRIC, 3);
  if (hnn_call(q, z, out) != HNN_OK) return 1;
  printf("\n[B] q([1, 0, -1]) = %.10g\n", out[0]);
  if (hnn_call(gq, z, out) != HNN_OK) return 1;
  print_vec("grad q([1, 0, -1])", out, 3);
  if (hnn_call(E, z, out) != HNN_OK) return 1;
  print_vec("E([1, 0, -1]) (row-major)", out, 9);
  double b2[3] = { 0, 0, 0 };
  if (hnn_param_set(B, "b", b2, 3) != HNN_OK) return 1;
  if (hnn_call(gq, z, out) != HNN_OK) return 1;
  print_vec("after b = 0: grad q", out, 3);
  size_t rows = 0, cols = 0;
  if (hnn_eval(B, "Q*[1, 1, 1]", out, 9, &rows, &cols) != HNN_OK) return 1;
  printf("hnn_eval gives a %zu x %zu value\n", rows, cols);
  print_vec("Q*[1, 1, 1]", out, rows * cols);
  /* The states are independent: A knows nothing of q. */
  d = hnn_describe(A, "q");
  printf("A knows q? %s\n", d ? "yes" : "no");
  free(d);

  /* ---- error handling */
  printf("\n[errors]\n");
  int r = hnn_load_string(B, "param v[2] = [1, 2, 3]\n", "bad.hnn");
  printf("load bad.hnn: status %d, first error at %s:%d:%d\n", r, hnn_error_file(B), hnn_error_line(B),
         hnn_error_col(B));
  print_error("hnn_error", hnn_error(B));
  r = hnn_load_string(B, "objective h(x[2]) = x[1] +\n", "cut.hnn");
  printf("load cut.hnn: status %d, incomplete input: %s\n", r, hnn_error_incomplete(B) ? "yes" : "no");
  if (!hnn_get(B, "nosuch", HNN_GRADIENT, 0)) print_error("hnn_get(nosuch)", hnn_error(B));
  r = hnn_param_set(B, "b", b2, 2);
  printf("hnn_param_set(b, 2 values): status %d\n", r);
  print_error("hnn_error", hnn_error(B));
  /* Failed loads leave the state as it was: q and its callbacks still work. */
  if (hnn_call(q, z, out) != HNN_OK) return 1;
  printf("q([1, 0, -1]) with b = 0: %.10g\n", out[0]);

  hnn_close(A);   /* frees every hnn_fn taken from A */
  hnn_close(B);
  return 0;
}
