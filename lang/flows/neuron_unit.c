/*
** neuron_unit.c — is a neuron a unit c * s(<w, z> + b) with s a known
** activation?  Then the mean-field engine runs its fused kernels
** (runtime/meanfield.c) instead of calling the compiled neuron per pair.
**
** The test is structural, on the neuron's lowered IR (calls, activations
** and functions are inlined there): the body must be exactly
**     [c *] s(u)  or  s(u) [* c],     s = max(., 0) (either order) or tanh,
**     u = lin [+ b] (either order),   lin = w * z, z * w (scalar z) or dot(w, z), dot(z, w),
** where c and b are parameter entries (a scalar parameter or xi[i]) and w
** is a parameter entry (scalar z) or a whole vector parameter of z's size.
** Anything else is no unit and goes through the general path, so a match
** computes the same function as the neuron, only faster.
*/
#include "neuron_unit.h"

#include <stdlib.h>

#include "lower.h"

typedef struct unit_ctx {
  int nparams;
  ir_node **vars;
  int *offset;          /* of each parameter formal in xi */
  ir_node *z;
} unit_ctx;

static int param_var(const unit_ctx *u, const ir_node *n) {
  for (int q = 0; q < u->nparams; q++)
    if (u->vars[q] == n) return q;
  return -1;
}

/* The offset in xi of a scalar parameter entry, or -1. */
static int entry(const unit_ctx *u, const ir_node *n) {
  if (n->op == IR_VAR && n->shape.kind == IR_SCALAR) {
    int q = param_var(u, n);
    return q < 0 ? -1 : u->offset[q];
  }
  if (n->op == IR_INDEX && n->a[0]->op == IR_VAR && n->a[0]->shape.kind == IR_VECTOR) {
    int q = param_var(u, n->a[0]);
    return q < 0 ? -1 : u->offset[q] + n->i;
  }
  return -1;
}

/* lin = <w, z>: the offset of w, or -1. */
static int linear(const unit_ctx *u, const ir_node *n) {
  if (u->z->shape.kind == IR_SCALAR && n->op == IR_MUL) {
    if (n->a[1] == u->z) return entry(u, n->a[0]);
    if (n->a[0] == u->z) return entry(u, n->a[1]);
    return -1;
  }
  if (u->z->shape.kind == IR_VECTOR && n->op == IR_DOT) {
    const ir_node *w = n->a[0] == u->z ? n->a[1] : n->a[1] == u->z ? n->a[0] : NULL;
    int q = w && w->op == IR_VAR ? param_var(u, w) : -1;
    return q >= 0 && w->shape.rows == u->z->shape.rows ? u->offset[q] : -1;
  }
  return -1;
}

/* u = lin [+ b]: 1 and the offsets, or 0. */
static int preactivation(const unit_ctx *u, const ir_node *n, int *w, int *b) {
  *b = -1;
  if ((*w = linear(u, n)) >= 0) return 1;
  if (n->op != IR_ADD) return 0;
  for (int s = 0; s < 2; s++)
    if ((*w = linear(u, n->a[s])) >= 0 && (*b = entry(u, n->a[1 - s])) >= 0) return 1;
  return 0;
}

static int activation(const unit_ctx *u, const ir_node *n, mf_unit *out) {
  double zero;
  if (n->op == IR_FN1 && n->fn == IR_TANH) {
    out->act = MF_TANH;
    return preactivation(u, n->a[0], &out->w, &out->b);
  }
  if (n->op == IR_MAX)
    for (int s = 0; s < 2; s++)
      if (ir_is_const(n->a[1 - s], &zero) && zero == 0) {
        out->act = MF_RELU;
        return preactivation(u, n->a[s], &out->w, &out->b);
      }
  return 0;
}

int neuron_unit(hnn_state *S, sym *neuron, mf_unit *out) {
  out->act = MF_GENERIC;
  out->c = out->w = out->b = -1;
  ir_ctx *ir = ir_ctx_new();
  ir_node **vars = NULL, *body = NULL;
  int nv = 0, found = 0;
  if (lower_callable(S, ir, neuron, 0, &vars, &nv, &body) == 0 && body->shape.kind == IR_SCALAR) {
    unit_ctx u = { neuron->decl->nparams, vars, NULL, vars[nv - 1] };
    u.offset = calloc((size_t)u.nparams + 1, sizeof *u.offset);
    for (int q = 1; q < u.nparams; q++) u.offset[q] = u.offset[q - 1] + ir_shape_size(vars[q - 1]->shape);
    mf_unit m = *out;
    if (activation(&u, body, &m)) {
      found = 1;
    } else if (body->op == IR_MUL) {
      for (int s = 0; s < 2 && !found; s++) {
        m.c = entry(&u, body->a[s]);
        found = m.c >= 0 && activation(&u, body->a[1 - s], &m);
      }
    }
    if (found) *out = m;
    else out->act = MF_GENERIC;
    free(u.offset);
  }
  free(vars);
  ir_ctx_free(ir);
  return found;
}
