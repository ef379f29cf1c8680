#!/bin/sh
# run-embed.sh -- build examples/embed/embed.c against the uninstalled
# libhnn of this build tree (hnn-uninstalled.pc, found through
# PKG_CONFIG_PATH=$top_builddir) and run it.  It must exit 0; if
# examples/embed/embed.out exists, its standard output must match it.
# The program runs in examples/embed/ of the source tree (read-only).
# Environment (set by 'make check'): srcdir, top_builddir, CC, CFLAGS,
# LDFLAGS, PKG_CONFIG.

srcdir=${srcdir:-.}
top_builddir=${top_builddir:-.}
case $top_builddir in /*) ;; *) top_builddir=`pwd`/$top_builddir ;; esac
CC=${CC:-cc}
PKG_CONFIG=${PKG_CONFIG:-pkg-config}
src=$srcdir/examples/embed/embed.c
exdir=$srcdir/examples/embed

if test ! -f "$src"; then
  echo "FAIL embed (missing $src)"
  exit 1
fi

out=$top_builddir/tests/embed-build
rm -rf "$out"
mkdir -p "$out" || exit 1

PKG_CONFIG_PATH=$top_builddir${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}
export PKG_CONFIG_PATH
if ! flags=`$PKG_CONFIG --cflags hnn` || ! libs=`$PKG_CONFIG --libs hnn`; then
  echo "FAIL embed (pkg-config cannot find hnn-uninstalled.pc in $top_builddir)"
  exit 1
fi
case $flags in */lang*) ;; *)
  echo "FAIL embed (pkg-config did not pick the uninstalled library: $flags)"
  exit 1 ;;
esac

echo "$CC $CFLAGS $flags -o $out/embed $src $LDFLAGS $libs"
# shellcheck disable=SC2086
if ! $CC $CFLAGS $flags -o "$out/embed" "$src" $LDFLAGS $libs; then
  echo "FAIL embed (compile/link)"
  exit 1
fi

(cd "$exdir" && "$out/embed") >"$out/embed.stdout" 2>"$out/embed.stderr"
st=$?
if test "$st" -ne 0; then
  echo "FAIL embed (exit status $st)"
  sed 's/^/  stderr: /' "$out/embed.stderr"
  exit 1
fi
if test -f "$exdir/embed.out"; then
  if ! diff -u "$exdir/embed.out" "$out/embed.stdout"; then
    echo "FAIL embed (stdout differs from embed.out)"
    exit 1
  fi
fi
echo "PASS embed"
exit 0
