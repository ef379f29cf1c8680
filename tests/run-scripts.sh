#!/bin/sh
# run-scripts.sh -- every tests/scripts/NAME.hnn must write tests/scripts/NAME.out
# on standard output and exit 0 (or NAME.status).  See tests/golden.sh.
. "${srcdir:-.}/tests/golden.sh"
golden scripts out 0
