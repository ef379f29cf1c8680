/*
** cgen_invert.c — the numeric inverse of an activation in generated C.
**
** An IR_INVERT node (s^-1 of an activation with no closed-form inverse)
** becomes three static helpers of the unit: s, s' and hnn_inv<N>, which
** brackets the root by doubling outwards and then runs a safeguarded
** Newton iteration.  Identical bodies share one helper.  The integrand of
** an IR_QUAD node (geodesic coordinates, Bregman divergences) is a helper
** too, hnn_qf<N>(v, p), which the run-time quadrature hnn_rt_quad calls.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cgen_impl.h"
#include "diff.h"

/* Statements computing `root` of the scalar u into out[0]. */
static int scalar_fn_text(cg_unit *u, ir_node *root, ir_node *bodyvar, strbuf *code, size_t *ws) {
  binding b = {bodyvar, CG_IN, 0};
  output o = {root, 0};
  return cg_gen_body(u, &b, 1, &o, 1, code, ws);
}

static void helper_fn(strbuf *h, const char *name, const char *body, size_t ws) {
  sb_printf(h,
            "static double %s(double u) {\n"
            "double in[1], out[1], ws[%zu];\nconst double *dir = 0;\nint st = 0;\n"
            "(void)dir; (void)ws; (void)st;\nin[0] = u;\n%s"
            "return out[0];\n}\n",
            name, ws ? ws : 1, body ? body : "");
}

/* Index of the helper hnn_inv<N>(y, &st) solving s(u) = y for the body of x. */
int cg_invert_helper(cg_unit *u, ir_node *x) {
  strbuf sv = STRBUF_INIT, dv = STRBUF_INIT;
  size_t wsv = 0, wsd = 0;
  ir_node *ds = diff_scalar(ir_ctx_of(x->body), x->body, x->bodyvar);
  if (scalar_fn_text(u, x->body, x->bodyvar, &sv, &wsv) || scalar_fn_text(u, ds, x->bodyvar, &dv, &wsd)) {
    sb_free(&sv);
    sb_free(&dv);
    return -1;
  }
  strbuf kb = STRBUF_INIT;
  sb_printf(&kb, "%s@%s", sv.s ? sv.s : "", dv.s ? dv.s : "");
  char *key = sb_take(&kb);
  for (int k = 0; k < u->ninv; k++)
    if (!strcmp(u->inv_keys[k], key)) {
      free(key), sb_free(&sv), sb_free(&dv);
      return k;
    }
  int N = u->ninv++;
  u->inv_keys = hnn_xrealloc(u->inv_keys, (size_t)u->ninv * sizeof *u->inv_keys);
  u->inv_keys[N] = key;
  char sn[32], dn[32];
  snprintf(sn, sizeof sn, "hnn_s%d", N);
  snprintf(dn, sizeof dn, "hnn_ds%d", N);
  helper_fn(&u->helpers, sn, sv.s, wsv);
  helper_fn(&u->helpers, dn, dv.s, wsd);
  /* Bracket by doubling outwards from [-1, 1] (at most ~1000 steps reach
  ** 1e300), then safeguarded Newton: a step leaving the bracket bisects. */
  sb_printf(&u->helpers,
            "static double hnn_inv%d(double y, int *st) {\n"
            "double lo = -1, hi = 1, slo = %s(lo), shi = %s(hi), x, fx, d, xn;\n"
            "int it;\n"
            "if (y != y) { *st = 1; return y; }\n"
            "for (it = 0; !(slo <= y) && it < 2000; it++) {\n"
            "  if (slo == slo) { hi = lo; shi = slo; }\n"
            "  if (!(lo > -1e300)) break;\n"
            "  lo *= 2; slo = %s(lo);\n}\n"
            "for (it = 0; !(shi >= y) && it < 2000; it++) {\n"
            "  if (shi == shi && shi <= y) { lo = hi; slo = shi; }\n"
            "  if (!(hi < 1e300)) break;\n"
            "  hi *= 2; shi = %s(hi);\n}\n"
            "if (!(slo <= y && y <= shi)) { *st = 1; return 0.0/0.0; }\n"
            "if (slo == y) return lo;\n"
            "if (shi == y) return hi;\n"
            "x = 0.5 * (lo + hi);\n"
            "for (it = 0; it < 100; it++) {\n"
            "  fx = %s(x) - y;\n"
            "  if (fx == 0) return x;\n"
            "  if (fx < 0) lo = x; else hi = x;\n"
            "  d = %s(x);\n"
            "  xn = x - fx / d;\n"
            "  if (!(xn > lo && xn < hi)) xn = 0.5 * (lo + hi);\n"
            "  if (fabs(xn - x) <= 4 * 2.220446049250313e-16 * fabs(xn) || "
            "fabs(hi - lo) <= 4 * 2.220446049250313e-16 * fabs(xn)) return xn;\n"
            "  x = xn;\n}\n"
            "return x;\n}\n",
            N, sn, sn, sn, sn, sn, dn);
  sb_free(&sv);
  sb_free(&dv);
  return N;
}

/* Index N of the helper hnn_qf<N>(v, p) computing the body of the IR_QUAD
** node x, shared by identical bodies. */
int cg_quad_helper(cg_unit *u, ir_node *x) {
  binding b[2] = {{x->bodyvar, CG_IN, 0}, {x->bodypar, CG_IN, 1}};
  output o = {x->body, 0};
  strbuf code = STRBUF_INIT;
  size_t ws = 0;
  if (cg_gen_body(u, b, x->bodypar ? 2 : 1, &o, 1, &code, &ws)) {
    sb_free(&code);
    return -1;
  }
  strbuf kb = STRBUF_INIT;
  sb_printf(&kb, "quad@%s", code.s ? code.s : "");
  char *key = sb_take(&kb);
  for (int k = 0; k < u->nquad; k++)
    if (!strcmp(u->quad_keys[k], key)) {
      free(key), sb_free(&code);
      return k;
    }
  int N = u->nquad++;
  u->quad_keys = hnn_xrealloc(u->quad_keys, (size_t)u->nquad * sizeof *u->quad_keys);
  u->quad_keys[N] = key;
  sb_printf(&u->helpers,
            "static double hnn_qf%d(double v, double p) {\n"
            "double in[2], out[1], ws[%zu];\nconst double *dir = 0;\nint st = 0;\n"
            "(void)dir; (void)ws; (void)st;\nin[0] = v; in[1] = p;\n%s"
            "return st ? 0.0/0.0 : out[0];\n}\n",
            N, ws ? ws : 1, code.s ? code.s : "");
  sb_free(&code);
  return N;
}
