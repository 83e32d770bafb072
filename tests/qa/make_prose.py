"""Helper for make_prose.sh: split a GNU plain-text manual into chapter files.
usage: make_prose.py split IN.text.gz OUTDIR PREFIX"""
import gzip, re, sys, os
def split(src, outdir, prefix):
    lines = gzip.open(src, 'rt', encoding='utf-8').read().split('\n')
    heads = [i for i, l in enumerate(lines) if re.match(r'^\d{1,2} [A-Z]', l)]
    # first block of headings is the table of contents; chapters restart at "1 "
    starts = [i for i in heads if lines[i].startswith('1 ')]
    body = starts[1]
    chap = [i for i in heads if i >= body]
    chap.append(len(lines))
    for a, b in zip(chap, chap[1:]):
        num, title = lines[a].split(' ', 1)
        slug = re.sub(r'[^a-z0-9]+', '-', title.lower()).strip('-')
        with open(os.path.join(outdir, f'{prefix}-{int(num):02d}-{slug}.txt'), 'w') as f:
            f.write('\n'.join(lines[a:b]).rstrip() + '\n')
if __name__ == '__main__':
    split(*sys.argv[2:5])
