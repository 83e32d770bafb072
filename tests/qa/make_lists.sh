#!/bin/bash
# Folders of the "lists" group: changelogs, mail-like notes, table-heavy Markdown, HTML reference.
# Run from tests/qa/.
set -e
PY=${PY:-../../.venv/bin/python}
D=/usr/share/doc

# changes-txt: upstream NEWS files and Debian changelogs (plain text)
mkdir -p folders/changes-txt
zcat $D/gzip/NEWS.gz > folders/changes-txt/gzip-NEWS.txt
zcat $D/diffutils/NEWS.gz > folders/changes-txt/diffutils-NEWS.txt
zcat $D/patch/NEWS.gz > folders/changes-txt/patch-NEWS.txt
zcat $D/bc/NEWS.gz > folders/changes-txt/bc-NEWS.txt
zcat $D/ed/NEWS.gz > folders/changes-txt/ed-NEWS.txt
zcat $D/python3-httplib2/changelog.gz > folders/changes-txt/httplib2-changelog.txt
zcat $D/zstd/changelog.gz > folders/changes-txt/zstd-changelog.txt
zcat $D/zstd/changelog.Debian.gz > folders/changes-txt/zstd-changelog.Debian.txt
zcat $D/tmux/changelog.Debian.gz > folders/changes-txt/tmux-changelog.Debian.txt
zcat $D/ninja-build/changelog.Debian.gz > folders/changes-txt/ninja-build-changelog.Debian.txt

# mail-txt: NEWS.Debian entries (mail-like: header line, body, maintainer signature)
mkdir -p folders/mail-txt
for p in openssh-client apt make systemd libc6 adduser libpam0g postgresql-common tmux login git gnupg; do
  zcat $D/$p/NEWS.Debian.gz > folders/mail-txt/$p-NEWS.Debian.txt
done

# tables-md: README.md of npm packages dominated by option tables and lists
mkdir -p folders/tables-md
T=$(mktemp -d)
for p in picomatch@4.0.7 fast-glob@3.3.3 jsonwebtoken@9.0.3 bcrypt@6.0.0 debug@4.4.3 nyc@18.0.0 http-server@14.1.1 uuid@14.0.3; do
  (cd $T && npm pack --silent $p >/dev/null 2>&1)
  n=${p%@*}
  tar -xzf $T/$n-${p#*@}.tgz -C $T package/README.md
  mv $T/package/README.md folders/tables-md/$n-README.md
done
rm -rf $T

# valgrind-html: Valgrind HTML manual pages (FAQ, option reference, lists of missing features)
mkdir -p folders/valgrind-html
for f in faq quick-start manual-core dist.readme-missing dist.readme-packagers lk-manual bbv-manual dh-manual; do
  cp $D/valgrind/html/$f.html folders/valgrind-html/
done
