/*
** open.c — hnn_open: a state with the layers above the core plugged in
** (the flow kinds of lang/flows/ and the plot statements), so that the
** core (state.c, sema.c) calls neither by name.
*/
#include "flows.h"
#include "plotstmt.h"
#include "state.h"

static const state_layers hnn_layers = {
  flows_check_decl, flows_check_run, flows_run, plotstmt_check, plotstmt_run, flows_check_outputs,
  plotstmt_check_output,
};

hnn_state *hnn_open(void) { return state_new(&hnn_layers); }
