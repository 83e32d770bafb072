#!/bin/bash
# Folders of the "prose" group (long prose: books and essays). Run from tests/qa/.
set -e
PY=${PY:-../../.venv/bin/python}

# book-html: Debian New Maintainers' Guide (Debian package maint-guide), English HTML chapters
apt-get install -y maint-guide
mkdir -p folders/book-html
for c in start first modify dreq dother build checkit upload update advanced; do
  cp /usr/share/doc/maint-guide/html/$c.en.html folders/book-html/
done

# essays-md: design rationales / philosophy essays from PyPI sdists, saved as .md
mkdir -p /tmp/prose-sd folders/essays-md
(cd /tmp/prose-sd && for p in attrs==26.1.0 structlog==26.1.0 trio==0.35.0 flit==4.2.0 black==26.10.1; do
  pip download --no-deps --no-binary :all: $p; done && for f in *.tar.gz; do tar xzf $f; done)
S=/tmp/prose-sd
cp $S/attrs-26.1.0/docs/why.md folders/essays-md/attrs-why.md
cp $S/attrs-26.1.0/docs/names.md folders/essays-md/attrs-names.md
cp $S/attrs-26.1.0/docs/how-does-it-work.md folders/essays-md/attrs-how-does-it-work.md
cp $S/structlog-26.1.0/docs/why.md folders/essays-md/structlog-why.md
cp $S/structlog-26.1.0/docs/logging-best-practices.md folders/essays-md/structlog-logging-best-practices.md
cp $S/trio-0.35.0/docs/source/design.rst folders/essays-md/trio-design.md
cp $S/flit-4.2.0/doc/rationale.rst folders/essays-md/flit-rationale.md
cp $S/black-26.10.1/docs/the_black_code_style/current_style.md folders/essays-md/black-code-style.md

# longtext-txt: GNU Coding Standards split into chapter files + GNU Maintainers information, plain text
apt-get install -y gnu-standards
mkdir -p folders/longtext-txt
$PY make_prose.py split /usr/share/doc/gnu-standards/standards.text.gz folders/longtext-txt standards
zcat /usr/share/doc/gnu-standards/maintain.text.gz > folders/longtext-txt/maintain.txt

# tutorial-html: "Git Magic" by Ben Lynn, a narrative git tutorial (Debian package gitmagic)
apt-get install -y gitmagic
mkdir -p folders/tutorial-html
for c in pr01 ch01 ch02 ch03 ch04 ch05 ch06 ch07 ch08 apa apb; do
  cp /usr/share/doc/gitmagic/html/$c.html folders/tutorial-html/
done
