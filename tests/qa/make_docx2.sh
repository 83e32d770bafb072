#!/bin/bash
# Makes the Word-document folders memo-docx, policy-docx, handbook-docx and report-docx from real prose of
# PyPI sdists and Debian packages, each source laid out by make_docx2.py as a person would write it in Word.
# Run from tests/qa/:  bash make_docx2.sh   (needs pip and apt-get on PATH; PY is the project's venv Python)
set -euo pipefail
cd "$(dirname "$0")"
PY=${PY:-../../.venv/bin/python}
WORK=${WORK:-/tmp/docx2-work/src}
mkdir -p "$WORK"

# ---- sources: PyPI sdists (pinned) and Debian bookworm packages
for spec in pytest==9.2.0 docutils==0.23.1 Django==5.0.6 click==8.5.1 pip==26.3; do
  name=${spec%%==*}; ver=${spec##*==}
  [ -d "$WORK/$name-$ver" ] || [ -d "$WORK/$(echo $name | tr A-Z a-z)-$ver" ] || {
    pip download --no-deps --no-binary :all: "$spec" -d "$WORK"
    tar xzf "$WORK"/$name-$ver.tar.gz -C "$WORK"; }
done
mkdir -p "$WORK/deb"
for pkg in apache2 exim4-base sudo; do   # fetched: apache2 2.4.71-1~deb12u1, exim4-base 4.96-15+deb12u11, sudo 1.9.13p3-1+deb12u4
  ls "$WORK"/deb/${pkg}_*.deb >/dev/null 2>&1 || (cd "$WORK/deb" && apt-get download "$pkg")
  mkdir -p "$WORK/deb/x/$pkg" && dpkg-deb -x "$WORK"/deb/${pkg}_*.deb "$WORK/deb/x/$pkg"
done
export PYTHONPATH="$WORK/docutils-0.23.1${PYTHONPATH:+:$PYTHONPATH}"   # docutils parses the .rst sources
PT=$WORK/pytest-9.2.0
DU=$WORK/docutils-0.23.1
DJ=$WORK/Django-5.0.6/docs/internals
CK=$WORK/click-8.5.1/docs
PIPUX=$WORK/pip-26.3/docs/html/ux-research-design/research-results
mk() { "$PY" make_docx2.py "$@"; }

# ---- memo-docx: release announcement mails of pytest (From: the signature), the 2016 sprint report, and the
#      Debian NEWS.Debian notices of apache2, exim4 and sudo (one memo per entry: From/Date from the signature)
D=folders/memo-docx; rm -rf "$D"; mkdir -p "$D"
A=$PT/doc/en/announce
for v in 2.0.0 2.2.0 2.3.0 2.4.0 2.5.0 2.6.0 2.7.0; do
  mk rst "$A/release-$v.rst" "$D/pytest-$v-announcement.docx" --field "From=holger krekel"
done
mk rst "$A/release-2.9.0.rst" "$D/pytest-2.9.0-announcement.docx" --field "From=The py.test Development Team"
mk rst "$A/release-3.0.0.rst" "$D/pytest-3.0.0-announcement.docx" --field "From=The Pytest Development Team"
mk rst "$A/sprint2016.rst" "$D/pytest-sprint-2016.docx"
for pkg in apache2 exim4-base sudo; do
  zcat "$WORK/deb/x/$pkg/usr/share/doc/$pkg/NEWS.Debian.gz" > "$WORK/$pkg.NEWS.Debian"
  mk news "$WORK/$pkg.NEWS.Debian" "$D/${pkg%-base}-debian-notices.docx"
done

# ---- policy-docx: Django's security, organization, release, commit, bug and triage policies, pytest's code of
#      conduct, security and backwards-compatibility policies, and the Docutils project policies
D=folders/policy-docx; rm -rf "$D"; mkdir -p "$D"
mk rst "$DJ/security.txt" "$D/django-security-policy.docx"
mk rst "$DJ/organization.txt" "$D/django-organization.docx"
mk rst "$DJ/release-process.txt" "$D/django-release-process.docx"
mk rst "$DJ/contributing/committing-code.txt" "$D/django-committing-code.docx"
mk rst "$DJ/contributing/bugs-and-features.txt" "$D/django-bugs-and-features.docx"
mk rst "$DJ/contributing/triaging-tickets.txt" "$D/django-triaging-tickets.docx"
mk rst "$DJ/contributing/writing-code/submitting-patches.txt" "$D/django-submitting-contributions.docx"
mk md "$PT/CODE_OF_CONDUCT.md" "$D/pytest-code-of-conduct.docx"
mk md "$PT/SECURITY.md" "$D/pytest-security-policy.docx"
mk rst "$PT/doc/en/backwards-compatibility.rst" "$D/pytest-backwards-compatibility.docx"
mk rst "$DU/docs/dev/policies.rst" "$D/docutils-project-policies.docx"

# ---- handbook-docx: the Click user guide, one chapter a document
D=folders/handbook-docx; rm -rf "$D"; mkdir -p "$D"
n=1
for ch in why quickstart parameters options arguments commands-and-groups prompts handling-files utils \
          testing shell-completion exceptions; do
  mk md "$CK/$ch.md" "$D/click-$(printf %02d $n)-$ch.docx"; n=$((n + 1))
done

# ---- report-docx: pip's user-research reports, the Docutils design specification (PEP 258) and the
#      Enthought API documentation tool plan, and pytest's proposal for parametrizing with fixtures
D=folders/report-docx; rm -rf "$D"; mkdir -p "$D"
for r in about-our-users users-and-security mental-models personas pip-force-reinstall pip-search \
         prioritizing-features override-conflicting-dependencies; do
  mk md "$PIPUX/$r.md" "$D/pip-research-$r.docx"
done
mk rst "$DU/docs/peps/pep-0258.rst" "$D/docutils-design-specification.docx"
mk rst "$DU/docs/dev/enthought-plan.rst" "$D/docutils-enthought-plan.docx"
mk rst "$PT/doc/en/proposals/parametrize_with_fixtures.rst" "$D/pytest-proposal-parametrize-with-fixtures.docx"
du -sh folders/memo-docx folders/policy-docx folders/handbook-docx folders/report-docx
