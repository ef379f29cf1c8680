/*
** cgen_impl.h — what cgen.c and cgen_invert.c share: the unit being
** generated and the body generator.  Internal to lang/cgen*.c.
*/
#ifndef HNN_CGEN_IMPL_H
#define HNN_CGEN_IMPL_H

#include "cgen.h"
#include "strbuf.h"

typedef struct { ir_node *var; cg_source src; int off; } binding;
typedef struct { ir_node *root; int off; } output;
typedef struct { char *name; size_t ws; } fninfo;

struct cg_unit {
  strbuf helpers, funcs;
  char *source;
  fninfo *fns;
  int nfns;
  char **pnames;
  const double **pdata;
  int nparams;
  char **inv_keys;       /* emitted text of each invert helper's body, for sharing */
  int ninv;
  char **quad_keys;      /* the same for the integrands of IR_QUAD nodes */
  int nquad;
  /* the function being built */
  char *cur;
  binding *binds;
  int nbinds;
  output *outs;
  int nouts;
};

/* Statements computing the outputs of one function from its bindings into
** code; *ws gets the workspace it needs.  0, or -1 when the IR cannot be
** generated. */
int cg_gen_body(cg_unit *u, const binding *binds, int nbinds, const output *outs, int nouts, strbuf *code,
                size_t *ws);

/* Index N of the unit's helper hnn_inv<N>(y, &st) solving s(u) = y for the
** body of an IR_INVERT node (shared by every function of the unit), or -1. */
int cg_invert_helper(cg_unit *u, ir_node *x);

/* Index N of the unit's helper hnn_qf<N>(v, p), the integrand of an IR_QUAD
** node, or -1. */
int cg_quad_helper(cg_unit *u, ir_node *x);

#endif
