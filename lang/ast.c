/*
** ast.c — syntax tree nodes, source units, and the --dump-ast rendering.
*/
#include "ast.h"

#include <stdlib.h>
#include <string.h>

#include "strbuf.h"

hnn_src *src_new(const char *name, const char *text) {
  hnn_src *s = hnn_xcalloc(1, sizeof *s);
  s->name = hnn_xstrdup(name);
  s->text = hnn_xstrdup(text);
  s->refs = 1;
  return s;
}

void src_retain(hnn_src *s) {
  if (s) s->refs++;
}

void src_release(hnn_src *s) {
  if (!s || --s->refs > 0) return;
  free(s->name);
  free(s->text);
  free(s);
}

ast *ast_new(ast_kind kind, hnn_loc loc, hnn_src *src) {
  ast *n = hnn_xcalloc(1, sizeof *n);
  n->kind = kind;
  n->loc = loc;
  n->name_loc = loc;
  n->src = src;
  n->depth = 1;
  src_retain(src);
  return n;
}

void ast_add(ast *p, ast *kid) {
  if (p->nkids == p->capkids) {
    p->capkids = p->capkids ? 2 * p->capkids : 4;
    p->kids = hnn_xrealloc(p->kids, (size_t)p->capkids * sizeof *p->kids);
  }
  p->kids[p->nkids++] = kid;
  if (kid && kid->depth + 1 > p->depth) p->depth = kid->depth + 1;
}

void ast_free(ast *n) {
  if (!n) return;
  for (int i = 0; i < n->nkids; i++) ast_free(n->kids[i]);
  free(n->kids);
  free(n->name);
  free(n->dimname[0]);
  free(n->dimname[1]);
  src_release(n->src);
  free(n);
}

ast *ast_copy(const ast *n) {
  if (!n) return NULL;
  ast *c = hnn_xmalloc(sizeof *c);
  *c = *n;
  c->name = n->name ? hnn_xstrdup(n->name) : NULL;
  for (int d = 0; d < 2; d++) c->dimname[d] = n->dimname[d] ? hnn_xstrdup(n->dimname[d]) : NULL;
  c->kids = n->nkids ? hnn_xmalloc((size_t)n->nkids * sizeof *c->kids) : NULL;
  c->capkids = n->nkids;
  for (int i = 0; i < n->nkids; i++) c->kids[i] = ast_copy(n->kids[i]);
  src_retain(c->src);
  return c;
}

int ast_is_plain_call(const ast *e) {
  return e->kind == AST_CALL && e->deriv == DERIV_NONE && !e->nprimes && !e->inverse;
}

int ast_declares(const ast *st) {
  switch (st->kind) {
  case AST_PARAM: case AST_ACTIVATION: case AST_OBJECTIVE: case AST_FUNCTION: case AST_KERNEL: case AST_NEURON: case AST_METRIC:
  case AST_FLOW: case AST_MIRROR: case AST_ENERGY:
    return 1;
  default:
    return 0;
  }
}

ast *ast_body(const ast *d) {
  return d->kind == AST_ACTIVATION ? d->kids[1] : d->kids[d->nkids - 1];
}

const char *ast_kind_name(ast_kind k) {
  static const char *names[] = {
    "num", "name", "string", "neg", "binop", "call", "index", "vector", "formal",
    "param", "activation", "objective", "function", "kernel", "neuron", "metric", "use",
    "flow", "mirror", "energy", "run", "kwarg", "plot", "print", "expr"
  };
  return (unsigned)k < sizeof names / sizeof *names ? names[k] : "?";
}

static void render(strbuf *b, const ast *n) {
  if (!n) {
    sb_puts(b, "()");
    return;
  }
  switch (n->kind) {
  case AST_NUM: sb_double(b, n->num); return;
  case AST_NAME: sb_puts(b, n->name); return;
  case AST_STR: sb_printf(b, "\"%s\"", n->name); return;
  case AST_FORMAL:
    sb_puts(b, n->name);
    for (int d = 0; d < n->ndims; d++) {
      sb_puts(b, d ? "," : "[");
      if (n->dimname[d]) sb_puts(b, n->dimname[d]);
      else sb_printf(b, "%d", n->dimval[d]);
    }
    if (n->ndims) sb_putc(b, ']');
    return;
  default: break;
  }
  sb_putc(b, '(');
  switch (n->kind) {
  case AST_BINOP: sb_putc(b, n->op); break;
  case AST_CALL:
    if (n->deriv == DERIV_GRAD) sb_puts(b, "grad ");
    if (n->deriv == DERIV_HESSIAN) sb_puts(b, "hessian ");
    sb_puts(b, n->name);
    for (int i = 0; i < n->nprimes; i++) sb_putc(b, '\'');
    if (n->inverse) sb_puts(b, "^-1");
    break;
  default:
    sb_puts(b, ast_kind_name(n->kind));
    if (n->name) sb_printf(b, " %s", n->name);
    if (n->kind == AST_PARAM && n->ndims) sb_printf(b, " dims=%d", n->ndims);
  }
  for (int i = 0; i < n->nkids; i++) {
    sb_putc(b, ' ');
    render(b, n->kids[i]);
  }
  sb_putc(b, ')');
}

char *ast_to_string(const ast *n) {
  strbuf b = STRBUF_INIT;
  render(&b, n);
  return sb_take(&b);
}
