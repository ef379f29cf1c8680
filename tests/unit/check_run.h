/*
** check_run.h — the runner every unit-test program ends with: run the
** suite, print Check's summary, exit nonzero if any test failed.
*/
#ifndef HNN_CHECK_RUN_H
#define HNN_CHECK_RUN_H

#include <check.h>
#include <stdlib.h>

static inline int check_run(Suite *s) {
  SRunner *r = srunner_create(s);
  srunner_run_all(r, CK_NORMAL);
  int failed = srunner_ntests_failed(r);
  srunner_free(r);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

#endif
