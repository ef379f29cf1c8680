/*
** fuzz_parse.c -- libFuzzer harness for the hnn front end.
**
** Each input is treated as the text of a .hnn script: it is copied to a
** NUL-terminated buffer and given to hnn_check_string on a fresh state, which
** parses it, resolves `use` modules, checks every declaration and evaluates
** params (through the JIT), but runs no print statement.  All output and
** warnings go to /dev/null.  Build: make fuzz; run: ./fuzz_parse CORPUS_DIR
** (see .ci/run for the flags used in CI).
*/
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hnn.h"

static FILE *devnull;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  devnull = fopen("/dev/null", "w");
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *buf = malloc(size + 1);
  if (!buf) return 0;
  memcpy(buf, data, size);
  buf[size] = '\0';
  hnn_state *S = hnn_open();
  if (S) {
    if (devnull) {
      hnn_set_output(S, devnull);
      hnn_set_warnings(S, devnull);
    }
    (void)hnn_check_string(S, buf, "fuzz");
    (void)hnn_error(S);
    hnn_close(S);
  }
  free(buf);
  return 0;
}
