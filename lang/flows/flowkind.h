/*
** flowkind.h — what a flow kind provides, and the helpers the kinds share.
**
** A flow kind (`gradient`, `diffusion`, `augmented_lagrangian`, ...) is one
** `flow_kind` value, defined in its own file kind_*.c and listed once in
** the table of flows.c, as GSL's step types are values with their own
** entry points.  Shared code never asks which kind it holds: it calls the
** entry points.  A run statement goes through them in order:
**
**   check_run   when the unit is checked, before anything of it runs;
**   prepare     evaluate the options and the start, fill J->plan with the
**               rows, bytes and memory the run will take (flows.c refuses
**               a run over the output limit or the free disk or memory);
**   compile     compile the callbacks the engine needs (one JIT module:
**               pointers are filled when the stage ends, so keep them in
**               place, as state_fn_later does);
**   run         open the outputs, run the engine, close the outputs;
**   release     free what prepare and compile kept (always called).
*/
#ifndef HNN_FLOWKIND_H
#define HNN_FLOWKIND_H

#include <time.h>

#include "callbacks.h"
#include "flow.h"
#include "ode.h"
#include "runout.h"
#include "state.h"

/* What a positional argument of a flow declaration must be. */
typedef enum { R_OBJECTIVE, R_ACTIVATION, R_METRIC, R_MIRROR, R_CONSTRAINTS, R_ENERGY } role;

/* The size of a run, known before it starts. */
typedef struct flow_plan {
  double rows;                 /* rows written, over all of the run's files */
  double values;               /* numbers per row (the widest file), t and step included */
  double memory;               /* bytes the engine allocates (0: small) */
} flow_plan;

typedef struct flow_kind flow_kind;

/* One run statement on its way through the entry points. */
typedef struct flow_job {
  hnn_state *S;
  ast *run;
  sym *flow;
  const flow_kind *kind;
  flow_plan plan;
  void *priv;                  /* the kind's prepared run */
} flow_job;

struct flow_kind {
  const char *name;
  const char *usage;
  int nroles;
  role roles[3];
  const char *keywords[6];     /* allowed keyword arguments (NULL-terminated); the first is required */
  const char *const *options;  /* the options its runs accept */
  const char *siblings[2];     /* files written beside `-> "PATH"`: PATH minus .csv, plus these */
  int variant;                 /* handed to the engine (ode_flow_kind, md_kind, ...) */
  /* NULL: flow_check_roles (the roles and keywords above) */
  int (*check_decl)(hnn_state *S, sym *flow, const flow_kind *k);
  int (*check_run)(hnn_state *S, ast *run, sym *flow, const flow_kind *k);
  int (*prepare)(flow_job *J);
  int (*compile)(flow_job *J);
  int (*run)(flow_job *J);
  void (*release)(flow_job *J);
};

/* The kinds (kind_*.c). */
extern const flow_kind flow_kind_gradient, flow_kind_hopfield, flow_kind_natural_gradient;
extern const flow_kind flow_kind_gradient_descent, flow_kind_natural_gradient_descent, flow_kind_mirror_descent;
extern const flow_kind flow_kind_diffusion, flow_kind_wasserstein;
extern const flow_kind flow_kind_augmented_lagrangian;
extern const flow_kind flow_kind_geodesic;
extern const flow_kind flow_kind_rho_h, flow_kind_frank_wolfe;
extern const flow_kind flow_kind_particles, flow_kind_langevin;   /* kind_wparticles.c */
extern const flow_kind flow_kind_mobility;
extern const flow_kind flow_kind_adam, flow_kind_adam_descent;
extern const flow_kind flow_kind_meanfield;
extern const flow_kind flow_kind_fokker_planck, flow_kind_jko, flow_kind_entropic_jko;   /* kind_grid.c */
extern const flow_kind flow_kind_hidden_hopfield;

/* --------------------------------------------------- declarations (flows.c) */

/* The generic declaration check: positional arguments in the kind's roles,
** keyword arguments from its list, the first keyword required. */
int flow_check_roles(hnn_state *S, sym *flow, const flow_kind *k);
/* A run statement's option value, a flow's keyword argument, the symbol in
** a role of the flow, the kind of a flow symbol. */
ast *flow_option(ast *run, const char *name);
ast *flow_keyword(sym *flow, const char *name);
sym *flow_role_sym(hnn_state *S, sym *flow, role r);
const flow_kind *flow_kind_of(sym *flow);
/* The i-th kind of the table, NULL past its end. */
const flow_kind *flows_kind_at(size_t i);

/* --------------------------------------------------- options (flowopts.c) */

