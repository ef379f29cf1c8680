/*
** parser.y — the hnn grammar (pure Bison parser with locations).
**
** Builds AST statements with source spans.  Syntax errors are reported with
** what was expected; the parser resynchronizes at the end of the line, so one
** pass reports every bad line.  Expression depth is bounded here
** (AST_MAX_DEPTH) so that every later recursive walk is bounded too.
*/
%define api.pure full
%define api.prefix {hnn_yy}
%define parse.error verbose
%locations
%expect 0
%param {yyscan_t scanner}
%parse-param {parse_ctx *pc}

%code requires {
#include "ast.h"
#include "parse.h"
typedef void *yyscan_t;
}

%code {
#include <stdlib.h>
#include <string.h>
#include "lexer.h"
#include "strbuf.h"

static void hnn_yyerror(HNN_YYLTYPE *l, yyscan_t scanner, parse_ctx *pc, const char *msg);
static hnn_loc mkloc(const HNN_YYLTYPE *a, const HNN_YYLTYPE *b);
static ast *node(parse_ctx *pc, ast_kind k, const HNN_YYLTYPE *a, const HNN_YYLTYPE *b);
static ast *bounded(parse_ctx *pc, ast *n);
static int formal_size(double v);
static ast *binop(parse_ctx *pc, char op, ast *l, ast *r, const HNN_YYLTYPE *a, const HNN_YYLTYPE *b);
static ast *decl(parse_ctx *pc, ast_kind k, char *name, const HNN_YYLTYPE *nl, ast *formals, ast *body,
                 const HNN_YYLTYPE *a, const HNN_YYLTYPE *b);
static void add_stmt(parse_ctx *pc, ast *s);
static void take_kids(ast *to, ast *list);
#define L(a, b) mkloc(&(a), &(b))
}

%union {
  double num;
  char *str;
  ast *node;
  int count;
}

%token <num> NUM "number"
%token <str> NAME "name"
%token <str> STRING "string"
%token NEWLINE "end of line"
%token PARAM "param" ACTIVATION "activation" OBJECTIVE "objective" FUNCTION "function"
%token KERNEL "kernel" NEURON "neuron" METRIC "metric" USE "use" PRINT "print"
%token GRAD "grad" HESSIAN "hessian" INVERSE "inverse"
%token FLOW "flow" MIRROR "mirror" RUN "run" FROM "from" ARROW "->" PLOT "plot"
%token PRIME "'" INVCALL "^-1"

%type <node> stmt expr primary call formal formals exprs args arg arglist runopts
%type <count> primes

%destructor { free($$); } <str>
%destructor { ast_free($$); } <node>

%left '+' '-'
%left '*' '/'
%precedence NEG
%right '^'

%%

program:
  %empty
| program line
;

line:
  NEWLINE
| stmt NEWLINE          { add_stmt(pc, $1); }
| error NEWLINE         { yyerrok; }
;

stmt:
  PARAM NAME '=' expr {
    $$ = node(pc, AST_PARAM, &@$, &@$); $$->name = $2; $$->name_loc = L(@2, @2);
    ast_add($$, $4);
  }
| PARAM NAME '[' expr ']' '=' expr {
    $$ = node(pc, AST_PARAM, &@$, &@$); $$->name = $2; $$->name_loc = L(@2, @2);
    $$->ndims = 1; ast_add($$, $4); ast_add($$, $7);
  }
| PARAM NAME '[' expr ',' expr ']' '=' expr {
    $$ = node(pc, AST_PARAM, &@$, &@$); $$->name = $2; $$->name_loc = L(@2, @2);
    $$->ndims = 2; ast_add($$, $4); ast_add($$, $6); ast_add($$, $9);
  }
| ACTIVATION NAME '(' formal ')' '=' expr {
    $$ = node(pc, AST_ACTIVATION, &@$, &@$); $$->name = $2; $$->name_loc = L(@2, @2);
    ast_add($$, $4); ast_add($$, $7); ast_add($$, NULL);
  }
| ACTIVATION NAME '(' formal ')' '=' expr INVERSE expr {
    $$ = node(pc, AST_ACTIVATION, &@$, &@$); $$->name = $2; $$->name_loc = L(@2, @2);
    ast_add($$, $4); ast_add($$, $7); ast_add($$, $9);
  }
| OBJECTIVE NAME '(' formals ')' '=' expr { $$ = decl(pc, AST_OBJECTIVE, $2, &@2, $4, $7, &@1, &@7); }
| FUNCTION NAME '(' formals ')' '=' expr  { $$ = decl(pc, AST_FUNCTION, $2, &@2, $4, $7, &@1, &@7); }
| KERNEL NAME '(' formals ')' '=' expr    { $$ = decl(pc, AST_KERNEL, $2, &@2, $4, $7, &@1, &@7); }
| NEURON NAME '(' formals ';' formals ')' '=' expr {
    int np = $4->nkids;
    take_kids($4, $6);
    $$ = decl(pc, AST_NEURON, $2, &@2, $4, $9, &@1, &@9); $$->nparams = np;
  }
