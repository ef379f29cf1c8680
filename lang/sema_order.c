/*
** sema_order.c — checking long chains of declarations without deep recursion.
**
** Declarations are checked on demand: checking f checks what f uses first,
** recursively.  A chain of 100,000 declarations, each using the next one
** declared below it, would recurse 100,000 deep and overflow the C stack.
** Before the on-demand pass, sema_precheck walks the uses iteratively and
** checks every declaration that stands at least SEMA_CHAIN_STEP above the
** bottom of its chain (or above the last one checked this way) in
** dependency order, so the on-demand recursion never goes further than
** SEMA_CHAIN_STEP declarations.  Short chains, and whatever leads into a
** cycle, are left to the on-demand pass, so their messages (a cycle is
** reported where it is met) do not change.
*/
#include <stdlib.h>
#include <string.h>

#include "sema_impl.h"
#include "state.h"

#define SEMA_CHAIN_STEP 16

/* Is s still to be checked in this epoch? */
static int unchecked(hnn_state *S, sym *s) {
  return s->kind == SYM_PARAM ? !s->evaluated && !s->evaluating : s->epoch != S->epoch && !s->checking;
}

typedef struct {
  int *v, n, cap;
} ivec;

static void ivec_push(ivec *a, int x) {
  if (a->n == a->cap) {
    a->cap = a->cap ? 2 * a->cap : 8;
    a->v = hnn_xrealloc(a->v, (size_t)a->cap * sizeof *a->v);
  }
  a->v[a->n++] = x;
}

/* How many of d's kids are formals (ast.h: params, flows and mirrors have none). */
static int nformals_of(const ast *d) {
  if (d->kind == AST_PARAM || d->kind == AST_FLOW || d->kind == AST_MIRROR || d->kind == AST_ENERGY) return 0;
  return d->kind == AST_ACTIVATION ? 1 : d->nkids - 1;
}

/* Is `name` a formal of declaration d (a local, not the global)? */
static int is_formal(const ast *d, const char *name) {
  int nformals = nformals_of(d);
  for (int i = 0; i < nformals; i++)
    if (d->kids[i] && d->kids[i]->kind == AST_FORMAL && strcmp(d->kids[i]->name, name) == 0) return 1;
  return 0;
}

/* A use of `name` in d.  A missed use only costs depth; a spurious one
** (a size variable named like a global) only order or depth. */
static void add_use(hnn_state *S, const ast *d, const char *name, ivec *out) {
  int i = is_formal(d, name) ? -1 : state_lookup_index(S, name);
  if (i >= 0 && unchecked(S, S->syms[i])) ivec_push(out, i);
}

/* The unchecked declarations that expression e uses (depth is bounded by
** AST_MAX_DEPTH, so recursion is fine here). */
static void uses_of(hnn_state *S, const ast *d, const ast *e, ivec *out) {
  if (!e) return;
  if ((e->kind == AST_NAME || e->kind == AST_CALL) && e->name) add_use(S, d, e->name, out);
  for (int i = 0; i < e->nkids; i++) uses_of(S, d, e->kids[i], out);
}

/* What declaration s uses, in the order its check meets them. */
static void uses(hnn_state *S, sym *s, ivec *out) {
  ast *d = s->decl;
  int nformals = nformals_of(d);
  for (int i = 0; i < nformals; i++) {
    const ast *f = d->kids[i];
    for (int k = 0; f && k < f->ndims; k++)
      if (f->dimname[k]) add_use(S, d, f->dimname[k], out);
  }
  for (int i = nformals; i < d->nkids; i++) uses_of(S, d, d->kids[i], out);
  if (s->override) uses_of(S, d, s->override, out);
}

typedef struct {
  int sym;               /* index in S->syms */
  ivec deps;
  int next;              /* next dep to visit */
  int height;            /* longest unchecked chain below, so far */
  int cyclic;            /* some use leads back into the walk */
} frame;

enum { WHITE, GREY, BLACK };

void sema_precheck(hnn_state *S, ast **stmts, int nstmts) {
  int n = S->nsyms;
  unsigned char *color = hnn_xcalloc((size_t)n + 1, 1);
  int *height = hnn_xcalloc((size_t)n + 1, sizeof *height);
  unsigned char *cyclic = hnn_xcalloc((size_t)n + 1, 1);
  frame *st = NULL;
  int depth = 0, cap = 0;
  for (int r = 0; r < nstmts; r++) {
    if (!ast_declares(stmts[r])) continue;
    int root = state_lookup_index(S, stmts[r]->name);
    if (root < 0 || color[root] != WHITE || !unchecked(S, S->syms[root])) continue;
    /* iterative depth-first walk; a node is finished after all it uses */
    if (depth == cap) st = hnn_xrealloc(st, (size_t)(cap = cap ? 2 * cap : 64) * sizeof *st);
    memset(&st[depth], 0, sizeof *st);
    st[depth].sym = root;
    uses(S, S->syms[root], &st[depth].deps);
    color[root] = GREY;
    depth++;
    while (depth > 0) {
      frame *f = &st[depth - 1];
      if (f->next < f->deps.n) {
        int u = f->deps.v[f->next++];
        if (color[u] == GREY) f->cyclic = 1;
        else if (color[u] == BLACK) {
          if (height[u] + 1 > f->height) f->height = height[u] + 1;
          f->cyclic |= cyclic[u];
        } else {
          if (depth == cap) {
            st = hnn_xrealloc(st, (size_t)(cap *= 2) * sizeof *st);
            f = &st[depth - 1];
          }
          frame *g = &st[depth++];
          memset(g, 0, sizeof *g);
          g->sym = u;
          uses(S, S->syms[u], &g->deps);
          color[u] = GREY;
        }
        continue;
      }
      int v = f->sym;
      color[v] = BLACK;
      cyclic[v] = (unsigned char)f->cyclic;
      height[v] = f->height;
      if (!f->cyclic && f->height >= SEMA_CHAIN_STEP) {
        /* what v uses is checked, or at most SEMA_CHAIN_STEP deep */
        sema_check_sym(S, S->syms[v]);
        height[v] = 0;
      }
      free(f->deps.v);
      depth--;
      if (depth > 0) {   /* the user of v */
        frame *p = &st[depth - 1];
        if (height[v] + 1 > p->height) p->height = height[v] + 1;
        p->cyclic |= cyclic[v];
      }
    }
  }
  free(st);
  free(color);
  free(height);
  free(cyclic);
}
