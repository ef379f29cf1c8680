#!/usr/bin/python3
"""timeit.py -- wall times of whole commands, interleaved: round r runs
every command once, in turn, so a slow spell of a shared machine hits all
of them alike.  Prints, per command, "LABEL best median best-cpu" in
seconds (wall: best and median; user + system CPU time: best).

usage: timeit.py ROUNDS LABEL=COMMAND|@FILE ...   (FILE: one LABEL=COMMAND a line)
COMMAND is split like a shell word list (no shell runs); its stdout is
discarded, and a non-zero exit stops everything with the command's stderr.
"""
import os
import shlex
import statistics
import subprocess
import sys
import time


def main(argv):
    if len(argv) < 3:
        sys.exit(__doc__)
    rounds = int(argv[1])
    specs = []
    for arg in argv[2:]:
        if arg.startswith("@"):
            with open(arg[1:]) as f:
                specs += [line.strip() for line in f if line.strip()]
        else:
            specs.append(arg)
    cmds = []
    for spec in specs:
        label, _, cmd = spec.partition("=")
        cmds.append((label, shlex.split(cmd)))
    times = {label: [] for label, _ in cmds}
    cpu = {label: [] for label, _ in cmds}
    for _ in range(rounds):
        for label, cmd in cmds:
            t0 = time.perf_counter()
            p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            err = p.stderr.read()
            _, status, ru = os.wait4(p.pid, 0)
            t1 = time.perf_counter()
            p.returncode = os.waitstatus_to_exitcode(status)
            if p.returncode != 0:
                sys.exit("%s: exit %d\n%s" % (label, p.returncode, err.decode(errors="replace")))
            times[label].append(t1 - t0)
            cpu[label].append(ru.ru_utime + ru.ru_stime)
    for label, _ in cmds:
        print("%s %.5f %.5f %.5f" % (label, min(times[label]), statistics.median(times[label]), min(cpu[label])))


if __name__ == "__main__":
    main(sys.argv)