| METRIC NAME '(' formals ')' '=' expr    { $$ = decl(pc, AST_METRIC, $2, &@2, $4, $7, &@1, &@7); }
| METRIC NAME '=' expr                    { $$ = decl(pc, AST_METRIC, $2, &@2, NULL, $4, &@1, &@4); }
| FLOW NAME '=' NAME '(' args ')' {
    $$ = node(pc, AST_FLOW, &@$, &@$); $$->name = $2; $$->name_loc = L(@2, @2);
    ast *k = node(pc, AST_CALL, &@4, &@7); k->name = $4; k->name_loc = L(@4, @4);
    take_kids(k, $6); ast_add($$, k);
  }
| MIRROR NAME '=' expr {
    $$ = node(pc, AST_MIRROR, &@$, &@$); $$->name = $2; $$->name_loc = L(@2, @2); ast_add($$, $4);
  }
| NAME NAME '=' expr {
    /* `energy` is a keyword only here, so functions may still be named energy */
    $$ = node(pc, AST_ENERGY, &@$, &@$); $$->name = $2; $$->name_loc = L(@2, @2); ast_add($$, $4);
    if (strcmp($1, "energy") != 0)
      hnn_yyerror(&@2, scanner, pc, "unexpected name after a name (is a keyword misspelled?)");
    free($1);
  }
| RUN NAME FROM expr runopts ARROW STRING {
    $$ = node(pc, AST_RUN, &@$, &@$); $$->name = $2; $$->name_loc = L(@2, @2);
    ast_add($$, $4);
    ast *out = node(pc, AST_STR, &@7, &@7); out->name = $7; ast_add($$, out);
    take_kids($$, $5);
  }
| RUN NAME FROM expr runopts {
    $$ = node(pc, AST_RUN, &@$, &@$); $$->name = $2; $$->name_loc = L(@2, @2);
    ast_add($$, $4); ast_add($$, NULL); take_kids($$, $5);
  }
| PLOT exprs runopts ARROW STRING {
    $$ = node(pc, AST_PLOT, &@$, &@$);
    ast_add($$, $2);
    ast *out = node(pc, AST_STR, &@5, &@5); out->name = $5; ast_add($$, out);
    take_kids($$, $3);
  }
| USE STRING {
    $$ = node(pc, AST_USE, &@$, &@$); $$->name = $2; $$->name_loc = L(@2, @2);
  }
| PRINT exprs {
    $$ = node(pc, AST_PRINT, &@$, &@$); take_kids($$, $2);
  }
| expr {
    $$ = node(pc, AST_EXPR, &@$, &@$); ast_add($$, $1);
  }
| OBJECTIVE NAME '=' expr {
    free($2); ast_free($4); $$ = NULL;
    hnn_yyerror(&@3, scanner, pc, "an objective needs its arguments: objective f(x[n]) = ...");
  }
;

formals:
  formal                { $$ = node(pc, AST_VECTOR, &@$, &@$); ast_add($$, $1); }
| formals ',' formal    { $$ = $1; ast_add($$, $3); }
;

formal:
  NAME {
    $$ = node(pc, AST_FORMAL, &@$, &@$); $$->name = $1;
  }
| NAME '[' NUM ']' {
    $$ = node(pc, AST_FORMAL, &@$, &@$); $$->name = $1; $$->ndims = 1; $$->dimval[0] = formal_size($3);
    if (!$$->dimval[0]) hnn_yyerror(&@3, scanner, pc, "a size must be a positive integer");
  }
| NAME '[' NAME ']' {
    $$ = node(pc, AST_FORMAL, &@$, &@$); $$->name = $1; $$->ndims = 1; $$->dimname[0] = $3;
  }
| NAME '[' NUM ',' NUM ']' {
    $$ = node(pc, AST_FORMAL, &@$, &@$); $$->name = $1; $$->ndims = 2;
    $$->dimval[0] = formal_size($3); $$->dimval[1] = formal_size($5);
    if (!$$->dimval[0] || !$$->dimval[1])
      hnn_yyerror(&@3, scanner, pc, "a size must be a positive integer");
  }
| NAME '[' NAME ',' NAME ']' {
    $$ = node(pc, AST_FORMAL, &@$, &@$); $$->name = $1; $$->ndims = 2;
    $$->dimname[0] = $3; $$->dimname[1] = $5;
  }
;

exprs:
  expr                  { $$ = node(pc, AST_VECTOR, &@$, &@$); ast_add($$, $1); }
| exprs ',' expr        { $$ = $1; ast_add($$, $3); }
;

