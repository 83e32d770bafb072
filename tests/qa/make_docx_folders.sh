#!/bin/sh
# Builds the docx folders (guide-docx, notes-docx, memo-docx, policy-docx) from real documentation
# shipped in Debian packages, written as Word documents by make_docx_folders.py (python-docx).
# Run from tests/qa/.
set -e
PY=${PY:-../../.venv/bin/python}
M="$PY make_docx_folders.py"
D=/usr/share/doc

# guide-docx: util-linux how-to guides (package util-linux, /usr/share/doc/util-linux)
rm -rf folders/guide-docx && mkdir -p folders/guide-docx
G=folders/guide-docx
$M text $D/util-linux/howto-contribute.txt.gz $G/contributing-to-util-linux.docx --title "How to contribute to util-linux"
$M text $D/util-linux/howto-pull-request.txt.gz $G/sending-pull-requests.docx --title "How to send a pull request"
$M text $D/util-linux/howto-compilation.txt $G/compiling-util-linux.docx --title "How to compile util-linux"
$M text $D/util-linux/howto-debug.txt $G/debugging-util-linux.docx --title "How to debug util-linux programs"
$M text $D/util-linux/howto-tests.txt $G/regression-tests.docx --title "How to run the regression tests"
$M text $D/util-linux/howto-build-sys.txt $G/build-system.docx --title "How the build system works"
$M text $D/util-linux/howto-usage-function.txt.gz $G/writing-usage-functions.docx --title "How to write a usage function"
$M text $D/util-linux/modems-with-agetty.txt $G/modems-with-agetty.docx --title "Using modems with agetty"

# notes-docx: release notes shipped in Debian packages (recent releases only where the file is long)
rm -rf folders/notes-docx && mkdir -p folders/notes-docx
N=folders/notes-docx
$M text $D/man-db/NEWS.md.gz $N/man-db-release-notes.docx --title "man-db release notes" --to-line 108
$M text $D/polkitd/NEWS.md.gz $N/polkit-release-notes.docx --title "polkit release notes" --to-line 96
$M text $D/libnss-mdns/NEWS.md.gz $N/nss-mdns-news.docx --title "nss-mdns news"
$M text $D/libpipeline1/NEWS.md.gz $N/libpipeline-news.docx --title "libpipeline news" --to-line 77
$M text $D/libssh2-1/RELEASE-NOTES $N/libssh2-1.10-release-notes.docx --title "libssh2 release notes"
$M text $D/libcommons-cli-java/RELEASE-NOTES.txt.gz $N/commons-cli-1.5.0-release-notes.docx --title "Apache Commons CLI release notes" --to-line 60
