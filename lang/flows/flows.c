/*
** flows.c — flow declarations and run statements, for every kind alike.
**
** The table below lists the flow kinds (flowkind.h says what each
** provides).  A declaration is checked by its kind; a run goes through the
** kind's prepare, compile and run stages, and between prepare and compile
** its plan is held against the output limit (hnn_set_max_output, the
** CLI's --max-output), the free space where the files go and the free
** memory, so a run that cannot finish is refused before it starts.
*/
#include "flows.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "flowkind.h"
#include "strbuf.h"

static const flow_kind *const kinds[] = {
  &flow_kind_gradient,
  &flow_kind_hopfield,
  &flow_kind_natural_gradient,
  &flow_kind_gradient_descent,
  &flow_kind_natural_gradient_descent,
  &flow_kind_mirror_descent,
  &flow_kind_diffusion,
  &flow_kind_augmented_lagrangian,
  &flow_kind_wasserstein,
  &flow_kind_geodesic,
  &flow_kind_rho_h,
  &flow_kind_frank_wolfe,
  &flow_kind_particles,
  &flow_kind_langevin,
  &flow_kind_mobility,
  &flow_kind_adam,
  &flow_kind_adam_descent,
  &flow_kind_meanfield,
  &flow_kind_fokker_planck,
  &flow_kind_jko,
  &flow_kind_entropic_jko,
  &flow_kind_hidden_hopfield,
};
#define NKINDS (sizeof kinds / sizeof *kinds)

static const flow_kind *find_kind(const char *name) {
  for (size_t i = 0; i < NKINDS; i++)
    if (strcmp(kinds[i]->name, name) == 0) return kinds[i];
  return NULL;
}

const flow_kind *flows_kind_at(size_t i) { return i < NKINDS ? kinds[i] : NULL; }

/* ------------------------------------------------------ declarations */

static const char *role_name(role r) {
  static const char *n[] = { "an objective", "an activation", "a metric", "a mirror map", "a list of constraints", "an energy" };
  return n[r];
}

static int role_ok(role r, sym_kind k) {
  switch (r) {
  case R_OBJECTIVE: return k == SYM_OBJECTIVE || k == SYM_FUNCTION;
  case R_ACTIVATION: return k == SYM_ACTIVATION;
  case R_METRIC: return k == SYM_METRIC;
  case R_ENERGY: return k == SYM_ENERGY;
  default: return k == SYM_MIRROR;
  }
}

/* A mirror map is hopfield(s) for an activation s. */
static int check_mirror(hnn_state *S, sym *s) {
  ast *body = s->decl->kids[0];
  if (body->kind == AST_CALL && strcmp(body->name, "hopfield") == 0 && body->nkids == 1 &&
      body->kids[0]->kind == AST_NAME) {
    sym *a = state_lookup(S, body->kids[0]->name);
    if (a && a->kind == SYM_ACTIVATION) {
      if (sema_check_sym(S, a)) return 1;
      free(s->mact);
      s->mact = hnn_xstrdup(a->name);
      return 0;
    }
  }
  diag_error(&S->diags, body->src, body->loc, "a mirror map is hopfield(s) for an activation s");
  return 1;
}

int flow_check_roles(hnn_state *S, sym *s, const flow_kind *k) {
  ast *call = s->decl->kids[0];
  int errs = 0, npos = 0, have_required = k->keywords[0] == NULL;
  for (int i = 0; i < call->nkids; i++) {
    ast *a = call->kids[i];
    if (a->kind == AST_KWARG) {
      int ok = 0;
      for (int w = 0; k->keywords[w]; w++) ok |= strcmp(k->keywords[w], a->name) == 0;
      if (!ok) {
        diag_error(&S->diags, a->src, a->name_loc, "%s takes no argument '%s' (usage: %s)", k->name, a->name, k->usage);
        errs++;
        continue;
      }
      if (k->keywords[0] && strcmp(a->name, k->keywords[0]) == 0) have_required = 1;
      errs += flow_check_number(S, a->kids[0], a->name);
      continue;
    }
    if (npos >= k->nroles || a->kind != AST_NAME) {
      diag_error(&S->diags, a->src, a->loc, "usage: flow %s = %s", s->name, k->usage);
      errs++;
      npos++;
      continue;
    }
    sym *d = state_lookup(S, a->name);
    role r = k->roles[npos++];
    if (!d || !role_ok(r, d->kind)) {
      diag_error(&S->diags, a->src, a->loc, "%s expects %s here; '%s' is %s", k->name, role_name(r), a->name,
                 d ? sym_kind_name(d->kind) : "not defined");
      errs++;
    } else if (sema_check_sym(S, d)) {
      errs++;
    } else if (r == R_OBJECTIVE && d->sig.result.kind != TY_SCALAR) {
      diag_error(&S->diags, a->src, a->loc, "the objective '%s' is not scalar-valued", a->name);
      errs++;
    }
  }
  if (!errs && npos != k->nroles) {
    diag_error(&S->diags, call->src, call->loc, "usage: flow %s = %s", s->name, k->usage);
    errs++;
  }
  if (!errs && !have_required) {
    diag_error(&S->diags, call->src, call->loc, "%s needs %s = ... (usage: %s)", k->name, k->keywords[0], k->usage);
    errs++;
  }
  return errs;
}

int flows_check_decl(hnn_state *S, sym *s) {
  if (s->kind == SYM_MIRROR) return check_mirror(S, s);
  ast *call = s->decl->kids[0];
  const flow_kind *k = find_kind(call->name);
  if (!k) {
    strbuf b = STRBUF_INIT;
    for (size_t i = 0; i < NKINDS; i++) sb_printf(&b, "%s%s", i ? ", " : "", kinds[i]->name);
    diag_error(&S->diags, call->src, call->name_loc, "unknown flow kind '%s' (hnn has: %s)", call->name, b.s);
    sb_free(&b);
    return 1;
  }
  s->flow_kind = k;
  return k->check_decl ? k->check_decl(S, s, k) : flow_check_roles(S, s, k);
}

