# need.sh -- sourced by the bench scripts: the tools a script runs that a
# fresh Debian machine may lack.  As root with apt-get it installs the
# missing packages (as ./bootstrap does for the build); otherwise it names
# them and stops the script with exit status 2.

# need WHAT TEST PACKAGE...: TEST is a shell command that succeeds when WHAT
# is there; PACKAGE... are the Debian packages that provide it.
need() {
  need_what=$1 need_test=$2
  shift 2
  sh -c "$need_test" >/dev/null 2>&1 && return 0
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "$0: $need_what is missing; installing $* (apt-get)" >&2
    DEBIAN_FRONTEND=noninteractive
    export DEBIAN_FRONTEND
    { apt-get install -y --no-install-recommends "$@" ||
      { apt-get update && apt-get install -y --no-install-recommends "$@"; }; } >&2
    sh -c "$need_test" >/dev/null 2>&1 && return 0
  fi
  echo "$0: needs $need_what: as root, apt-get install $*" >&2
  exit 2
}

# need_built TOP FILE...: the files of a built tree (make) that a script uses.
need_built() {
  need_top=$1
  shift
  for need_f in "$@"; do
    [ -e "$need_top/$need_f" ] && continue
    echo "$0: needs a built hnn tree: no $need_top/$need_f (run ./bootstrap, or make, there)" >&2
    exit 2
  done
}
