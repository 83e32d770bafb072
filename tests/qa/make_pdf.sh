#!/bin/bash
# Builds the "pdf" group folders: papers-pdf, report2col-pdf, tables-pdf, guide-pdf.
# Run from tests/qa/. Needs apt (apt-get download), chromium, pod2html (perl), and Python with lxml.
# Versions used: texlive-*-doc 2022.20230122-3, perl-doc 5.36.0-7+deb12u4, distro-info-data 0.58+deb12u7,
# and the installed netbase 6.4 (/etc/protocols, /etc/services) and tzdata 2025b-0+deb12u2 (/usr/share/zoneinfo/*.tab).
set -e
PY=${PY:-../../.venv/bin/python}
W=${W:-/tmp/make_pdf_work}
mkdir -p $W/x
( cd $W && apt-get download texlive-metapost-doc texlive-latex-base-doc perl-doc distro-info-data && for f in *.deb; do dpkg-deb -x $f x; done )
TL=$W/x/usr/share/doc/texlive-doc

# 1. papers-pdf: article-like papers shipped as PDF in Debian's TeX Live documentation packages
mkdir -p folders/papers-pdf
cp $TL/metapost/base/mpgraph.pdf $TL/metapost/base/mpboxes.pdf \
   $TL/metapost/mp3d/tb57roeg.pdf $TL/bibtex/babelbib/tugboat-babelbib.pdf \
   $TL/latex/metaplot/metaplot_preprint.pdf $TL/latex/base/ltx3info.pdf \
   $TL/metapost/featpost/doc/otherinfo/tb88henderson.pdf folders/papers-pdf/

# 2. tables-pdf: table-dominated documents printed by Chromium from real data files:
#    distro-info-data (debian.csv, ubuntu.csv), netbase (/etc/protocols, /etc/services), tzdata (iso3166.tab, zone1970.tab)
$PY make_pdf.py tables $W/x/usr/share/distro-info folders/tables-pdf

# 3. report2col-pdf: Perl release notes (perldelta, from perl-doc) as two-column reports;
#    module upgrade lists become tables and external links become numbered footnotes
$PY make_pdf.py report $W/x/usr/share/perl/5.36.0/pod folders/report2col-pdf \
    perl5340delta perl5005delta perl588delta perl5201delta perl5222delta perl5121delta perl5243delta

# 4. guide-pdf: a set of Perl tutorial chapters (perl-doc) printed as guide booklets
$PY make_pdf.py guide $W/x/usr/share/perl/5.36.0/pod folders/guide-pdf \
    perlintro perlreftut perlootut perlopentut perlstyle perlunitut
