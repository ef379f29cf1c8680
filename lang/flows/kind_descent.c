/*
** kind_descent.c — the discrete flows of one point (runtime/discrete.c):
** gradient_descent x+ = x - h grad f(x), natural_gradient_descent
** x+ = x - h G(x)^-1 grad f(x) (000 eq. 5), mirror_descent
** x+ = s(s^-1(x) - h grad f(x)) (000 eq. 15).
*/
#include "discrete.h"
#include "flowkind.h"

static const char *const descent_run_options[] = { "steps", "every", "tol", NULL };

static int descent_check_run(hnn_state *S, ast *run, sym *flow, const flow_kind *k) {
  return flow_check_options(S, run, k, NULL) + point_check_start(S, run, flow, k);
}

static int descent_prepare(flow_job *J) {
  int status = point_prepare(J);
  if (status != HNN_OK) return status;
  point_run *pr = J->priv;
  ode_options_default(&pr->o);
  if (flow_opt_positive(J->S, J->run, "tol", &pr->o.grad_tol) ||
      flow_opt_count(J->S, J->run, "every", 1, FLOW_COUNT_MAX, &pr->o.out_every) ||
      flow_opt_count(J->S, J->run, "steps", 1, FLOW_COUNT_MAX, &pr->o.max_steps) ||
      flow_kw_number(J->S, J->flow, "step", 0, 0, &pr->step))
    return HNN_ERR_SCRIPT;
  pr->nsteps = pr->o.max_steps > 0 ? pr->o.max_steps : 1000;
  /* the start, every `every` steps, the last */
  J->plan.rows = pr->o.out_every > 0 ? (double)(pr->nsteps / pr->o.out_every) + 2 : 2;
  J->plan.values = pr->n + 3;
  return HNN_OK;
}

static int descent_compile(flow_job *J) { return point_compile(J, 0); }

static int descent_engine(flow_job *J, point_run *pr, ode_emit emit, run_ctx *c, ode_result *res) {
  c->steps_end = pr->nsteps;
  return md_run(&pr->P, (md_kind)J->kind->variant, J->flow->name, pr->step, pr->nsteps, pr->x0, pr->o.grad_tol,
                pr->o.out_every, emit, flow_progress_tick, c, res);
}

static int descent_run(flow_job *J) { return point_run_engine(J, descent_engine); }

#define DESCENT_KIND(id, use_, nroles_, r2, variant_) \
  const flow_kind flow_kind_##id = { .name = #id, .usage = use_, .nroles = nroles_, .roles = { R_OBJECTIVE, r2 }, \
                                     .keywords = { "step", NULL }, .options = descent_run_options, .variant = variant_, \
                                     .check_run = descent_check_run, .prepare = descent_prepare, \
                                     .compile = descent_compile, .run = descent_run, .release = point_release }

DESCENT_KIND(gradient_descent, "gradient_descent(f, step = h)", 1, R_OBJECTIVE, MD_GRADIENT);
DESCENT_KIND(natural_gradient_descent, "natural_gradient_descent(f, G, step = h)", 2, R_METRIC, MD_NATURAL);
DESCENT_KIND(mirror_descent, "mirror_descent(f, psi, step = h)", 2, R_MIRROR, MD_MIRROR);
