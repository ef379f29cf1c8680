/*
** fisher.c — fisher(lp, theta, data...): the empirical Fisher information
**
**   F(theta) = (1/N) sum_i s_i s_i',  s_i = grad_theta lp(theta, data...)_i,
**
** of a function lp giving the log-likelihood of each of N samples (a vector,
** written elementwise over the data, so the samples become one loop), or of
** one sample (a scalar, N = 1).  The scores are p forward sweeps of lp along
** the unit vectors of theta, each a vector over the samples; F is their
** p(p+1)/2 dot products, so the code does not grow with N.  For data drawn
** from the model at theta, F tends to the Fisher information
** E[s s'] = -E[hessian lp] (docs/geometry.md).
*/
#include "fisher.h"

#include <stdlib.h>

#include "diff.h"
#include "lower.h"
#include "strbuf.h"

ir_node *fisher_lower(hnn_state *S, ir_ctx *ir, ast *e, int nargs, ir_node **args) {
  sym *f = state_lookup(S, e->kids[0]->name);
  ir_node *th = args[0];
  int p = th->shape.rows;
  ir_node **call = hnn_xmalloc((size_t)nargs * sizeof *call);
  call[0] = ir_var(ir, th->shape, "theta");
  for (int i = 1; i < nargs; i++) call[i] = args[i];
  ir_node *lp = lower_inline(S, ir, f, nargs, call), *r = NULL;
  if (lp && diff_opaque(lp, 1, call)) {
    diag_error(&S->diags, e->src, e->loc, "fisher: '%s' cannot be differentiated in theta: %s", f->name,
               DIFF_OPAQUE_WHY);
    lp = NULL;
  }
  if (lp) {
    int N = lp->shape.kind == IR_VECTOR ? lp->shape.rows : 1;
    ir_node **score = hnn_xmalloc((size_t)p * sizeof *score), **el = hnn_xmalloc((size_t)p * p * sizeof *el);
    for (int k = 0; k < p; k++) {
      for (int j = 0; j < p; j++) el[j] = ir_const(ir, j == k ? 1.0 : 0.0);
      ir_node *dir = ir_pack(ir, th->shape, el);
      score[k] = diff_jvp(ir, lp, 1, call, &dir);
    }
    ir_node *invN = ir_const(ir, 1.0 / N);
    for (int k = 0; k < p; k++)
      for (int j = k; j < p; j++) {
        ir_node *s = lp->shape.kind == IR_VECTOR ? ir_dot(ir, score[k], score[j]) : ir_mul(ir, score[k], score[j]);
        el[k * p + j] = el[j * p + k] = ir_mul(ir, s, invN);
      }
    r = ir_subst(ir, ir_pack(ir, ir_matrix_shape(p, p), el), 1, call, &th);
    free(score);
    free(el);
  }
  free(call);
  return r;
}
