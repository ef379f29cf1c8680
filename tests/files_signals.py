#!/usr/bin/env python3
# files_signals.py HNN DIR — run by tests/run-files.sh: real signals sent to
# hnn runs (lang/cli.c, the engines' interrupt checks) and Ctrl-C typed into
# the REPL through a pseudo-terminal (lang/repl.c).  Each case waits for an
# observable event (a temporary output file, a printed line, the progress
# line), never for a fixed time; timeouts only catch hangs.  Prints
# PASS/FAIL per case; exit status 1 if any failed.

import os
import pty
import select
import signal
import subprocess
import sys
import time

HNN, WORK = sys.argv[1], sys.argv[2]
HANG = 60                     # seconds before a case counts as hung
failures = 0

# children must see SIGINT at its default even if this process ignores it
# (a background job of a non-interactive shell)
signal.signal(signal.SIGINT, signal.SIG_DFL)


def check(name, ok, detail=''):
    global failures
    print(('PASS ' if ok else 'FAIL ') + name + ('' if ok or not detail else ': ' + detail))
    failures += not ok


def temps():
    return sorted(f for f in os.listdir(WORK) if '.tmp.' in f)


def write(name, text):
    with open(os.path.join(WORK, name), 'w') as f:
        f.write(text)


def read(name):
    try:
        with open(os.path.join(WORK, name)) as f:
            return f.read()
    except FileNotFoundError:
        return None


def wait_for(cond):
    end = time.monotonic() + HANG
    while not cond():
        if time.monotonic() > end:
            return False
        time.sleep(0.01)
    return True


PROBLEM = ('objective f(x[2]) = (x[1] - 1)^2 + (x[2] - 1)^2\n'
           'flow gd = gradient(f)\n'
           'flow dd = gradient_descent(f, step = 1e-9)\n'
           'metric E = euclidean\n'
           'flow ou = diffusion(f, E, T = 0.5)\n')
RUNS = {
    'ode': 'run gd from [0, 0] until 1e9 method rk4 h 1e-3 -> "out.csv"\n',
    'descent': 'run dd from [0, 0] steps 1e14 -> "out.csv"\n',
    'particles': 'run ou from normal([1, -1], [0.1, 0.2]) particles 1000 h 1e-3 steps 1e12 -> "out.csv"\n',
}


