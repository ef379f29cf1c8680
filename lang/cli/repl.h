/*
** repl.h — the hnn read-eval-print loop, used by the command-line program.
*/
#ifndef HNN_REPL_H
#define HNN_REPL_H

#include <stdio.h>

#include "hnn.h"

/* Read inputs from stdin and load each one into S until EOF or :quit.
** interactive: GNU readline, prompts and history; otherwise plain lines,
** no prompts.  Returns 0, or 1 if any input failed (errors are reported on
** stderr and the loop goes on). */
int repl_run(hnn_state *S, int interactive);

/* Write a message to f with its control bytes (but tab and newline) as \xNN,
** so that bad input echoed in it cannot drive the terminal. */
void repl_put_message(const char *s, FILE *f);

#endif
