/*
** cgen.h — C source generation from IR.
**
** A cg_unit collects one or more functions and renders one C translation unit
** for jit.c.  Every generated function has the one ABI of hnn callbacks:
**
**     int NAME(const double *in, const double *dir, double *out, double *ws);
**
** `in` holds the inputs (each VAR bound to an offset), `dir` the direction
** inputs of forward-mode functions (may be NULL when none are bound), `out`
** the outputs (each root at an offset, flattened row-major), `ws` a workspace
** of cg_func_workspace() doubles for vector and matrix temporaries.  The
** return value is 0, or nonzero when a numeric inverse failed to bracket.
** Params are referenced through extern symbols (IR_PARAM name) that the JIT
** binds to the owner's storage, so param values can change between calls
** without recompiling.  The unit declares prototypes only for the math
** functions and hnn runtime helpers that jit.c registers.
*/
#ifndef HNN_CGEN_H
#define HNN_CGEN_H

#include "ir.h"

typedef struct cg_unit cg_unit;

typedef enum { CG_IN, CG_DIR } cg_source;

cg_unit *cg_unit_new(void);
void cg_unit_free(cg_unit *);

/* Start a function; bind VARs; add roots; finish. Returns 0 on success. */
int cg_func_begin(cg_unit *, const char *cname);
void cg_func_bind(cg_unit *, ir_node *var, cg_source src, int offset);
void cg_func_output(cg_unit *, ir_node *root, int offset);
int cg_func_end(cg_unit *);            /* emits the function body */
size_t cg_func_workspace(const cg_unit *, const char *cname);

/* A function `cname` that fills out (N x N row-major) by calling the
** already-emitted forward-mode function `jvp_name` (which must bind its
** direction to CG_DIR offset 0, size N) once per unit direction.  Used for
** Hessians (jvp of the gradient) and Jacobians.  ws must hold N doubles more
** than jvp_name's workspace. */
int cg_jacobian_loop(cg_unit *, const char *cname, const char *jvp_name, int n_in, int n_out);

/* The complete translation unit (owned by the unit). */
const char *cg_unit_source(cg_unit *);
/* Every IR_PARAM referenced: name and data pointer, for jit_add_symbol. */
int cg_unit_nparams(const cg_unit *);
void cg_unit_param(const cg_unit *, int k, const char **name, const double **data);

#endif
