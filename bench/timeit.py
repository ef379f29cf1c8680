#!/usr/bin/python3
"""timeit.py -- wall times of whole commands, interleaved: round r runs
every command once, in turn, so a slow spell of a shared machine hits all
of them alike.  Prints, per command, "LABEL best median" in seconds.

usage: timeit.py ROUNDS LABEL=COMMAND [LABEL=COMMAND ...]
COMMAND is split like a shell word list (no shell runs); its stdout is
discarded, and a non-zero exit stops everything with the command's stderr.
"""
import shlex
import statistics
import subprocess
import sys
import time


def main(argv):
    if len(argv) < 3:
        sys.exit(__doc__)
    rounds = int(argv[1])
    cmds = []
    for spec in argv[2:]:
        label, _, cmd = spec.partition("=")
        cmds.append((label, shlex.split(cmd)))
    times = {label: [] for label, _ in cmds}
    for _ in range(rounds):
        for label, cmd in cmds:
            t0 = time.perf_counter()
            r = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            t1 = time.perf_counter()
            if r.returncode != 0:
                sys.exit("%s: exit %d\n%s" % (label, r.returncode, r.stderr.decode(errors="replace")))
            times[label].append(t1 - t0)
    for label, _ in cmds:
        print("%s %.5f %.5f" % (label, min(times[label]), statistics.median(times[label])))


if __name__ == "__main__":
    main(sys.argv)
