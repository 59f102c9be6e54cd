#!/usr/bin/env python3
# libasyncrt - asynchronous task runtime for C
# SPDX-License-Identifier: LGPL-2.1-or-later
"""TAP test: every C sample of the README and of the reference manual compiles with
-Wall -Wextra -Werror, and every complete program among them runs and exits 0.

Where the samples are found (paths relative to $top_srcdir):
- README.md: fenced blocks opened with ```c;
- include/asyncrt/*.h, *.h.in and lib/**/*.c: doc-comment blocks opened with
  |[<!-- language="C" -->;
- doc/reference/*.xml: <programlisting language="C"> elements (with CDATA).

How each is built is its KIND, written in a comment just before the sample (README,
XML: <!-- sample: KIND -->) or on the opening line of a doc-comment block after the
language (|[<!-- language="C" --><!-- sample: KIND -->; gtk-doc ignores the rest of
that line):
- program: a complete program.  Compiled, linked against the library just built, and
  run; it must exit 0 within 60 s (times ASYNCRT_TEST_TIMEOUT_SCALE).  The default
  for a sample that defines main().
- unit: declarations and function definitions.  Compiled as a file after
  <asyncrt/asyncrt.h> and the usual C headers (errno, fcntl, stdbool, stdint, stdio,
  stdlib, string, unistd), with -Wno-unused-function.  The default otherwise.
- body: statements.  Compiled as the body of
  `static AsyncrtPoll sample (AsyncrtRuntime *rt, void *p, AsyncrtContext *cx)`,
  after the same headers: they may use rt, p and cx.
- ignore REASON: not compiled; the reason is required (e.g. the sample shows a
  mistake on purpose).

A doc-comment block without a language is an error too: gtk-doc highlights it as C,
so output (a dump, JSON) must say <!-- language="plain" -->.  The same goes for an
XML <programlisting> that does not say language="C": use <screen> for output.

Environment: top_srcdir, top_builddir (default "."), CC (default cc), SAMPLE_CFLAGS
(extra flags for compiling and linking, e.g. the sanitizer flags of the build),
ASYNCRT_TEST_TIMEOUT_SCALE.
"""

import glob
import html
import os
import re
import subprocess
import sys
import tempfile

PRELUDE = """#include <asyncrt/asyncrt.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
"""
WARNINGS = ['-Wall', '-Wextra', '-Werror']
KINDS = ('program', 'unit', 'body', 'ignore')
MARKER = re.compile(r'<!--\s*sample:\s*(\w+)\s*(.*?)\s*-->', re.S)


class Sample:
    def __init__(self, path, line, code, marker):
        self.path = path          # relative to top_srcdir
        self.line = line          # line of the sample's first code line
        self.code = code
        self.kind = None
        self.reason = ''
        self.error = None
        if marker:
            m = MARKER.search(marker)
            if m is None:
                self.error = 'unreadable sample marker %r' % marker.strip()
                return
            self.kind, self.reason = m.group(1), ' '.join(m.group(2).split())
            if self.kind not in KINDS:
                self.error = 'unknown sample kind "%s" (want one of %s)' % (
                    self.kind, ', '.join(KINDS))
            elif self.kind == 'ignore' and not self.reason:
                self.error = '"sample: ignore" needs a reason'
        else:
            self.kind = 'program' if re.search(r'\bmain\s*\(', code) else 'unit'

    def name(self):
        return '%s:%d' % (self.path, self.line)


def readme_samples(top, rel):
    samples = []
    lines = open(os.path.join(top, rel), encoding='utf-8').read().split('\n')
    i = 0
    while i < len(lines):
        if lines[i].strip() == '```c':
            start = i + 1
            j = start
            while j < len(lines) and lines[j].strip() != '```':
                j += 1
            marker = None
            k = i - 1
            while k >= 0 and lines[k].strip() == '':
                k -= 1
            if k >= 0 and lines[k].strip().startswith('<!--') and 'sample:' in lines[k]:
                marker = lines[k]
            samples.append(Sample(rel, start + 1, '\n'.join(lines[start:j]) + '\n', marker))
            i = j
        i += 1
    return samples


OPENER = re.compile(r'^\s*\*?\s?\|\[(?:<!--\s*language="([^"]+)"\s*-->)?(.*)$')


def comment_samples(top, rel, problems):
    samples = []
    lines = open(os.path.join(top, rel), encoding='utf-8').read().split('\n')
    i = 0
    while i < len(lines):
        m = OPENER.match(lines[i])
        if m and '|[' in lines[i]:
            language, rest = m.group(1), m.group(2)
            start = i + 1
            j = start
            while j < len(lines) and ']|' not in lines[j]:
                j += 1
            body = [re.sub(r'^\s*\* ?', '', l, count=1) if re.match(r'^\s*\*', l) else l
                    for l in lines[start:j]]
            if language is None:
                problems.append('%s:%d: a |[ block without a language is highlighted as C: '
                                'say <!-- language="C" --> or <!-- language="plain" -->'
                                % (rel, i + 1))
            elif language.lower() == 'c':
                samples.append(Sample(rel, start + 1, '\n'.join(body) + '\n',
                                      rest if 'sample:' in rest else None))
            i = j
        i += 1
    return samples


