/*
** plotcmd.h — the CSV reader behind `hnn plot`, shared with the plot
** statement (plotstmt.c).
*/
#ifndef HNN_PLOTCMD_H
#define HNN_PLOTCMD_H

#include <stddef.h>

#include "state.h"

typedef struct table {
  char **names;
  int ncols;
  double *d;           /* row-major */
  size_t nrows, cap;
} table;

/* Read a CSV file as hnn writes it (column names from the last '# a,b,c'
** comment before the data).  HNN_OK, or a status with the message as the
** state's error text. */
int plotcmd_read_table(hnn_state *S, const char *path, table *t);
int plotcmd_column(const table *t, const char *name);   /* -1 if absent */
void plotcmd_table_free(table *t);

#endif