args:
  %empty                { $$ = node(pc, AST_VECTOR, &@$, &@$); }
| arglist               { $$ = $1; }
;

arglist:
  arg                   { $$ = node(pc, AST_VECTOR, &@$, &@$); ast_add($$, $1); }
| arglist ',' arg       { $$ = $1; ast_add($$, $3); }
;

/* A keyword argument (name = value) is for flows; the checker says so elsewhere. */
arg:
  expr                  { $$ = $1; }
| NAME '=' expr {
    $$ = node(pc, AST_KWARG, &@$, &@$); $$->name = $1; $$->name_loc = L(@1, @1); ast_add($$, $3);
  }
;

runopts:
  %empty                { $$ = node(pc, AST_VECTOR, &@$, &@$); }
| runopts NAME expr {
    $$ = $1;
    ast *o = node(pc, AST_KWARG, &@2, &@3); o->name = $2; o->name_loc = L(@2, @2); ast_add(o, $3);
    ast_add($$, o);
  }
;

expr:
  expr '+' expr         { $$ = binop(pc, '+', $1, $3, &@1, &@3); }
| expr '-' expr         { $$ = binop(pc, '-', $1, $3, &@1, &@3); }
| expr '*' expr         { $$ = binop(pc, '*', $1, $3, &@1, &@3); }
| expr '/' expr         { $$ = binop(pc, '/', $1, $3, &@1, &@3); }
| expr '^' expr         { $$ = binop(pc, '^', $1, $3, &@1, &@3); }
| '-' expr %prec NEG    { $$ = node(pc, AST_NEG, &@1, &@2); ast_add($$, $2); $$ = bounded(pc, $$); }
| '+' expr %prec NEG    { $$ = $2; }
| primary               { $$ = $1; }
;

primary:
  NUM                   { $$ = node(pc, AST_NUM, &@$, &@$); $$->num = $1; }
| NAME                  { $$ = node(pc, AST_NAME, &@$, &@$); $$->name = $1; }
| STRING                { $$ = node(pc, AST_STR, &@$, &@$); $$->name = $1; }
| '(' expr ')'          { $$ = $2; $$->loc = L(@1, @3); $$->parenthesized = 1; }
| '[' exprs ']'         { $$ = $2; $$->loc = L(@1, @3); $$ = bounded(pc, $$); }
| call                  { $$ = $1; }
| primary '[' exprs ']' {
    $$ = node(pc, AST_INDEX, &@1, &@4); ast_add($$, $1); take_kids($$, $3);
    $$ = bounded(pc, $$);
    if ($$->kind == AST_INDEX && $$->nkids > 3)
      hnn_yyerror(&@3, scanner, pc, "at most two indices: v[i] or M[i, j]");
  }
| '(' error ')'         { $$ = node(pc, AST_NUM, &@$, &@$); }
| '[' error ']'         { $$ = node(pc, AST_NUM, &@$, &@$); }
;

call:
  NAME primes '(' args ')' {
    $$ = node(pc, AST_CALL, &@$, &@$); $$->name = $1; $$->name_loc = L(@1, @2);
    $$->nprimes = $2; take_kids($$, $4); $$ = bounded(pc, $$);
  }
| NAME INVCALL '(' args ')' {
    $$ = node(pc, AST_CALL, &@$, &@$); $$->name = $1; $$->name_loc = L(@1, @2);
    $$->inverse = 1; take_kids($$, $4); $$ = bounded(pc, $$);
  }
| GRAD NAME '(' exprs ')' {
    $$ = node(pc, AST_CALL, &@$, &@$); $$->name = $2; $$->name_loc = L(@2, @2);
    $$->deriv = DERIV_GRAD; take_kids($$, $4); $$ = bounded(pc, $$);
  }
| HESSIAN NAME '(' exprs ')' {
    $$ = node(pc, AST_CALL, &@$, &@$); $$->name = $2; $$->name_loc = L(@2, @2);
    $$->deriv = DERIV_HESSIAN; take_kids($$, $4); $$ = bounded(pc, $$);
  }
;

primes:
  %empty                { $$ = 0; }
| primes PRIME          { $$ = $1 + 1; }
;

%%

static hnn_loc mkloc(const HNN_YYLTYPE *a, const HNN_YYLTYPE *b) {
  hnn_loc l = { a->first_line, a->first_column, b->last_line, b->last_column };
  return l;
}

static ast *node(parse_ctx *pc, ast_kind k, const HNN_YYLTYPE *a, const HNN_YYLTYPE *b) {
  return ast_new(k, mkloc(a, b), pc->src);
}

/* Replace a too-deep expression by a placeholder: the error is counted, so
** the statement list is discarded, and nothing deeper than the limit exists. */
static ast *bounded(parse_ctx *pc, ast *n) {
  if (n->depth <= AST_MAX_DEPTH) return n;
  hnn_loc l = n->loc;
  diag_error(pc->diags, pc->src, l, "expression nested too deeply (more than %d levels)", AST_MAX_DEPTH);
  ast *p = ast_new(AST_NUM, l, pc->src);
  ast_free(n);
  return p;
}

