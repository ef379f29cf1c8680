/*
** parse.h — the one entry point of the front end, and the state that the
** reentrant lexer (lexer.l) and the pure parser (parser.y) share.
*/
#ifndef HNN_PARSE_H
#define HNN_PARSE_H

#include <setjmp.h>

#include "ast.h"
#include "diag.h"

typedef struct parse_ctx {
  hnn_src *src;
  diag_list *diags;
  ast **stmts;
  int nstmts, capstmts;
  int incomplete;       /* an error at end of input: the REPL reads another line */
  /* lexer state */
  int depth;            /* open ( and [ : newlines inside brackets are spaces */
  int last;             /* last token returned (0 at start) */
  int at_eof;
  int line, col;
  jmp_buf fatal;        /* flex's fatal errors land here instead of exit() */
} parse_ctx;

/* Parse a whole source unit into statements.  Returns the number of errors
** (reported to diags); on error no statements are returned. */
int hnn_parse(hnn_src *src, diag_list *diags, ast ***stmts, int *nstmts, int *incomplete);

#endif
