/*
** neuron_unit.h — recognize a neuron of the form c * s(<w, z> + b) with a
** known activation s (relu as max(u, 0), tanh) or another scalar g(u),
** for the fused kernels of runtime/meanfield.c.
*/
#ifndef HNN_NEURON_UNIT_H
#define HNN_NEURON_UNIT_H

#include "meanfield.h"
#include "state.h"

/* 1 and the unit's activation and offsets in xi, or 0 and act MF_GENERIC.
** act2 NULL: known activations only; else a unit with another activation
** g is MF_CUSTOM and act2 gets the callback t -> [g(t), g'(t)] (filled when
** the open JIT batch compiles).  The neuron must be checked (sema) with
** every size fixed. */
int neuron_unit(hnn_state *S, sym *neuron, mf_unit *out, flow_fn *act2);

#endif
