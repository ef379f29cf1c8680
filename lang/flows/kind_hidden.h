/*
** kind_hidden.h — what kind_hidden.c offers besides its flow kind: the
** compiled Lagrangians of a hidden_hopfield flow (the unit tests check the
** derived K and div K against finite differences).
*/
#ifndef HNN_KIND_HIDDEN_H
#define HNN_KIND_HIDDEN_H

#include "hidden.h"
#include "state.h"

/* Compile Lv and Lh of flow (a checked hidden_hopfield flow) at the sizes
** net->nv, net->nh into net->Lv, net->Lh.  1 when one does not compile. */
int hidden_compile_lagrangians(hnn_state *S, sym *flow, hid_net *net);

#endif
