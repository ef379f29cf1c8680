/*
** ir.h — typed expression DAG: the common form of every piece of user mathematics.
**
** Lowering (lower.c) builds it from the checked AST; diff.c differentiates it
** (reverse and forward mode, symbolically); cgen.c turns it into C for the JIT.
** Nodes are hash-consed inside one ir_ctx, so structurally equal subexpressions
** are one node (common-subexpression sharing for free), and every constructor
** simplifies locally (constant folding, x+0, x*1, x*0, neg neg, ...).
** Nodes are immutable and live until ir_ctx_free.
*/
#ifndef HNN_IR_H
#define HNN_IR_H

#include <stddef.h>

/* Shapes: a scalar, a vector of length rows (cols == 1), or a rows x cols matrix.
** Matrices are stored row-major everywhere (params, outputs, workspace). */
typedef enum { IR_SCALAR, IR_VECTOR, IR_MATRIX } ir_kind;

typedef struct ir_shape {
  ir_kind kind;
  int rows, cols;            /* scalar: 1,1; vector: n,1; matrix: r,c */
} ir_shape;

typedef enum {
  /* leaves */
  IR_CONST,     /* scalar constant: value */
  IR_VAR,       /* placeholder input: id (unique in ctx), any shape */
  IR_PARAM,     /* runtime-mutable data: data pointer + shape + name; never folded */
  IR_BCAST,     /* a[0] (scalar) repeated to shape (vector or matrix); BCAST(CONST 0) is "zeros" */
  IR_PACK,      /* nargs scalar children -> vector (rows) or matrix (row-major) */
  /* elementwise, any shape; binary ones broadcast a scalar operand */
  IR_NEG, IR_ADD, IR_SUB, IR_MUL, IR_DIV, IR_POW, IR_MIN, IR_MAX,
  IR_FN1,       /* unary math function fn (ir_fn1 below) of a[0], elementwise */
  IR_INVERT,    /* numeric inverse of a strictly increasing scalar function:
                ** body = scalar expression in the scalar VAR bodyvar; applied
                ** elementwise to a[0]. Solved by bracketing + safeguarded Newton. */
  IR_QUAD,      /* integral from a[0] to a[1] of body(v, p) dv, v = bodyvar, p = bodypar
                ** (NULL: no parameter) taken from a[2]; elementwise, all three
                ** of one shape.  Adaptive quadrature at run time (hnn_rt_quad). */
  /* structure */
  IR_INDEX,     /* a[0] vector -> scalar at i; a[0] matrix -> scalar at (i, j); 0-based */
  IR_SUM,       /* sum of all entries -> scalar */
  IR_DOT,       /* vector . vector -> scalar */
  IR_MATVEC,    /* matrix a[0] (r x c) times vector a[1] (c) -> vector (r) */
  IR_MATMUL,    /* matrix x matrix */
  IR_TRANSPOSE, /* matrix -> matrix */
  IR_OUTER,     /* vector u (r), vector v (c) -> r x c matrix u v' */
  IR_DIAG,      /* vector (n) -> diagonal n x n matrix */
  IR_DIAGOF,    /* square matrix -> its diagonal as a vector */
  IR_SPDINV,    /* inverse of a symmetric positive definite matrix (Cholesky at run time) */
  IR_CONCAT,    /* nargs children, each flattened, concatenated -> vector */
  IR_GEODESIC,  /* the geodesic distance between vectors a[0] and a[1] by shooting at
                ** run time (hnn_rt_geodesic); data: the engine's context, name: the
                ** C symbol of its address.  Not differentiable (diff_opaque). */
  IR_NOPS
} ir_op;

typedef enum {
  IR_EXP, IR_LOG, IR_LOG1P, IR_EXPM1, IR_SQRT,
  IR_SIN, IR_COS, IR_TAN, IR_ASIN, IR_ACOS, IR_ATAN,
  IR_SINH, IR_COSH, IR_TANH, IR_ASINH, IR_ACOSH, IR_ATANH,
  IR_SECH, IR_ABS, IR_SIGN, IR_STEP, /* STEP(u) = u > 0 ? 1 : 0 */
  IR_ERF,
  IR_NFN1
} ir_fn1;

typedef struct ir_node ir_node;
struct ir_node {
  ir_op op;
  ir_shape shape;
  int nargs;
  ir_node **a;          /* children */
  double value;         /* IR_CONST */
  int id;               /* IR_VAR: id; every node: unique serial in its ctx (creation order) */
  int i, j;             /* IR_INDEX */
  ir_fn1 fn;            /* IR_FN1 */
  const double *data;   /* IR_PARAM: points at the owner's storage (row-major) */
  const char *name;     /* IR_PARAM: C-safe symbol name (interned in ctx); IR_VAR: debug name */
  ir_node *body;        /* IR_INVERT: scalar body in bodyvar */
  ir_node *bodyvar;     /* IR_INVERT: the scalar VAR of the body */
  ir_node *bodypar;     /* IR_QUAD: the scalar VAR of the body's parameter, or NULL */
  unsigned hash;
  ir_node *next_in_bucket;
};

typedef struct ir_ctx ir_ctx;

ir_ctx *ir_ctx_new(void);
void ir_ctx_free(ir_ctx *ctx);                /* frees every node; NULL ok */

