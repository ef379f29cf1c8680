/*
** neuron_unit.c — is a neuron a unit cs c s(<w, z> + b) [+ es e] with s a
** known activation?  Then the mean-field engine runs its fused kernels
** (runtime/meanfield.c) instead of calling the compiled neuron per pair.
**
** The test is structural, on the neuron's lowered IR (calls, activations
** and functions are inlined there).  The body must be a sum of at most two
** terms, each a product of factors:
**   - the unit term: one s(u), at most one parameter entry c, and scales;
**   - an optional additive term: one parameter entry e and scales;
** with s(u) = max(u, 0) (either order) or tanh(u), u = lin [+ b] (either
** order), lin = w * z or z * w (scalar z) or dot(w, z), dot(z, w).  c, b, e
** are parameter entries (a scalar parameter or xi[i]); w is an entry
** (scalar z) or a whole vector parameter of z's size; a scale is any
** expression of numbers and params only (evaluated here: params do not
** change during a run).  When the unit term's remaining factor is some
** other function of one pre-activation u alone, g(u) (a softplus, a
** user's activation), the unit is MF_CUSTOM and g and g' are compiled as
** one scalar callback t -> [g(t), g'(t)].  Anything else is no unit and
** goes through the general path, so a match computes the same function as
** the neuron.
*/
#include "neuron_unit.h"

#include <math.h>
#include <stdlib.h>

#include "diff.h"
#include "lower.h"

typedef struct unit_ctx {
  int nparams, nv;
  ir_node **vars;
  int *offset;          /* of each parameter formal in xi */
  ir_node *z;
  ir_ctx *ir;
  ir_node *t, *g;       /* MF_CUSTOM: the activation g(t) */
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

/* f = g(u) for the largest pre-activation u in f and a g of u alone:
** 1 (u's offsets into m, g into c->g), else 0. */
static int custom(unit_ctx *c, ir_node *f, mf_unit *m) {
  size_t cnt = 0;
  ir_node **nodes = ir_topo(1, &f, &cnt);
  int found = 0;
  for (size_t k = cnt; k-- > 0 && !found;) {   /* parents first: the largest u */
    int w, b;
    if (nodes[k]->shape.kind != IR_SCALAR || !preactivation(c, nodes[k], &w, &b)) continue;
    ir_node *t = ir_var(c->ir, ir_scalar_shape(), "t"), *from = nodes[k];
    ir_node *g = ir_subst(c->ir, f, 1, &from, &t);
    int free_of_vars = 1;
    for (int v = 0; v < c->nv; v++) free_of_vars &= !ir_depends(g, c->vars[v]);
    if (free_of_vars && ir_depends(g, t) && !diff_opaque(g, 1, &t)) {
      c->t = t, c->g = g;
      m->act = MF_CUSTOM, m->w = w, m->b = b;
      found = 1;
    }
  }
  free(nodes);
  return found;
}

/* The value of a scalar expression of numbers and params, or NAN. */
static double scale_value(const ir_node *n) {
  if (n->shape.kind != IR_SCALAR) return NAN;
  switch (n->op) {
  case IR_CONST: return n->value;
  case IR_PARAM: return n->data[0];
  case IR_NEG: return -scale_value(n->a[0]);
  case IR_ADD: return scale_value(n->a[0]) + scale_value(n->a[1]);
  case IR_SUB: return scale_value(n->a[0]) - scale_value(n->a[1]);
  case IR_MUL: return scale_value(n->a[0]) * scale_value(n->a[1]);
  case IR_DIV: return scale_value(n->a[0]) / scale_value(n->a[1]);
  case IR_POW: return pow(scale_value(n->a[0]), scale_value(n->a[1]));
  case IR_FN1:
    if (n->fn == IR_SQRT) return sqrt(scale_value(n->a[0]));
    if (n->fn == IR_EXP) return exp(scale_value(n->a[0]));
    if (n->fn == IR_LOG) return log(scale_value(n->a[0]));
    return NAN;
  default: return NAN;
  }
}

/* The factors of a product (MUL trees flattened), at most `cap`. */
static int factors(const ir_node *n, const ir_node **f, int k, int cap) {
  if (n->op == IR_MUL && n->shape.kind == IR_SCALAR) {
    k = factors(n->a[0], f, k, cap);
    return k < 0 ? k : factors(n->a[1], f, k, cap);
  }
  if (k >= cap) return -1;
  f[k] = n;
  return k + 1;
}

/* One term: 1 = the unit term (act, c, cs into m), 2 = the additive term
** (e, es), 0 = neither. */
static int term(unit_ctx *u, const ir_node *n, mf_unit *m) {
  const ir_node *f[16];
  int nf = factors(n, f, 0, 16), nact = 0, nent = 0, ent = -1;
  double scale = 1;
  mf_unit t = *m;
  for (int i = 0; i < nf; i++) {
    int e;
    double v;
    if ((e = entry(u, f[i])) >= 0) ent = e, nent++;
    else if (activation(u, f[i], &t)) nact++;
    else if (isfinite(v = scale_value(f[i]))) scale *= v;
    else if (u->ir && !u->g && custom(u, (ir_node *)f[i], &t)) nact++;
    else return 0;
  }
  if (nf < 1 || nact > 1 || nent > 1) return 0;
  if (nact == 1) {
    t.c = ent;
    t.cs = scale;
    *m = t;
    return 1;
  }
  if (nent != 1) return 0;
  m->e = ent;
  m->es = scale;
  return 2;
}

int neuron_unit(hnn_state *S, sym *neuron, mf_unit *out, flow_fn *act2) {
  mf_unit none = { MF_GENERIC, -1, -1, -1, -1, 1, 0 };
  *out = none;
  ir_ctx *ir = ir_ctx_new();
  ir_node **vars = NULL, *body = NULL;
  int nv = 0, found = 0;
  if (lower_callable(S, ir, neuron, 0, &vars, &nv, &body) == 0 && body->shape.kind == IR_SCALAR) {
    unit_ctx u = { neuron->decl->nparams, nv, vars, NULL, vars[nv - 1], act2 ? ir : NULL, NULL, NULL };
    u.offset = calloc((size_t)u.nparams + 1, sizeof *u.offset);
    for (int q = 1; q < u.nparams; q++) u.offset[q] = u.offset[q - 1] + ir_shape_size(vars[q - 1]->shape);
    mf_unit m = none;
    if (body->op == IR_ADD) {
      int a = term(&u, body->a[0], &m), b = a ? term(&u, body->a[1], &m) : 0;
      found = (a == 1 && b == 2) || (a == 2 && b == 1);
    } else {
      found = term(&u, body, &m) == 1;
    }
    if (found && m.act == MF_CUSTOM) {   /* t -> [g(t), g'(t)], compiled with the run's batch */
      ir_node *outs[2] = { u.g, NULL };
      diff_grad(ir, u.g, 1, &u.t, &outs[1]);
      hnn_fn *f = state_compile(S, ir, 1, &u.t, 0, NULL, 2, outs, 0);
      if (f) {
        state_fn_later(S, f, &act2->fn);
        act2->nwork = f->nwork;
      } else {
        found = 0;
      }
    }
    if (found) *out = m;
    free(u.offset);
  }
  free(vars);
  ir_ctx_free(ir);
  return found;
}
