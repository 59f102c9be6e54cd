#!/usr/bin/env python3
# libasyncrt - asynchronous task runtime for C
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Check the generated HTML reference: links, literal markdown, highlighting errors.

Usage: check-html.py HTML_DIR

- Links: every href and src of every .html file in HTML_DIR, and every link of its
  .devhelp2 index, must name a file that exists inside HTML_DIR and, when it has a
  #fragment, an element of that file with that id (or an <a name=...>).  Links with
  a URL scheme (http:, https:, mailto:, ...) are not followed.  A link that leaves
  HTML_DIR (into another module's manual) counts as broken: this manual links to no
  other.
- Reachability: every page must be reachable from index.html by following links (a
  page that nothing links to, e.g. a chapter included at the wrong level, is lost).
- Literal markdown: gtk-doc understands only part of markdown; *emphasis* and
  **strong** come out with their asterisks.  Prose (text outside <pre> and <code>)
  must not contain them: write <emphasis>...</emphasis> in doc comments.
- Highlighting errors: gtk-doc highlights every |[ ]| block as C unless it says
  <!-- language="plain" -->; what the C lexer cannot read (box-drawing characters of
  a dump, an ellipsis) is wrapped in <span class="err"> and drawn as an error box.

Exits 0 when all is well, 1 otherwise (printing each problem as "file:line: ..."),
2 on a usage error.
"""

import html.parser
import os
import re
import sys
import urllib.parse
import xml.etree.ElementTree as ET

SCHEME = re.compile(r'^[A-Za-z][A-Za-z0-9+.-]*:')
# *word ...* or **word ...**, between spaces or punctuation.
MARKDOWN = re.compile(r'(?:^|[\s(])(\*{1,2})[A-Za-z][^*\n]*?[A-Za-z.!?]\1(?=$|[\s).,;:!?])')


class Page(html.parser.HTMLParser):
    """The anchors a page defines and the links it makes."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.anchors = set()
        self.links = []          # (line, url)
        self.problems = []       # (line, message)
        self.verbatim = 0        # depth of <pre>/<code> elements
        self.prose = []          # (line, text) outside <pre> and <code>

    def handle_starttag(self, tag, attrs):
        if tag in ('pre', 'code'):
            self.verbatim += 1
        if tag == 'span' and ('class', 'err') in attrs:
            self.problems.append((self.getpos()[0], 'text the C highlighter could not '
                                  'read (a listing that is not C must say '
                                  '<!-- language="plain" -->)'))
        for name, value in attrs:
            if value is None:
                continue
            if name == 'id' or (name == 'name' and tag == 'a'):
                self.anchors.add(value)
            elif name == 'href' or (name == 'src' and tag in ('img', 'script', 'iframe')):
                self.links.append((self.getpos()[0], value))

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag in ('pre', 'code'):
            self.verbatim -= 1

    def handle_endtag(self, tag):
        if tag in ('pre', 'code') and self.verbatim > 0:
            self.verbatim -= 1

    def handle_data(self, data):
        if not self.verbatim:
            self.prose.append((self.getpos()[0], data))

    def close(self):
        super().close()
        for line, text in self.prose:
            for m in MARKDOWN.finditer(text):
                self.problems.append((line, 'literal markdown %s (gtk-doc does not '
                                      'render it: use <emphasis>)' % m.group(0).strip()))


def parse(path):
    page = Page()
    with open(path, encoding='utf-8') as f:
        page.feed(f.read())
    page.close()
    return page


def devhelp_links(path):
    """The link attributes of a devhelp2 index (line numbers are not kept by ET)."""
    links = []
    for elem in ET.parse(path).iter():
        link = elem.get('link')
        if link is not None:
            links.append((0, link))
    return links


def main(argv):
    if len(argv) != 2 or not os.path.isdir(argv[1]):
        sys.stderr.write('usage: check-html.py HTML_DIR\n')
        return 2
    root = os.path.realpath(argv[1])
    pages = {}
    sources = []
    problems = 0
    for name in sorted(os.listdir(root)):
        path = os.path.join(root, name)
        if name.endswith('.html'):
            pages[path] = parse(path)
            sources.append((path, pages[path].links))
            for line, message in pages[path].problems:
                print('%s:%d: %s' % (os.path.relpath(path), line, message))
                problems += 1
        elif name.endswith('.devhelp2'):
            sources.append((path, devhelp_links(path)))
    if not pages:
        sys.stderr.write('check-html.py: no .html file in %s\n' % root)
        return 1

    broken = 0
    checked = 0
    for path, links in sources:
        here = os.path.dirname(path)
        for line, url in links:
            if SCHEME.match(url):
                continue
            checked += 1
            target, _, fragment = url.partition('#')
            target = urllib.parse.unquote(target)
            fragment = urllib.parse.unquote(fragment)
            dest = os.path.realpath(os.path.join(here, target)) if target else path
            reason = None
            if os.path.commonpath([root, dest]) != root:
                reason = 'outside the manual'
            elif not os.path.exists(dest):
                reason = 'no such file'
            elif fragment:
                if dest not in pages and dest.endswith('.html'):
                    pages[dest] = parse(dest)
                page = pages.get(dest)
                if page is None:
                    reason = 'fragment into a file that is not HTML'
                elif fragment not in page.anchors:
                    reason = 'no anchor "%s" in %s' % (fragment, os.path.basename(dest))
            if reason:
                broken += 1
                print('%s:%d: broken link: %s (%s)' % (os.path.relpath(path), line, url, reason))
    # Reachability from index.html, over the links of the pages.
    index = os.path.join(root, 'index.html')
    seen, todo = set(), [index] if index in pages else []
    while todo:
        page = todo.pop()
        if page in seen:
            continue
        seen.add(page)
        here = os.path.dirname(page)
        for _, url in pages[page].links:
            target = urllib.parse.unquote(url.partition('#')[0])
            if target and not SCHEME.match(url):
                dest = os.path.realpath(os.path.join(here, target))
                if dest in pages:
                    todo.append(dest)
    for page in sorted(set(p for p in pages if p.endswith('.html')) - seen):
        print('%s: not reachable from index.html' % os.path.relpath(page))
        problems += 1

    print('check-html: %d links checked in %d files, %d broken; %d other problems'
          % (checked, len(sources), broken, problems))
    return 1 if broken or problems else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
