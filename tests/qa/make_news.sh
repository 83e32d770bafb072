#!/bin/bash
# Build the news-{a,b,c,d}-html folders: 52 saved web pages (news/blog articles),
# the ones of ../shared/web-articles/pages not used in tests/eval, split in sorted order, 13 each.
set -e
cd "$(dirname "$0")"
SRC=../../../shared/web-articles/pages
mapfile -t PAGES < <(comm -23 <(ls $SRC | sort) <(ls ../eval/folders/*/ | grep html | sort))
i=0
for f in a b c d; do
  mkdir -p folders/news-$f-html
  for n in $(seq 0 12); do
    cp "$SRC/${PAGES[$i]}" folders/news-$f-html/
    i=$((i+1))
  done
done
