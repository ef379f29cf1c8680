#!/bin/sh
# run-errors.sh -- every tests/errors/NAME.hnn must fail: its standard error
# must equal tests/errors/NAME.err exactly and its exit status be 1 (or
# NAME.status).  See tests/golden.sh.
. "${srcdir:-.}/tests/golden.sh"
golden errors err 1