LISTING = re.compile(r'(<!--(?:(?!-->).)*?sample:(?:(?!-->).)*-->\s*)?'
                     r'(?:<informalexample>\s*)?<programlisting([^>]*)>(.*?)</programlisting>',
                     re.S)


def xml_samples(top, rel, problems):
    samples = []
    text = open(os.path.join(top, rel), encoding='utf-8').read()
    for m in LISTING.finditer(text):
        attrs, content = m.group(2), m.group(3)
        line = text.count('\n', 0, m.start(3)) + 1
        if not re.search(r'language="[Cc]"', attrs):
            problems.append('%s:%d: a <programlisting> that is not C is highlighted as C: '
                            'use <screen> for output' % (rel, line))
            continue
        cdata = re.match(r'\s*<!\[CDATA\[(.*)\]\]>\s*$', content, re.S)
        if cdata:
            code = cdata.group(1)
            line += content[:content.index('<![CDATA[')].count('\n')
        else:
            code = html.unescape(re.sub(r'<[^>]+>', '', content))
        if code.startswith('\n'):
            code = code[1:]
            line += 1
        samples.append(Sample(rel, line, code, m.group(1)))
    return samples


def find_samples(top, problems):
    samples = readme_samples(top, 'README.md')
    sources = sorted(glob.glob(os.path.join(top, 'include', 'asyncrt', '*.h')) +
                     glob.glob(os.path.join(top, 'include', 'asyncrt', '*.h.in')) +
                     glob.glob(os.path.join(top, 'lib', '**', '*.c'), recursive=True))
    for path in sources:
        samples += comment_samples(top, os.path.relpath(path, top), problems)
    for path in sorted(glob.glob(os.path.join(top, 'doc', 'reference', '*.xml'))):
        samples += xml_samples(top, os.path.relpath(path, top), problems)
    return samples


def source_for(sample, top):
    where = '#line %d "%s"\n' % (sample.line, os.path.join(top, sample.path))
    if sample.kind == 'program':
        return where + sample.code
    if sample.kind == 'unit':
        return PRELUDE + where + sample.code
    return (PRELUDE + 'static AsyncrtPoll sample (AsyncrtRuntime *rt, void *p, '
            'AsyncrtContext *cx);\n'
            'static AsyncrtPoll\nsample (AsyncrtRuntime *rt, void *p, AsyncrtContext *cx)\n'
            '{\n  (void) rt;\n  (void) p;\n  (void) cx;\n' + where + sample.code +
            '#line 1 "sample-wrapper"\n  return ASYNCRT_READY;\n}\n')


def run(cmd, timeout=None):
    try:
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=timeout)
        return p.returncode, p.stdout.decode('utf-8', 'replace')
    except subprocess.TimeoutExpired as e:
        out = (e.stdout or b'').decode('utf-8', 'replace')
        return None, out + '\n(killed after %d s)' % timeout


def main():
    top = os.path.abspath(os.environ.get('top_srcdir', '.'))
    build = os.path.abspath(os.environ.get('top_builddir', '.'))
    cc = os.environ.get('CC', 'cc').split()
    extra = os.environ.get('SAMPLE_CFLAGS', '').split()
    try:
        scale = max(1, int(os.environ.get('ASYNCRT_TEST_TIMEOUT_SCALE', '1')))
    except ValueError:
        scale = 1
    problems = []
    samples = find_samples(top, problems)
    print('1..%d' % (len(samples) + 1))
    n = 0
    failed = False
    with tempfile.TemporaryDirectory() as tmp:
        for s in samples:
            n += 1
            if s.error:
                print('not ok %d - %s: %s' % (n, s.name(), s.error))
                failed = True
                continue
            if s.kind == 'ignore':
                print('ok %d - %s # SKIP not compiled: %s' % (n, s.name(), s.reason))
                continue
            src = os.path.join(tmp, 'sample%d.c' % n)
            with open(src, 'w', encoding='utf-8') as f:
                f.write(source_for(s, top))
            flags = ['-std=gnu11', '-O2', '-g'] + WARNINGS + [
                '-I' + os.path.join(top, 'include'), '-I' + os.path.join(build, 'include')]
            if s.kind != 'program':
                flags.append('-Wno-unused-function')
                cmd = cc + flags + extra + ['-c', src, '-o', src + '.o']
            else:
                libs = os.path.join(build, '.libs')
                cmd = cc + flags + extra + ['-pthread', src, '-o', src + '.exe',
                                            '-L' + libs, '-lasyncrt', '-Wl,-rpath,' + libs]
            code, out = run(cmd)
            if code != 0:
                print('not ok %d - %s (%s) does not compile' % (n, s.name(), s.kind))
                print('\n'.join('#   ' + l for l in (' '.join(cmd) + '\n' + out).splitlines()))
                failed = True
                continue
            if s.kind != 'program':
                print('ok %d - %s (%s) compiles' % (n, s.name(), s.kind))
                continue
            code, out = run([src + '.exe'], timeout=60 * scale)
            if code != 0:
                print('not ok %d - %s (program) exits with %s' % (n, s.name(), code))
                print('\n'.join('#   ' + l for l in out.splitlines()))
                failed = True
            else:
                print('ok %d - %s (program) compiles and runs' % (n, s.name()))
    n += 1
    if problems:
        print('not ok %d - every listing says its language' % n)
        for p in problems:
            print('#   ' + p)
        failed = True
    else:
        print('ok %d - every listing says its language' % n)
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