/* Shapes */
ir_shape ir_scalar_shape(void);
ir_shape ir_vector_shape(int n);
ir_shape ir_matrix_shape(int r, int c);
int ir_shape_eq(ir_shape a, ir_shape b);
int ir_shape_size(ir_shape s);                /* number of doubles */

/* Leaves.  Constructors never fail for well-shaped input; shape misuse is a
** programming error caught by assert (the checker guarantees shapes). */
ir_node *ir_const(ir_ctx *, double v);
ir_node *ir_var(ir_ctx *, ir_shape s, const char *debug_name);   /* a fresh id each call */
ir_node *ir_param(ir_ctx *, const char *name, const double *data, ir_shape s);
ir_node *ir_bcast(ir_ctx *, ir_node *scalar, ir_shape s);
ir_node *ir_zeros(ir_ctx *, ir_shape s);     /* CONST 0 for scalars, BCAST(0) otherwise */
ir_node *ir_pack(ir_ctx *, ir_shape s, ir_node **scalars);      /* ir_shape_size(s) children */

/* Elementwise (binary: same shape, or one side scalar) */
ir_node *ir_neg(ir_ctx *, ir_node *a);
ir_node *ir_add(ir_ctx *, ir_node *a, ir_node *b);
ir_node *ir_sub(ir_ctx *, ir_node *a, ir_node *b);
ir_node *ir_mul(ir_ctx *, ir_node *a, ir_node *b);   /* elementwise product */
ir_node *ir_div(ir_ctx *, ir_node *a, ir_node *b);
ir_node *ir_pow(ir_ctx *, ir_node *a, ir_node *b);
ir_node *ir_min(ir_ctx *, ir_node *a, ir_node *b);
ir_node *ir_max(ir_ctx *, ir_node *a, ir_node *b);
ir_node *ir_fn(ir_ctx *, ir_fn1 f, ir_node *a);
ir_node *ir_invert(ir_ctx *, ir_node *body, ir_node *bodyvar, ir_node *y);
/* integral_lo^hi body(v, p) dv elementwise (lo, hi, par of one shape; par
** ignored, may be NULL, when p is NULL) */
ir_node *ir_quad(ir_ctx *, ir_node *body, ir_node *v, ir_node *p, ir_node *lo, ir_node *hi, ir_node *par);
/* d(x, y) of a metric by the run-time shooting engine whose context is ctx
** (it must outlive every function compiled from the node); name: a C symbol */
ir_node *ir_geodesic(ir_ctx *, const char *name, const void *ctx, ir_node *x, ir_node *y);

/* Structure */
ir_node *ir_index(ir_ctx *, ir_node *a, int i, int j);  /* j ignored for vectors */
ir_node *ir_sum(ir_ctx *, ir_node *a);
ir_node *ir_dot(ir_ctx *, ir_node *a, ir_node *b);
ir_node *ir_matvec(ir_ctx *, ir_node *m, ir_node *v);
ir_node *ir_matmul(ir_ctx *, ir_node *a, ir_node *b);
ir_node *ir_transpose(ir_ctx *, ir_node *m);
ir_node *ir_outer(ir_ctx *, ir_node *u, ir_node *v);
ir_node *ir_diag(ir_ctx *, ir_node *v);
ir_node *ir_diagof(ir_ctx *, ir_node *m);
ir_node *ir_spdinv(ir_ctx *, ir_node *m);
ir_node *ir_concat(ir_ctx *, int n, ir_node **parts);

/* Queries */
int ir_is_const(const ir_node *n, double *value);   /* scalar CONST, or BCAST of one */
int ir_is_zero(const ir_node *n);
/* Every value of n when it is constant (CONST, BCAST of one, PACK of them)
** into v (ir_shape_size values): 1, else 0 and v partly written. */
int ir_const_values(const ir_node *n, double *v);
/* Rebuild root with every occurrence of from[k] replaced by to[k] (same shapes),
** simplifying on the way. */
ir_node *ir_subst(ir_ctx *, ir_node *root, int n, ir_node **from, ir_node **to);
/* Does root depend on var? */
int ir_depends(const ir_node *root, const ir_node *var);
/* Is root elementwise in var (vector var): output i depends only on var[i]? */
int ir_elementwise_in(const ir_node *root, const ir_node *var);
/* Count distinct nodes reachable from roots (for tests of sharing). */
size_t ir_count(int nroots, ir_node **roots);
/* Human-readable one-line rendering (tests, --dump-ir); caller frees. */
char *ir_to_string(const ir_node *n);

/* Additions for diff.c and cgen.c. */
/* The ctx that owns n (nodes live in ctx-tagged aligned chunks). */
ir_ctx *ir_ctx_of(const ir_node *n);
/* Every node reachable from the roots (not descending into IR_INVERT bodies),
** sorted by serial, i.e. children before parents; *count gets the length;
** caller frees the array.  Iterative: safe for arbitrarily deep DAGs. */
ir_node **ir_topo(int nroots, ir_node *const *roots, size_t *count);
/* n's operation applied to new children k (n->nargs of them), simplified. */
ir_node *ir_rebuild(ir_ctx *, const ir_node *n, ir_node **k);
/* "exp", "log", ... */
const char *ir_fn1_name(ir_fn1 f);

#endif
