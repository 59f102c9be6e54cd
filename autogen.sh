#!/bin/sh
# Regenerate the build system.  gtkdocize runs even when docs are disabled, so that
# gtk-doc.make exists for automake.
set -e
srcdir=$(dirname "$0")
test -n "$srcdir" || srcdir=.
cd "$srcdir"
gtkdocize --copy --flavour no-tmpl
autoreconf --force --install --verbose
if [ -z "$NOCONFIGURE" ]; then
  exec ./configure "$@"
fi
