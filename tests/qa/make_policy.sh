#!/usr/bin/env bash
# Builds the "policy" group of folders in tests/qa/folders/ (policy and legal text, FAQs):
# policy-html, charter-txt, faq-md, legal-txt. Run from tests/qa/.
set -euo pipefail
cd "$(dirname "$0")"
OUT=folders
PY=${PY:-../../.venv/bin/python}
apt-get install -y -qq debian-policy doc-debian >/dev/null

# 1. policy-html: chapters and appendices of the Debian Policy Manual (package debian-policy)
rm -rf $OUT/policy-html && mkdir -p $OUT/policy-html
for p in ch-scope ch-archive ch-binary ch-docs ch-maintainerscripts ap-pkg-conffiles ap-pkg-diversions \
         ap-pkg-alternatives ap-license ap-pkg-scope; do
  cp /usr/share/doc/debian-policy/policy.html/$p.html $OUT/policy-html/; done

# 2. charter-txt: Debian's foundational texts as plain text (package doc-debian)
rm -rf $OUT/charter-txt && mkdir -p $OUT/charter-txt
for p in constitution social-contract bug-reporting; do
  zcat /usr/share/doc/debian/$p.txt.gz > $OUT/charter-txt/$p.txt; done
zcat /usr/share/doc/debian/debian-manifesto.gz > $OUT/charter-txt/debian-manifesto.txt
cp /usr/share/doc/debian/bug-log-access.txt /usr/share/doc/debian/bug-mailserver-refcard.txt \
   /usr/share/doc/debian/source-unpack.txt $OUT/charter-txt/

# 3. faq-md: Black's FAQ and neighbouring pages of its documentation (Markdown, from the PyPI sdist of black 24.2.0)
rm -rf $OUT/faq-md && mkdir -p $OUT/faq-md
TMP=$(mktemp -d)
(cd $TMP && pip download -q --no-deps --no-binary :all: black==24.2.0 && tar xzf black-24.2.0.tar.gz)
D=$TMP/black-24.2.0/docs
for p in faq getting_started guides/introducing_black_to_your_project contributing/issue_triage \
         contributing/release_process integrations/source_version_control integrations/github_actions \
         usage_and_configuration/black_docker_image usage_and_configuration/file_collection_and_discovery \
         usage_and_configuration/black_as_a_server the_black_code_style/index; do
  cp $D/$p.md $OUT/faq-md/$(echo $p | sed 's|/index$||; s|/|--|g').md; done
rm -rf $TMP

# 4. legal-txt: licence texts (LGPL-2.1, GFDL-1.3 from /usr/share/common-licenses) plus the code of conduct and
#    security policies shipped in PyPI sdists (attrs 26.1.0, black 24.2.0, trio 0.35.0), saved as plain text
rm -rf $OUT/legal-txt && mkdir -p $OUT/legal-txt
cp /usr/share/common-licenses/LGPL-2.1 $OUT/legal-txt/LGPL-2.1.txt
cp /usr/share/common-licenses/GFDL-1.3 $OUT/legal-txt/GFDL-1.3.txt
TMP=$(mktemp -d)
(cd $TMP && pip download -q --no-deps --no-binary :all: attrs==26.1.0 black==24.2.0 trio==0.35.0 \
   && for f in *.tar.gz; do tar xzf $f; done)
cp $TMP/attrs-26.1.0/.github/SECURITY.md $OUT/legal-txt/attrs-security-policy.txt
cp $TMP/attrs-26.1.0/.github/CODE_OF_CONDUCT.md $OUT/legal-txt/attrs-code-of-conduct.txt
cp $TMP/black-24.2.0/SECURITY.md $OUT/legal-txt/black-security-policy.txt
cp $TMP/trio-0.35.0/docs/source/code-of-conduct.rst $OUT/legal-txt/trio-code-of-conduct.txt
rm -rf $TMP
