#!/usr/bin/env bash
# Builds the "howto" group of tests/qa/folders/: tutorials and how-to documents where a command can be the answer.
# Run from tests/qa/. Sources: a PyPI sdist (black), Debian documentation packages, man pages.
set -euo pipefail
cd "$(dirname "$0")"
PY=${PY:-../../.venv/bin/python}
TMP=$(mktemp -d)

# 1. cli-md (Markdown): the user docs of the black code formatter, from its PyPI sdist
(cd "$TMP" && pip download -q --no-deps --no-binary :all: black==26.10.1 && tar xzf black-26.10.1.tar.gz)
D=$TMP/black-26.10.1/docs
rm -rf folders/cli-md && mkdir -p folders/cli-md
cp $D/getting_started.md $D/faq.md \
   $D/usage_and_configuration/the_basics.md $D/usage_and_configuration/file_collection_and_discovery.md \
   $D/usage_and_configuration/black_as_a_server.md $D/usage_and_configuration/black_docker_image.md \
   $D/guides/introducing_black_to_your_project.md $D/guides/using_black_with_other_tools.md \
   $D/guides/using_black_with_jupyter_notebooks.md \
   $D/integrations/source_version_control.md $D/integrations/github_actions.md \
   $D/integrations/doctest_formatting.md $D/the_black_code_style/current_style.md folders/cli-md/

# 2. howto-html (HTML): APT's user guide and its offline-use how-to, from Debian's apt-doc package
apt-get install -y -qq apt-doc >/dev/null
rm -rf folders/howto-html && mkdir -p folders/howto-html
for d in guide offline; do for f in /usr/share/doc/apt-doc/$d.html/*.html; do
  cp "$f" folders/howto-html/$d-$(basename "$f"); done; done
# ... and the Debian Reference's how-to chapter on locales and keyboard input (debian-reference-en)
apt-get install -y -qq debian-reference-en >/dev/null
cp /usr/share/debian-reference/ch08.en.html folders/howto-html/debian-reference-ch08.html

# 3. manpages-txt (plain text): a dozen man pages rendered at 80 columns, no hyphenation or justification
rm -rf folders/manpages-txt && mkdir -p folders/manpages-txt
for p in chmod ln xargs scp ssh-keygen ssh-copy-id tar sed du timeout split watch tee; do
  MANWIDTH=80 man --nh --nj -P cat $p > folders/manpages-txt/$p.txt; done

# 4. cli-pdf (PDF): the user guide of the flit packaging tool (PyPI sdist, reStructuredText), built with
#    Sphinx's plain theme, each page's body laid out in two columns and printed by Chromium
apt-get install -y -qq python3-sphinx chromium >/dev/null
(cd "$TMP" && pip download -q --no-deps --no-binary :all: flit==4.2.0 && tar xzf flit-4.2.0.tar.gz)
sphinx-build -q -b html -C -D html_theme=basic -D master_doc=index "$TMP/flit-4.2.0/doc" "$TMP/flit-html" 2>/dev/null || true
rm -rf folders/cli-pdf && mkdir -p folders/cli-pdf
for p in cmdline pyproject_toml upload bootstrap rationale reproducible; do
  $PY make_howto.py "$TMP/flit-html/$p.html" "$TMP/flit-$p-print.html"
  chromium --headless --no-sandbox --disable-gpu --no-pdf-header-footer \
    --print-to-pdf="$PWD/folders/cli-pdf/flit-$p.pdf" "file://$TMP/flit-$p-print.html" 2>/dev/null
done
rm -rf "$TMP"