def signal_run(name, kind, sigs, expect):
    """Start a long run, wait for its temporary file, send sigs; it must die
    of `expect`, say where it stopped, leave no temporary file, leave
    out.csv (and the monitor file) as they were, and run nothing after."""
    write('out.csv', 'old\n')
    write('out_monitor.csv', 'old monitor\n')
    write('sig.hnn', PROBLEM + 'print 1\n' + RUNS[kind] + 'print 2\n')
    p = subprocess.Popen([HNN, 'sig.hnn'], cwd=WORK, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    started = wait_for(lambda: temps() != [] or p.poll() is not None)
    for s in sigs:
        p.send_signal(s)
    try:
        out, err = p.communicate(timeout=HANG)
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
    err = err.decode(errors='replace')
    ok = (started and p.returncode == -expect and 'interrupted' in err and out == b'1\n'
          and temps() == [] and read('out.csv') == 'old\n' and read('out_monitor.csv') == 'old monitor\n')
    check(name, ok, 'status %s, stdout %r, temporaries %s, out.csv %r, stderr %s'
          % (p.returncode, out, temps(), read('out.csv'), err.strip()))


signal_run('sigterm-ode-run', 'ode', [signal.SIGTERM], signal.SIGTERM)
signal_run('sigint-ode-run', 'ode', [signal.SIGINT], signal.SIGINT)
signal_run('sigterm-descent-run', 'descent', [signal.SIGTERM], signal.SIGTERM)
signal_run('sigint-particle-run', 'particles', [signal.SIGINT], signal.SIGINT)
# a second signal while the first one's cleanup runs changes nothing
signal_run('two-signals', 'ode', [signal.SIGTERM, signal.SIGTERM], signal.SIGTERM)

# a signal ignored at startup (nohup) stays ignored: SIGHUP in SigIgn, not
# in SigCgt (the caught ones), once the run has started
def sigmask(pid, field):
    with open('/proc/%d/status' % pid) as f:
        for line in f:
            if line.startswith(field + ':'):
                return int(line.split()[1], 16)
    return None


write('sig.hnn', PROBLEM + 'print 1\n' + RUNS['ode'])
p = subprocess.Popen([HNN, 'sig.hnn'], cwd=WORK, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                     preexec_fn=lambda: signal.signal(signal.SIGHUP, signal.SIG_IGN))
started = wait_for(lambda: temps() != [] or p.poll() is not None)
if os.path.exists('/proc/%d/status' % p.pid):
    ign, cgt = sigmask(p.pid, 'SigIgn'), sigmask(p.pid, 'SigCgt')
    hup, term = 1 << (signal.SIGHUP - 1), 1 << (signal.SIGTERM - 1)
    check('sighup-ignored-stays-ignored', started and ign & hup and not cgt & hup and cgt & term,
          'SigIgn %x SigCgt %x' % (ign, cgt))
p.send_signal(signal.SIGTERM)
p.communicate(timeout=HANG)
check('sigterm-after-ignored-sighup', p.returncode == -signal.SIGTERM, 'status %s' % p.returncode)

# a run blocked opening a FIFO nobody reads is interrupted too
fifo = os.path.join(WORK, 'fifo')
os.mkfifo(fifo)
write('sig.hnn', PROBLEM + 'print 1\nrun gd from [0, 0] until 1 -> "fifo"\n')
p = subprocess.Popen([HNN, 'sig.hnn'], cwd=WORK, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
r, _, _ = select.select([p.stdout], [], [], HANG)
line = p.stdout.readline() if r else b''
p.send_signal(signal.SIGTERM)
try:
    p.communicate(timeout=HANG)
except subprocess.TimeoutExpired:
    p.kill()
    p.communicate()
check('sigterm-blocked-fifo', line == b'1\n' and p.returncode == -signal.SIGTERM, 'status %s' % p.returncode)
os.unlink(fifo)


# ---- the REPL through a pseudo-terminal ------------------------------------

class Session:
    def __init__(self):
        self.pid, self.fd = pty.fork()
        if self.pid == 0:
            os.chdir(WORK)
            os.environ['TERM'] = 'dumb'
            os.environ['HNN_HISTORY'] = os.path.join(WORK, 'history')
            os.execv(HNN, [HNN])
        self.buf, self.pos = b'', 0

    def expect(self, what):
        what = what.encode()
        end = time.monotonic() + HANG
        while True:
            i = self.buf.find(what, self.pos)
            if i >= 0:
                self.pos = i + len(what)
                return True
            left = end - time.monotonic()
            r = select.select([self.fd], [], [], left)[0] if left > 0 else []
            data = b''
            if r:
                try:
                    data = os.read(self.fd, 4096)
                except OSError:
                    pass
            if not data:
                return False
            self.buf += data

    def send(self, text):
        os.write(self.fd, text.encode())

    def start(self):
        ok = self.expect('hnn> ')
        for line in (PROBLEM + 'param a = 2\n').splitlines():
            self.send(line + '\n')
            ok = ok and self.expect('hnn> ')
        return ok

    def wait(self):
        while select.select([self.fd], [], [], HANG)[0]:
            try:
                data = os.read(self.fd, 4096)
            except OSError:
                break
            if not data:
                break
            self.buf += data
        st = os.waitpid(self.pid, 0)[1]
        os.close(self.fd)
        return st

    def tail(self):
        return repr(self.buf[-400:].decode(errors='replace'))


LONG = 'run gd from [0, 0] until 1e9 method rk4 h 1e-3 -> "repl.csv"\n'

# Ctrl-C at the prompt abandons the line, during a run stops the run; the
# session and its definitions survive both
s = Session()
check('repl-start', s.start(), s.tail())
s.send('print a +')
ok = s.expect('print a +')   # echoed: readline has the line
s.send('\x03')
check('repl-ctrl-c-abandons-line', ok and s.expect('^C') and s.expect('hnn> '), s.tail())
s.send('print 10*a\n')
check('repl-state-after-ctrl-c-line', s.expect('20\r\n') and s.expect('hnn> '), s.tail())
s.send(LONG)
ok = s.expect('hnn: run gd')   # the progress line: the run is running
s.send('\x03')
check('repl-ctrl-c-stops-run', ok and s.expect('interrupted at t = ') and s.expect('hnn> '), s.tail())
check('repl-ctrl-c-run-no-files', temps() == [] and read('repl.csv') is None, str(temps()))
s.send('print 100*a\n')
check('repl-state-after-ctrl-c-run', s.expect('200\r\n') and s.expect('hnn> '), s.tail())
s.send('\x04')
st = s.wait()
check('repl-exit-after-ctrl-c', os.WIFEXITED(st) and os.WEXITSTATUS(st) == 1, s.tail())

# SIGTERM ends the session, during a run (leaving no file) or at the prompt
s = Session()
ok = s.start()
s.send(LONG)
ok = ok and s.expect('hnn: run gd')
os.kill(s.pid, signal.SIGTERM)
st = s.wait()
check('repl-sigterm-run', ok and os.WIFSIGNALED(st) and os.WTERMSIG(st) == signal.SIGTERM, s.tail())
check('repl-sigterm-run-no-files', temps() == [] and read('repl.csv') is None, str(temps()))
s = Session()
ok = s.expect('hnn> ')
os.kill(s.pid, signal.SIGTERM)
st = s.wait()
check('repl-sigterm-prompt', ok and os.WIFSIGNALED(st) and os.WTERMSIG(st) == signal.SIGTERM, s.tail())

sys.exit(1 if failures else 0)
