/*
** flows_impl.h — what the flow glue files share: the flow-kind table entry
** and the helpers that read flow declarations and run statements.
*/
#ifndef HNN_FLOWS_IMPL_H
#define HNN_FLOWS_IMPL_H

#include <time.h>

#include "flow.h"
#include "runout.h"
#include "state.h"

typedef enum { R_OBJECTIVE, R_ACTIVATION, R_METRIC, R_MIRROR, R_CONSTRAINTS } role;
typedef enum { ENG_ODE, ENG_MD, ENG_SDE, ENG_DUAL, ENG_GEO } engine;

typedef struct flow_kind {
  const char *name;
  const char *usage;
  int nroles;
  role roles[3];
  const char *keywords[4];     /* allowed keyword arguments; the first is required */
  engine eng;
  int sub;                     /* ode_flow_kind or md_kind */
} flow_kind;


/* A run statement's option value, a flow's keyword argument, the symbol in
** a role of the flow, the kind of a flow symbol. */
ast *flow_option(ast *run, const char *name);
ast *flow_keyword(sym *flow, const char *name);
sym *flow_role_sym(hnn_state *S, sym *flow, role r);
const flow_kind *flow_kind_of(sym *flow);
/* The objective's size variable for a point of `total` values (-1: sizes
** fixed; 0: no fit, reported at `at`). */
int flow_objective_size(hnn_state *S, sym *obj, int total, ast *at);
int flow_check_number(hnn_state *S, ast *e, const char *what);
/* Run options: 1 and a message when run->kids[i] repeats an earlier option
** or is not in opts (listing them). */
int flow_bad_option(hnn_state *S, ast *run, int i, const char *const *opts, const char *kind);
int flow_eval_number(hnn_state *S, ast *e, double *v);

/* Numbers every engine reads alike.  Absent, *v keeps its default; present,
** it is evaluated and must be positive and finite (flow_opt_positive), a
** whole number from lo to hi (flow_opt_count; hi FLOW_COUNT_MAX for no
** limit), or a flow keyword argument above lo, or at least lo when
** inclusive (flow_kw_number).  0, or 1 after an error at the value. */
#define FLOW_COUNT_MAX 999999999999999L
int flow_opt_positive(hnn_state *S, ast *run, const char *name, double *v);
int flow_opt_count(hnn_state *S, ast *run, const char *name, long lo, long hi, long *v);
int flow_kw_number(hnn_state *S, sym *flow, const char *name, double lo, int inclusive, double *v);
/* Check and evaluate an expression (v malloc'd, its shape in sh). */
int flow_eval_value(hnn_state *S, ast *e, double **v, ir_shape *sh);
/* Compile callback `what` of s at size n into out. */
int flow_fn_of(hnn_state *S, sym *s, int what, int n, flow_fn *out);

/* The metric g at size n into P: metric_diagonal, then G, G^-1 and (diagonal
** metrics) dg/dx.  1 when a callback does not compile. */
int flow_metric_problem(hnn_state *S, sym *g, int n, flow_problem *P);

/* Compile what flow's engine needs into P (n values per point; nsize the
** objective's size variable or -1; the Hessian only when hessian is set,
** for implicit ODE methods). */
int flow_build_problem(hnn_state *S, sym *flow, int nsize, int n, int hessian, flow_problem *P);

/* The progress line on a terminal: "hnn: run NAME  t = ...  42%" (t NaN:
** "hnn: run NAME  42 of 100 runs", step counting finished runs). */
typedef struct run_ctx {
  hnn_state *S;
  const char *name;
  run_out *out;
  flow_problem *P;
  double *ws, *row;
  double t_end;                /* for the progress line (<= 0: steps) */
  long steps_end;
  int progress;
  struct timespec start, last;
} run_ctx;
double flow_seconds_since(const struct timespec *a);
void flow_progress(run_ctx *c, double t, long step);
void flow_progress_start(run_ctx *c, hnn_state *S, const char *name);
void flow_progress_end(run_ctx *c);

/* The dual Hopfield method (dualflow.c). */
int dualflow_check_decl(hnn_state *S, sym *flow, const flow_kind *k);
int dualflow_check_run(hnn_state *S, ast *run, sym *flow, const flow_kind *k);
int dualflow_run(hnn_state *S, ast *run, sym *flow, const flow_kind *k);
/* geoflow.c: geodesic(G) paths */
int geoflow_check_run(hnn_state *S, ast *run, sym *flow, const flow_kind *k);
int geoflow_run(hnn_state *S, ast *run, sym *flow, const flow_kind *k);

/* Particle flows (particles.c). */
int particles_check_run(hnn_state *S, ast *run, sym *flow, const flow_kind *k);
int particles_run(hnn_state *S, ast *run, sym *flow, const flow_kind *k);

#endif
