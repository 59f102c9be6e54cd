#!/usr/bin/env python3
# libasyncrt - asynchronous task runtime for C
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The sample output of the manual's chapter "Debugging a hung program"
(doc/reference/debugging.xml) and of README.md, made by running the examples, so
that it never goes stale.

    regen-debugging.py --write    run the examples, rewrite the samples in both files
    regen-debugging.py [--check]  run them, compare with both files (TAP; make check)

Each sample is a region of one of the files (TARGETS below):

    <!-- regen: NAME -->
    <screen>...</screen>          (in the chapter; a ``` fenced block in the README)
    <!-- /regen -->

--write replaces the block with the commands of sample NAME (SAMPLES below), each
after "$ ", and what they printed; the commands are run as shown, with sh, in a
scratch directory where ./examples and ./tools are the build tree's, so every line
is real.  Commands that need a running program name it by its pid.

--check (the default) runs the same commands and compares what they print with each
region, line by line after normalising what changes from one run to the next, and
fails on a sample that differs, a sample without a region, or a region that no
sample makes.  Normalised (in both texts): process ids, task ids, counts and every
other number, durations, times and dates, addresses and build ids, and the line and
column numbers of library files (lib/...: other changes move them, and the text
does not discuss them), but NOT those of examples/ (nor of the README's program): a
change to the demo that moves what the chapter shows makes the check fail until the
samples are regenerated.  The order of lines is not compared (tasks are listed by
id, and ids depend on which worker spawned a task), only which lines there are.
Frames in the system's libraries (neither examples/ nor lib/) are left out (libc's
depend on its debugging symbols, sanitizers add their own), and so are "(inlined)"
marks (they depend on the optimisation level), and plurals after a number ("1 poll",
"2 polls").  A sample that differs is run once more, with a fresh run of its
program, before it fails.

A sample marked "native" needs native stacks of running tasks (the stall detector,
ASYNCRT_STALL_MS, and the "native stack:" of a running task): in a ThreadSanitizer
build (SAMPLE_CFLAGS), where the sampling signal stays pending while a thread is in
read(), it is skipped with the reason, in both modes (--write then leaves its region
as it is); anywhere else a dump without them fails the check.  A sample marked "go" needs
`go tool pprof` (Debian's golang-go), and is skipped without it.

Environment: top_srcdir (default: two levels above this script), top_builddir
(default "."), CC and SAMPLE_CFLAGS (to build the README's program, as
tests/check-samples.py does), ASYNCRT_TEST_TIMEOUT_SCALE (scales the waits).
"""

import html
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP_SRCDIR = os.path.abspath(os.environ.get('top_srcdir') or os.path.join(HERE, '..', '..'))
TOP_BUILDDIR = os.path.abspath(os.environ.get('top_builddir') or '.')
# The files with regions, and how a region's block is written: a <screen>, or a fenced
# block of Markdown.
TARGETS = [('doc/reference/debugging.xml', 'xml'), ('README.md', 'md')]
try:
    SCALE = max(1.0, float(os.environ.get('ASYNCRT_TEST_TIMEOUT_SCALE', '1')))
except ValueError:
    SCALE = 1.0
# How long a --serve program runs before it is looked at: "snapshot" takes the lock
# at 200 ms, and every session and client is stuck a little later.
SETTLE = 1.0 * SCALE
COMMAND_TIMEOUT = 60 * SCALE

REGION = re.compile(r'<!-- regen: ([\w-]+) -->\n(.*?)<!-- /regen -->', re.S)


# ---- the samples ------------------------------------------------------------------------
#
# A sample: its name (that of its region), flags, the program it needs running (None,
# or the environment and arguments of examples/demo --serve: the samples that name
# the same program share one run of it), then the commands.  "{pid}" in a command is
# the running program's pid.  A command is a string, or a tuple (command, a Python
# function run before it, not shown: waiting for a file).

def wait_for_file_line(path, text):
    def wait(session):
        deadline = time.monotonic() + 10 * SCALE
        full = os.path.join(session.dir, path.format(pid=session.pid))
        while time.monotonic() < deadline:
            if os.path.exists(full) and text in open(full, encoding='utf-8',
                                                      errors='replace').read():
                return
            time.sleep(0.05)
    return wait


def build_readme_program(session):
    """Writes the README's program that spawns "worker" as prog.c and builds it against
    the library of the build tree, as tests/check-samples.py does."""
    readme = open(os.path.join(TOP_SRCDIR, 'README.md'), encoding='utf-8').read()
    blocks = [b for b in re.findall(r'```c\n(.*?)```', readme, re.S)
              if '"worker"' in b and 'asyncrt_handle_dump' in b]
    if len(blocks) != 1:
        raise RuntimeError('README.md: want one C block that spawns "worker" and dumps it, '
                           'found %d' % len(blocks))
    with open(os.path.join(session.dir, 'prog.c'), 'w', encoding='utf-8') as f:
        f.write(blocks[0])
    libs = os.path.join(TOP_BUILDDIR, '.libs')
    cmd = (os.environ.get('CC', 'cc').split() + ['-std=gnu11', '-g', '-O2', '-pthread']
           + os.environ.get('SAMPLE_CFLAGS', '').split()
           + ['-I' + os.path.join(TOP_SRCDIR, 'include'),
              '-I' + os.path.join(TOP_BUILDDIR, 'include'),
              'prog.c', '-o', 'prog', '-L' + libs, '-lasyncrt', '-Wl,-rpath,' + libs])
    r = subprocess.run(cmd, cwd=session.dir, env=session.env, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=COMMAND_TIMEOUT)
    if r.returncode != 0:
        raise RuntimeError('the README program does not build:\n'
                           + r.stdout.decode('utf-8', errors='replace'))


JSON_HOLDERS = ('python3 -c \'import json; d = json.load(open("dump.json")); '
                'print(json.dumps(d["runtimes"][0]["dump"]["holders"], indent=1))\'')
JSON_TASK = ('python3 -c \'import json; d = json.load(open("dump.json")); '
             't = [t for t in d["runtimes"][0]["dump"]["tasks"] if t["name"] == "snapshot"][0]; '
             'print(json.dumps({k: t[k] for k in ("id", "state", "name", "poll_count", '
             '"idle_ns", "waits", "blocks")}, indent=1))\'')

KV = ('ASYNCRT_DUMP_ENDPOINT=1', '--serve')
SIGNAL = ('ASYNCRT_DUMP_SIGNAL=USR2 ASYNCRT_DUMP_FILE=dump-%p.txt', '--serve')
BLOCKING = ('ASYNCRT_DUMP_ENDPOINT=1', '--blocking --serve')
# name, flags ("start": show the program's start; "quiet": show what the commands
# print, not the commands; "native", "go": what it needs), program, commands
SAMPLES = [
    ('demo', (), None, ['./examples/demo']),
    ('readme-worker', ('quiet',), None, [('./prog', build_readme_program)]),
    ('signal', ('start',), SIGNAL,
     ['kill -USR2 {pid}',
      ('head -n 8 dump-{pid}.txt',
       wait_for_file_line('dump-{pid}.txt', '==== end of asyncrt task dump ===='))]),
    ('no-endpoint', (), SIGNAL, ['./tools/asyncrt-dump {pid}; echo "exit status $?"']),
    ('serve', ('start',), KV, []),
    ('outside', (), KV, ['./tools/asyncrt-dump {pid}']),
    ('list', (), KV, ['./tools/asyncrt-dump --list {pid}']),
    ('watch', (), KV, ['./tools/asyncrt-dump --watch 1 {pid} | head -n 7']),
    ('deadlock', (), None, ['./examples/demo --deadlock']),
    ('join-cycle', (), None, ['./examples/demo --join-cycle']),
    ('stall', ('native',), None, ['ASYNCRT_STALL_MS=100 ./examples/demo --blocking']),
    ('stall-watch', ('start', 'native'), BLOCKING, ['./tools/asyncrt-dump --watch 1 {pid}']),
    ('stall-running', ('native',), BLOCKING, ['./tools/asyncrt-dump --state running {pid}']),
    ('group', (), KV, ['./tools/asyncrt-dump --group {pid}']),
    ('filters', (), KV, ["./tools/asyncrt-dump --name 'disk-*' {pid}",
                         './tools/asyncrt-dump --wait mutex --group {pid}']),
    ('json', (), KV, ['./tools/asyncrt-dump --json {pid} > dump.json', JSON_HOLDERS, JSON_TASK]),
    ('folded', (), KV, ['./tools/asyncrt-dump --folded {pid}',
                        './tools/asyncrt-dump --folded --task-names {pid}']),
    ('pprof', ('go',), KV, ['./tools/asyncrt-dump --pprof tasks.pb.gz {pid}',
                            'go tool pprof -top tasks.pb.gz']),
]


# ---- running them -----------------------------------------------------------------------

class Session:
    """A scratch directory with ./examples and ./tools of the build tree, and at most
    one demo running in it."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix='asyncrt-debugging-')
        for sub in ('examples', 'tools'):
            os.symlink(os.path.join(TOP_BUILDDIR, sub), os.path.join(self.dir, sub))
        self.env = dict(os.environ)
        for var in ('ASYNCRT_DUMP_ENDPOINT', 'ASYNCRT_DUMP_SIGNAL', 'ASYNCRT_DUMP_FILE',
                    'ASYNCRT_STALL_MS', 'ASYNCRT_SAMPLE_SIGNAL', 'ASYNCRT_DUMP_GROUP'):
            self.env.pop(var, None)
        # go tool pprof, offline, with its caches here.
        self.env.update(HOME=self.dir, GOCACHE=os.path.join(self.dir, 'go-cache'),
                        GOPATH=self.dir, GOFLAGS='', GOPROXY='off', GOTOOLCHAIN='local',
                        GOTELEMETRY='off', PPROF_TMPDIR=self.dir, LC_ALL='C.UTF-8')
        self.proc = None
        self.pid = None
        self.started = ''
        self.start_text = ''

    def start(self, program):
        assignments, args = program
        env = dict(self.env)
        for a in assignments.split():
            k, v = a.split('=', 1)
            env[k] = v
        with open(os.path.join(self.dir, 'program.out'), 'w') as out:
            self.proc = subprocess.Popen(['./examples/demo'] + args.split(), cwd=self.dir,
                                         env=env, stdout=out, stderr=subprocess.STDOUT,
                                         start_new_session=True)
        self.pid = self.proc.pid
        deadline = time.monotonic() + 30 * SCALE
        path = os.path.join(self.dir, 'program.out')
        while 'until Ctrl-C' not in open(path, encoding='utf-8').read():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError('./examples/demo %s did not start:\n%s'
                                   % (args, open(path, encoding='utf-8').read()))
            time.sleep(0.05)
        time.sleep(SETTLE)
        self.started = open(path, encoding='utf-8').read()
        shown = (assignments + ' ' if assignments else '') + './examples/demo ' + args
        self.start_text = '$ %s &\n%s' % (shown, self.started)

    def run(self, command, show=True):
        before = None
        if isinstance(command, tuple):
            command, before = command
        if before is not None:
            before(self)
        command = command.replace('{pid}', str(self.pid))
        r = subprocess.run(['sh', '-c', '{ %s\n} 2>&1' % command], cwd=self.dir, env=self.env,
                           stdout=subprocess.PIPE, timeout=COMMAND_TIMEOUT)
        out = r.stdout.decode('utf-8', errors='replace')
        return '$ %s\n%s' % (command, out) if show else out

    def close(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10 * SCALE)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


class Runner:
    """Runs the samples, one session per program: the samples that need the same
    program share one run of it (and show the same pid), in the order of SAMPLES."""

    def __init__(self):
        self.sessions = {}
        self.outputs = {}

    def output(self, name, flags, program, commands):
        if name in self.outputs:
            return self.outputs[name]
        parts = []
        if program is None:
            s = Session()
            try:
                parts = [s.run(c, 'quiet' not in flags) for c in commands]
            finally:
                s.close()
        else:
            s = self.sessions.get(program)
            if s is None:
                s = self.sessions[program] = Session()
                s.start(program)
            if 'start' in flags:
                parts.append(s.start_text)
            parts += [s.run(c, 'quiet' not in flags) for c in commands]
        out = ''.join(p if p.endswith('\n') else p + '\n' for p in parts)
        self.outputs[name] = out
        return out

    def forget(self, sample):
        """Makes the next output() of this sample run it afresh (its program too)."""
        self.outputs.pop(sample[0], None)
        s = self.sessions.pop(sample[2], None)
        if s is not None:
            s.close()

    def close(self):
        for s in self.sessions.values():
            s.close()
        self.sessions = {}

    def missing_features(self):
        """What this build cannot show: {'native': reason, 'go': reason}."""
        missing = {}
        if shutil.which('go') is None:
            missing['go'] = 'go tool pprof is not installed (golang-go)'
        if '-fsanitize=thread' in os.environ.get('SAMPLE_CFLAGS', ''):
            missing['native'] = ('a ThreadSanitizer build: the sampling signal stays '
                                 'pending while a thread is blocked in read()')
        return missing


# ---- comparing them ---------------------------------------------------------------------

def outside(pattern, text, func):
    """Applies func to the parts of text that pattern does not match."""
    out, last = [], 0
    for m in re.finditer(pattern, text):
        out.append(func(text[last:m.start()]))
        out.append(m.group(0))
        last = m.end()
    out.append(func(text[last:]))
    return ''.join(out)


def normalise_line(line):
    line = re.sub(r'[\w./+-]*/((?:examples|lib)/[\w./+-]+\.[ch])', r'\1', line)
    line = re.sub(r'\b(lib/[\w./+-]+\.[ch]):\d+(?::\d+)?', r'\1:L', line)
    line = re.sub(r'\d{4}-\d\d-\d\dT[\d:.]+Z', 'TIME', line)
    line = re.sub(r'^Time: .*', 'Time: TIME', line)
    line = re.sub(r'\b0x[0-9a-fA-F]+\b', 'HEX', line)
    line = re.sub(r'\b[0-9a-f]{16,}\b', 'HEX', line)
    line = re.sub(r'\b\d+(?:\.\d+)? ?(?:ns|µs|us|ms|s)\b', 'DURATION', line)
    line = line.replace(' (inlined)', '').replace(' (inline)', '')
    line = outside(r'(?<![\w/.+-])[\w./+-]+\.[ch]:\d+(?::\d+)?', line,
                   lambda part: re.sub(r'\d+', 'N', part))
    line = re.sub(r'\bN (\w+?)s\b', r'N \1', line)     # "1 poll", "2 polls"
    return ' '.join(line.split())


def stable_lines(text):
    lines = []
    for line in text.split('\n'):
        if (re.match(r'\s*(?:#\d+ |[└├]?╼ )', line)
                and not re.search(r' at (?:(?:\S*/)?(?:examples|lib)/|[\w.+-]+\.c:)', line)):
            continue                          # a frame of the system's libraries
        n = normalise_line(line)
        if n:
            lines.append(n)
    return sorted(lines)


def differences(committed, fresh):
    a, b = stable_lines(committed), stable_lines(fresh)
    if a == b:
        return []
    only_a, only_b = list(a), []
    for line in b:
        if line in only_a:
            only_a.remove(line)
        else:
            only_b.append(line)
    return (['only in the file:     ' + l for l in only_a]
            + ['only in a fresh run:  ' + l for l in only_b])


# ---- the files --------------------------------------------------------------------------

class Target:
    """A file with regions: the chapter (a <screen> each) or the README (a fenced
    block each)."""

    def __init__(self, rel, kind):
        self.rel = rel
        self.path = os.path.join(TOP_SRCDIR, rel)
        self.kind = kind
        self.text = open(self.path, encoding='utf-8').read()
        self.regions = {}
        for m in REGION.finditer(self.text):
            self.regions.setdefault(m.group(1), []).append(m.group(2))

    def render(self, text):
        text = text.rstrip('\n')
        if self.kind == 'xml':
            return '<screen>' + html.escape(text, quote=False) + '</screen>\n'
        return '```\n' + text + '\n```\n'

    def unrender(self, body):
        """The text of a region, or None if it is not one block."""
        if self.kind == 'xml':
            m = re.fullmatch(r'\s*<screen>(.*)</screen>\s*', body, re.S)
            return html.unescape(m.group(1)) if m else None
        m = re.fullmatch(r'\s*```\n(.*?)\n?```\s*', body, re.S)
        return m.group(1) if m else None

    def rewrite(self, made):
        def replace(m):
            if m.group(1) not in made:
                return m.group(0)
            return '<!-- regen: %s -->\n%s<!-- /regen -->' % (m.group(1),
                                                            self.render(made[m.group(1)]))
        new = REGION.sub(replace, self.text)
        if new != self.text:
            with open(self.path, 'w', encoding='utf-8') as f:
                f.write(new)
            print('regen-debugging.py: rewrote %s' % self.path)
        else:
            print('regen-debugging.py: %s is up to date' % self.path)


def main(argv):
    mode = '--check'
    for a in argv[1:]:
        if a in ('--check', '--write'):
            mode = a
        elif a in ('-h', '--help'):
            print(__doc__)
            return 0
        else:
            print('regen-debugging.py: unknown argument %r (--check or --write)' % a,
                  file=sys.stderr)
            return 2
    for prog in ('examples/demo', 'tools/asyncrt-dump'):
        if not os.access(os.path.join(TOP_BUILDDIR, prog), os.X_OK):
            print('regen-debugging.py: %s is not built in %s (run make first)'
                  % (prog, TOP_BUILDDIR), file=sys.stderr)
            return 2 if mode == '--write' else 99
    targets = [Target(rel, kind) for rel, kind in TARGETS]
    runner = Runner()
    try:
        return run(mode, targets, runner)
    finally:
        runner.close()


def run(mode, targets, runner):
    names = [s[0] for s in SAMPLES]
    missing = runner.missing_features()
    if mode == '--write':
        made = {}
        status = 0
        for sample in SAMPLES:
            name, flags = sample[0], sample[1]
            if not any(name in t.regions for t in targets):
                print('regen-debugging.py: no file has a region for %s' % name,
                      file=sys.stderr)
                status = 1
            why = [missing[f] for f in flags if f in missing]
            if why:
                print('regen-debugging.py: %s left as it is: %s' % (name, why[0]))
                continue
            made[name] = runner.output(*sample)
            if not made[name].strip():
                print('regen-debugging.py: %s printed nothing' % name, file=sys.stderr)
                return 1
        for t in targets:
            t.rewrite(made)
        return status

    # --check: TAP, one test per sample (all its regions), one for stray regions.
    extra = ['%s: %s' % (t.rel, r) for t in targets for r in t.regions if r not in names]
    print('1..%d' % (len(SAMPLES) + 1))
    n = 0
    failed = False
    for sample in SAMPLES:
        name, flags = sample[0], sample[1]
        n += 1
        why = [missing[f] for f in flags if f in missing]
        committed = [(t.rel, t.unrender(body)) for t in targets
                     for body in t.regions.get(name, [])]
        if not committed or any(text is None for _, text in committed):
            print('not ok %d - %s: no <!-- regen: %s --> region holding one block in %s'
                  % (n, name, name, ' or '.join(t.rel for t in targets)))
            failed = True
            continue
        if why:
            print('ok %d - %s # SKIP %s' % (n, name, why[0]))
            continue
        try:
            fresh = runner.output(*sample)
        except (RuntimeError, OSError, subprocess.SubprocessError) as e:
            print('not ok %d - %s: could not be run' % (n, name))
            for line in str(e).split('\n'):
                print('#   ' + line)
            failed = True
            runner.forget(sample)
            continue

        def diffs():
            out = []
            for rel, text in committed:
                d = differences(text, fresh)
                if not d and not (text.strip() and fresh.strip()):
                    d = ['an empty sample']
                out += ['%s: %s' % (rel, line) for line in d]
            return out
        diff = diffs()
        if diff:
            # Once more, on a fresh run of its program: a loaded machine (a sanitizer
            # build, a parallel make check) can catch a program before it settles.
            print('# %s differs, running it again' % name)
            runner.forget(sample)
            try:
                fresh = runner.output(*sample)
            except (RuntimeError, OSError, subprocess.SubprocessError) as e:
                fresh = 'could not be run again: %s\n' % e
            diff = diffs()
        if diff:
            print('not ok %d - %s: the sample is out of date' % (n, name))
            for line in diff:
                print('#   ' + line)
            print('#   a fresh run printed:')
            for line in fresh.rstrip('\n').split('\n'):
                print('#     ' + line)
            failed = True
        else:
            print('ok %d - %s' % (n, name))
    n += 1
    if extra:
        print('not ok %d - regions that no sample makes: %s' % (n, ', '.join(extra)))
        failed = True
    else:
        print('ok %d - every region is made by a sample' % n)
    if failed:
        print('# to regenerate the samples: make regen-debugging (in the build tree), '
              'then review and commit the files it rewrote')
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
