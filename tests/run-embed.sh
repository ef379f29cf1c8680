#!/bin/sh
# run-embed.sh -- build examples/embed/embed.c against the uninstalled
# libhnn of this build tree (hnn-uninstalled.pc, found through
# PKG_CONFIG_PATH=$top_builddir) and run it.  It must exit 0; if
# examples/embed/embed.out exists, its standard output must match it.
# Then the same through examples/embed/Makefile, as README.md says.
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

# The example's own Makefile, as README.md tells readers to use it: from
# the build tree, with no PKG_CONFIG_PATH and no 'make install'.  In an
# in-tree build its default finds the tree; a VPATH build names it.
top_srcdir=${top_srcdir:-`cd "$srcdir" && pwd`}
mkdir -p "$out/mk" || exit 1
hb=
test "$top_srcdir" -ef "$top_builddir" || hb="HNN_BUILD=$top_builddir"
if ! (cd "$out/mk" && env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u PKG_CONFIG_PATH \
        make -f "$top_srcdir/examples/embed/Makefile" $hb check) >"$out/mk.log" 2>&1; then
  echo "FAIL embed (examples/embed/Makefile ${hb:-without HNN_BUILD}):"
  sed 's/^/  /' "$out/mk.log"
  exit 1
fi
echo "PASS embed"
exit 0