/* A number written as a formal's size: a positive whole number (at most 1e8,
** like a size given by a param), or 0 when it is not one (never cast a double
** outside int's range). */
static int formal_size(double v) {
  return v >= 1 && v <= 1e8 && v == (double)(int)v ? (int)v : 0;
}

/* A chain a + b + c (or a * b * c) is one node with many operands, folded
** left to right, so long flat sums do not make deep trees. */
static ast *binop(parse_ctx *pc, char op, ast *l, ast *r, const HNN_YYLTYPE *a, const HNN_YYLTYPE *b) {
  if ((op == '+' || op == '*') && l->kind == AST_BINOP && l->op == op && !l->parenthesized) {
    ast_add(l, r);
    l->loc = mkloc(a, b);
    return bounded(pc, l);
  }
  ast *n = node(pc, AST_BINOP, a, b);
  n->op = op;
  ast_add(n, l);
  ast_add(n, r);
  return bounded(pc, n);
}

static void take_kids(ast *to, ast *list) {
  for (int i = 0; i < list->nkids; i++) ast_add(to, list->kids[i]);
  list->nkids = 0;
  ast_free(list);
}

static ast *decl(parse_ctx *pc, ast_kind k, char *name, const HNN_YYLTYPE *nl, ast *formals, ast *body,
                 const HNN_YYLTYPE *a, const HNN_YYLTYPE *b) {
  ast *n = node(pc, k, a, b);
  n->name = name;
  n->name_loc = mkloc(nl, nl);
  if (formals) take_kids(n, formals);
  ast_add(n, body);
  return n;
}

static void add_stmt(parse_ctx *pc, ast *s) {
  if (!s) return;
  if (pc->nstmts == pc->capstmts) {
    pc->capstmts = pc->capstmts ? 2 * pc->capstmts : 16;
    pc->stmts = hnn_xrealloc(pc->stmts, (size_t)pc->capstmts * sizeof *pc->stmts);
  }
  pc->stmts[pc->nstmts++] = s;
}

/* Bison's "syntax error, unexpected X, expecting Y" reads better as
** "unexpected X, expected Y". */
static void hnn_yyerror(HNN_YYLTYPE *l, yyscan_t scanner, parse_ctx *pc, const char *msg) {
  (void)scanner;
  hnn_loc loc = mkloc(l, l);
  if (pc->at_eof == 2) pc->incomplete = 1;
  if (strncmp(msg, "syntax error, ", 14) == 0) {
    strbuf b = STRBUF_INIT;
    sb_puts(&b, msg + 14);
    char *e;
    while ((e = strstr(b.s, "expecting")) != NULL) memcpy(e, "expected ", 9), memmove(e + 8, e + 9, strlen(e + 9) + 1);
    char *u = strstr(b.s, "end of file");
    diag_error(pc->diags, pc->src, loc, "%s%s", b.s, u ? " (the input ends in the middle of a statement)" : "");
    sb_free(&b);
  } else if (strcmp(msg, "memory exhausted") == 0) {
    diag_error(pc->diags, pc->src, loc, "expression nested too deeply");
  } else if (strcmp(msg, "syntax error") == 0) {
    diag_error(pc->diags, pc->src, loc, "syntax error");
  } else {
    diag_error(pc->diags, pc->src, loc, "%s", msg);
  }
}

int hnn_parse(hnn_src *src, diag_list *diags, ast ***stmts, int *nstmts, int *incomplete) {
  parse_ctx pc;
  memset(&pc, 0, sizeof pc);
  pc.src = src;
  pc.diags = diags;
  pc.line = 1;
  pc.col = 1;
  int before = diags->nerrors;
  yyscan_t scanner;
  if (hnn_yylex_init_extra(&pc, &scanner) != 0) {
    diag_plain(diags, "cannot start the lexer");
    return 1;
  }
  YY_BUFFER_STATE buf = NULL;
  if (setjmp(pc.fatal) == 0) {
    buf = hnn_yy_scan_string(src->text, scanner);
    hnn_yyparse(scanner, &pc);
  }
  if (buf) hnn_yy_delete_buffer(buf, scanner);
  hnn_yylex_destroy(scanner);
  int errors = diags->nerrors - before;
  if (incomplete) *incomplete = pc.incomplete;
  if (errors) {
    for (int i = 0; i < pc.nstmts; i++) ast_free(pc.stmts[i]);
    free(pc.stmts);
    *stmts = NULL;
    *nstmts = 0;
    return errors;
  }
  *stmts = pc.stmts;
  *nstmts = pc.nstmts;
  return 0;
}
