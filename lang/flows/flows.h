/*
** flows.h — flow declarations (`flow`, `mirror`) and `run` statements: the
** table of flow kinds, their checks, and the glue from a run to a runtime
** engine (runtime/ode.h, runtime/discrete.h).
*/
#ifndef HNN_FLOWS_H
#define HNN_FLOWS_H

#include "state.h"

/* Check a flow or mirror declaration (called by sema_check_sym). */
int flows_check_decl(hnn_state *S, sym *s);
/* Check a run statement before anything in its unit runs. */
int flows_check_run(hnn_state *S, ast *run);
/* Before a unit runs: can every file of a run statement be written (its
** `-> "PATH"` and the siblings its kind writes beside it)?  Each failure is
** reported at PATH; returns their number. */
int flows_check_outputs(hnn_state *S, ast *run);
/* Execute a run statement; HNN_OK or an hnn status with S->diags filled. */
int flows_run(hnn_state *S, ast *run);

#endif