/* -------------------------------------------------------------- runs */

int flows_check_run(hnn_state *S, ast *run) {
  sym *f = state_lookup(S, run->name);
  if (!f || f->kind != SYM_FLOW) {
    diag_error(&S->diags, run->src, run->name_loc, "'%s' is %s, not a flow", run->name,
               f ? sym_kind_name(f->kind) : "not defined");
    return 1;
  }
  if (sema_check_sym(S, f)) return 1;
  const flow_kind *k = flow_kind_of(f);
  int errs = k->check_run(S, run, f, k);
  if (run->kids[1] && !run->kids[1]->name[0]) {
    diag_error(&S->diags, run->kids[1]->src, run->kids[1]->loc, "empty output file name");
    errs++;
  }
  return errs;
}

int flows_check_outputs(hnn_state *S, ast *run) {
  ast *out = run->kids[1];
  sym *flow = state_lookup(S, run->name);
  if (!out || !flow || !flow->flow_kind) return 0;   /* standard output */
  int errs = run_out_check_path(S, out, out->name);
  for (int i = 0; i < 2 && flow->flow_kind->siblings[i] && !errs; i++) {
    char *sib = run_out_sibling(out->name, flow->flow_kind->siblings[i]);
    errs += run_out_check_path(S, out, sib);
    free(sib);
  }
  return errs;
}

/* "1.2 GB" */
static void human_bytes(char *buf, size_t len, double b) {
  const char *unit[] = { "bytes", "kB", "MB", "GB", "TB", "PB", "EB" };
  int u = 0;
  while (b >= 1000 && u < 6) b /= 1000, u++;
  if (b >= 1000) snprintf(buf, len, "%.3g %s", b, unit[u]);
  else snprintf(buf, len, u ? "%.3g %s" : "%.0f %s", b, unit[u]);
}

/* Free bytes where path will be written (its directory), or -1. */
static double free_space(hnn_state *S, const char *path) {
  char *full = run_out_path(S, path);
  char *slash = strrchr(full, '/');
  if (slash == full) slash[1] = 0;
  else if (slash) *slash = 0;
  else strcpy(full, ".");
  struct statvfs fs;
  double r = statvfs(full, &fs) == 0 ? (double)fs.f_bavail * (double)fs.f_frsize : -1;
  free(full);
  return r;
}

/* Available memory (MemAvailable of /proc/meminfo; else free pages). */
static double free_memory(void) {
  FILE *f = fopen("/proc/meminfo", "r");
  char line[256];
  double kb = -1;
  while (f && fgets(line, sizeof line, f))
    if (sscanf(line, "MemAvailable: %lf kB", &kb) == 1) break;
  if (f) fclose(f);
  if (kb >= 0) return kb * 1024;
  long pages = sysconf(_SC_AVPHYS_PAGES), size = sysconf(_SC_PAGESIZE);
  return pages > 0 && size > 0 ? (double)pages * (double)size : -1;
}

/* Hold the plan against the limits before the run starts.  A number takes
** at most 24 bytes and a comma in the CSV (numfmt.c). */
static int check_plan(flow_job *J) {
  hnn_state *S = J->S;
  ast *at = J->run->kids[1] ? J->run->kids[1] : J->run;
  const flow_plan *p = &J->plan;
  double bytes = p->rows * p->values * 25;
  char est[64], lim[64], rows[64];
  human_bytes(est, sizeof est, bytes);
  snprintf(rows, sizeof rows, p->rows < 1e15 ? "%.0f" : "%.3g", p->rows);
  if (!(bytes <= S->max_output)) {
    human_bytes(lim, sizeof lim, S->max_output);
    diag_error(&S->diags, at->src, at->loc,
               "run %s would write %s rows, about %s, over the output limit of %s; write less often (dt, every) "
               "or raise the limit (--max-output)", J->flow->name, rows, est, lim);
    return HNN_ERR_SCRIPT;
  }
  if (J->run->kids[1]) {
    double avail = free_space(S, J->run->kids[1]->name);
    if (avail >= 0 && bytes > avail) {
      human_bytes(lim, sizeof lim, avail);
      diag_error(&S->diags, at->src, at->loc, "run %s would write about %s, but only %s are free there", J->flow->name,
                 est, lim);
      return HNN_ERR_SCRIPT;
    }
  }
  double mem = free_memory();
  if (p->memory > 0 && mem >= 0 && p->memory > mem) {
    human_bytes(est, sizeof est, p->memory);
    human_bytes(lim, sizeof lim, mem);
    diag_error(&S->diags, J->run->src, J->run->loc, "run %s needs about %s of memory, but only %s are available",
               J->flow->name, est, lim);
    return HNN_ERR_SCRIPT;
  }
  return HNN_OK;
}

int flows_run(hnn_state *S, ast *run) {
  sym *flow = state_lookup(S, run->name);
  flow_job J = { S, run, flow, flow->flow_kind, { 0, 0, 0 }, NULL };
  const flow_kind *k = J.kind;
  int status = k->prepare(&J);
  if (status == HNN_OK) status = check_plan(&J);
  if (status == HNN_OK) {
    state_batch_begin(S);
    int bad = k->compile(&J);
    if (state_batch_end(S) || bad) status = HNN_ERR_SCRIPT;
  }
  if (status == HNN_OK) status = k->run(&J);
  k->release(&J);
  return status;
}