/* The objective's size variable for a point of `total` values (-1: sizes
** fixed; 0: no fit, reported at `at`). */
int flow_objective_size(hnn_state *S, sym *obj, int total, ast *at);
int flow_check_number(hnn_state *S, ast *e, const char *what);
/* 1 and a message when run->kids[i] repeats an earlier option or is not
** among the kind's options (listing them). */
int flow_bad_option(hnn_state *S, ast *run, int i, const char *const *opts, const char *kind);
/* Check every option of a run against the kind's list; options that take
** a number are checked as numbers, except those in `special` (checked by
** the caller).  Returns the number of errors. */
int flow_check_options(hnn_state *S, ast *run, const flow_kind *k, const char *const *special);
/* Numbers every engine reads alike.  Absent, *v keeps its default; present,
** it is evaluated and must be positive and finite (flow_opt_positive), a
** whole number from lo to hi (flow_opt_count; hi FLOW_COUNT_MAX for no
** limit), or a flow keyword argument above lo, or at least lo when
** inclusive (flow_kw_number).  0, or 1 after an error at the value. */
#define FLOW_COUNT_MAX 999999999999999L
int flow_opt_positive(hnn_state *S, ast *run, const char *name, double *v);
int flow_opt_count(hnn_state *S, ast *run, const char *name, long lo, long hi, long *v);
int flow_kw_number(hnn_state *S, sym *flow, const char *name, double lo, int inclusive, double *v);

/* Compile the callbacks the roles of flow need at n values per point into
** P (nsize: the objective's size variable or -1): objective, gradient,
** the Hessian when `hessian`, the activation (or the mirror map's) with its
** derivative and inverse, the metric.  1 when one does not compile. */
int flow_compile_roles(hnn_state *S, sym *flow, const flow_kind *k, int nsize, int n, int hessian, flow_problem *P);

/* ---------------------------------------------- progress line (flowopts.c) */

/* "hnn: run NAME  t = ...  42%" on a terminal (t NaN: "hnn: run NAME  42
** of 100 runs", step counting finished runs). */
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
void flow_progress_tick(void *ctx, double t, long step);   /* a flow_tick */

/* ------------------------------------------------ point flows (point.c) */

/* The ODE and descent kinds move one point x: they share the start, the
** output (t, step, x1..xn, f) and the run around the engine. */
typedef struct point_run {
  double *x0;
  int n, nsize;
  ode_options o;               /* ODE: all; descent: steps, every, tol */
  double step;                 /* descent: the step size */
  long nsteps;
  flow_problem P;
  char **names;                /* n column names (NULL: x1..xn), freed by point_release */
} point_run;
typedef int (*point_engine)(flow_job *J, point_run *pr, ode_emit emit, run_ctx *c, ode_result *res);
/* check_run's part about the start: a vector that fits the objective. */
int point_check_start(hnn_state *S, ast *run, sym *flow, const flow_kind *k);
/* prepare's part: evaluate the start into a new point_run (J->priv). */
int point_prepare(flow_job *J);
/* compile's part: the callbacks of the roles (with the Hessian if asked). */
int point_compile(flow_job *J, int hessian);
/* run: open the output, run the engine, close the output. */
int point_run_engine(flow_job *J, point_engine engine);
void point_release(flow_job *J);

/* ------------------------------------- particle runs (kind_particles.c) */

/* The stages of a particle run, for kinds that run on the particle engine
** with callbacks of their own (kind_mobility.c), and what their compile
** stage needs: the problem to fill, the dimension, the objective's size
** variable, the temperature and the divergence switch of the flow. */
int particles_check_run(hnn_state *S, ast *run, sym *flow, const flow_kind *k);
int particles_prepare(flow_job *J);
int particles_run(flow_job *J);
void particles_release(flow_job *J);
flow_problem *particles_problem(flow_job *J, int *n, int *nsize, double *T, int *divergence);

/* The stages of the ODE kinds that the other kinds on the ODE engine share
** (kind_adam.c): the check of a run's options and start, the prepared
** point_run with its ode_options, the engine call. */
int ode_kind_check_run(hnn_state *S, ast *run, sym *flow, const flow_kind *k);
int ode_kind_prepare(flow_job *J);
int ode_kind_engine(flow_job *J, point_run *pr, ode_emit emit, run_ctx *c, ode_result *res);

/* The callbacks of an ODE flow (flow of kind gradient, hopfield or
** natural_gradient) at n values per point, the one-piece field included,
** compiled as one module (kind_ode.c; the unit tests compare the field with
** the engine's composition). */
int ode_kind_problem(hnn_state *S, sym *flow, int nsize, int n, int hessian, flow_problem *P);

#endif
