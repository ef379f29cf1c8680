/*
** ast.h — the syntax tree built by parser.y, with source spans.
**
** One node type for expressions, statements and formals keeps the parser's
** %destructor and the walkers simple.  Child lists are arrays.  A source unit
** owns the text and the name every location refers to.
*/
#ifndef HNN_AST_H
#define HNN_AST_H

typedef struct hnn_src {
  char *name;          /* file name or "<string>", "<command line>", "<stdin>:3" */
  char *text;          /* NUL-terminated copy of the whole text */
  int line_offset;     /* added to line numbers in messages (REPL inputs) */
  int refs;
} hnn_src;

typedef struct hnn_loc {
  int line, col;       /* 1-based first character */
  int end_line, end_col;
} hnn_loc;

typedef enum {
  /* expressions */
  AST_NUM,        /* num */
  AST_NAME,       /* name */
  AST_STR,        /* name = the string's contents */
  AST_NEG,        /* kid[0] */
  AST_BINOP,      /* op is one of + - * / ^ : kid[0] op kid[1] */
  AST_CALL,       /* name(kids...), with primes (s', s'') or deriv (grad/hessian) */
  AST_INDEX,      /* kid[0] [kid[1] (, kid[2])] */
  AST_VECTOR,     /* [kids...] */
  /* a formal argument: name, dims in dimname[0..ndims) (NULL = literal dimval) */
  AST_FORMAL,
  /* statements */
  AST_PARAM,      /* name; kids: [dim1 [, dim2]] init; ndims says how many dims */
  AST_ACTIVATION, /* name; kid[0] formal, kid[1] body, kid[2] inverse or NULL */
  AST_OBJECTIVE,  /* name; kids: formals..., body last */
  AST_FUNCTION,
  AST_KERNEL,
  AST_NEURON,     /* name; kids: parameter formals (nparams), the input formal, body last */
  AST_METRIC,     /* name; kids: formals..., body last (no formals for hopfield(s)/euclidean) */
  AST_USE,        /* name = module */
  AST_FLOW,       /* name; kid[0]: AST_CALL of the flow kind, args may be AST_KWARG */
  AST_MIRROR,     /* name; kid[0]: hopfield(s) */
  AST_ENERGY,     /* name; kid[0]: a sum of energy terms (energy.h) */
  AST_RUN,        /* name of the flow; kid[0] start, kid[1] output AST_STR or NULL, kids[2..] options */
  AST_KWARG,      /* name = kid[0] (flow keyword arguments, run options) */
  AST_PLOT,       /* kid[0] AST_VECTOR of items, kid[1] output AST_STR, kids[2..] options */
  AST_PRINT,      /* kids: expressions */
  AST_EXPR        /* kid[0]: a bare expression (printed) */
} ast_kind;

typedef enum { DERIV_NONE, DERIV_GRAD, DERIV_HESSIAN } ast_deriv;

typedef struct ast ast;
struct ast {
  ast_kind kind;
  hnn_loc loc;
  hnn_src *src;
  char op;             /* AST_BINOP */
  double num;          /* AST_NUM */
  char *name;          /* names, strings, declared names */
  hnn_loc name_loc;    /* where the declared name / callee is */
  int nprimes;         /* AST_CALL: s'(u) = 1, s''(u) = 2 */
  int inverse;         /* AST_CALL: G^-1(x), s^-1(y) */
  ast_deriv deriv;     /* AST_CALL */
  int ndims;           /* AST_FORMAL, AST_PARAM */
  int nparams;         /* AST_NEURON: formals before ';' (the neuron's parameters) */
  char *dimname[2];    /* AST_FORMAL: size variable or param name, or NULL */
  int dimval[2];       /* AST_FORMAL: literal size */
  int parenthesized;   /* written in ( ): not merged into an operator chain */
  int depth;           /* 1 + deepest kid: the parser rejects depth > AST_MAX_DEPTH */
  int nkids, capkids;
  ast **kids;
};

ast *ast_new(ast_kind kind, hnn_loc loc, hnn_src *src);
void ast_add(ast *parent, ast *kid);   /* kid may be NULL (kept as a hole) */
void ast_free(ast *node);              /* recursive over kids; iterative on deep chains */
ast *ast_copy(const ast *node);
/* Does the statement declare a name (param, activation, ..., flow, mirror)? */
int ast_declares(const ast *st);
/* The body of a declaration (activations keep their inverse after it). */
ast *ast_body(const ast *decl);
/* Is e a call written plainly: no grad/hessian, no primes, no ^-1? */
int ast_is_plain_call(const ast *e);
/* Depth limit on expression nesting, enforced by the parser: deeper input is a
** syntax error, so every recursive walk is bounded. */
#define AST_MAX_DEPTH 400

/* S-expression rendering for --dump-ast and tests (caller frees). */
char *ast_to_string(const ast *node);
const char *ast_kind_name(ast_kind k);

hnn_src *src_new(const char *name, const char *text);
void src_retain(hnn_src *s);
void src_release(hnn_src *s);

#endif
