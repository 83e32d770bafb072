#!/usr/bin/env bash
# Builds the training/evaluation folders of tests/qa/folders/ from documents that install offline (Debian's
# documentation packages, an npm package's docs, Debian's license texts) and documents made from them (PDFs
# printed by Chromium, DOCX written by python-docx). The folders are committed; this script says where each came
# from and rebuilds them. Never add Python's documentation (python3.*-doc), Debian's history (debian-history)
# or R's manuals (r-doc-*): others hold those out to measure what we build.
set -euo pipefail
cd "$(dirname "$0")"
OUT=folders
PY=${PY:-../../.venv/bin/python}
apt-get install -y -qq debian-faq sqlite3-doc bash-doc postgresql-doc-15 debian-handbook developers-reference git-doc chromium >/dev/null
rm -rf "$OUT" && mkdir -p "$OUT"

# 1. news articles (plain text): the five seed articles
mkdir -p $OUT/articles && cp ../../corpus/*.txt $OUT/articles/
# 2. man pages (HTML): a dozen of Git's
mkdir -p $OUT/git-man
for p in git-stash git-rebase git-bisect git-cherry-pick git-worktree git-tag git-blame git-clean git-remote git-revert git-submodule git-reflog; do
  cp /usr/share/doc/git-doc/$p.html $OUT/git-man/; done
# 3. reference pages (HTML): SQLite's
mkdir -p $OUT/sqlite-html
for p in whentouse datatype3 autoinc foreignkeys wal lockingv3 limits lang_transaction lang_upsert cli faq; do
  cp /usr/share/doc/sqlite3/$p.html $OUT/sqlite-html/; done
# 4. a FAQ (HTML): Debian's
mkdir -p $OUT/debian-faq
for p in /usr/share/doc/debian/FAQ/*.en.html; do cp "$p" $OUT/debian-faq/; done
rm -f $OUT/debian-faq/index.en.html
# 5. a tutorial (HTML): PostgreSQL's
mkdir -p $OUT/pg-tutorial
cp /usr/share/doc/postgresql-doc-15/html/tutorial-*.html $OUT/pg-tutorial/
# 6. a PDF manual (typeset by texinfo): the bash manual page
mkdir -p $OUT/bash-pdf && cp /usr/share/doc/bash/bash.pdf $OUT/bash-pdf/
# 7. a book printed to PDF from HTML: sections of the Debian Administrator's Handbook
mkdir -p $OUT/handbook-pdf
for p in sect.apt-get sect.backup sect.creating-accounts sect.dhcp sect.ssh sect.firewall; do
  chromium --headless --no-sandbox --disable-gpu --no-first-run --disable-background-networking \
    --disable-component-update --disable-sync --no-pdf-header-footer \
    --print-to-pdf=$OUT/handbook-pdf/$p.pdf file:///usr/share/doc/debian-handbook/html/en-US/$p.html 2>/dev/null; done
# 8. Markdown documentation from an npm package: pino's docs
tmp=$(mktemp -d); (cd "$tmp" && npm pack pino@10.4.0 >/dev/null 2>&1 && tar xzf pino-*.tgz)
mkdir -p $OUT/pino-md && cp "$tmp"/package/docs/*.md $OUT/pino-md/ && rm -rf "$tmp"
# 9. Word documents made from reStructuredText: chapters of Debian's Developer's Reference
mkdir -p $OUT/devref-docx
$PY make_docx.py $OUT/devref-docx /usr/share/developers-reference/_sources/{developer-duties,resources,new-maintainer,l10n,beyond-pkging}.rst.txt
# 10. legal texts (plain text): licenses
mkdir -p $OUT/licenses
for p in GPL-3 Apache-2.0 MPL-2.0 Artistic BSD CC0-1.0; do cp /usr/share/common-licenses/$p $OUT/licenses/$p.txt; done
du -sh $OUT/*
