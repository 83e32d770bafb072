"""Helper for make_howto.sh: wraps the body of Sphinx-built HTML pages in a plain print layout
(two columns for running text, boxed code) so Chromium can print them as a PDF manual."""
import sys, lxml.html
CSS = """
@page { size: A4; margin: 18mm 15mm; }
body { font-family: 'DejaVu Serif', serif; font-size: 10pt; line-height: 1.35; }
h1 { font-family: 'DejaVu Sans', sans-serif; font-size: 17pt; column-span: all; }
h2, h3 { font-family: 'DejaVu Sans', sans-serif; }
.cols { column-count: 2; column-gap: 8mm; }
pre { font-size: 8pt; background: #f4f4f4; border: 1px solid #ccc; padding: 4px; white-space: pre-wrap; }
table { border-collapse: collapse; } td, th { border: 1px solid #999; padding: 2px 4px; }
a { color: inherit; text-decoration: none; } a.headerlink { display: none; }
"""
src, dst = sys.argv[1], sys.argv[2]
doc = lxml.html.parse(src).getroot()
body = doc.xpath('//div[@class="body"]')[0]
for a in body.xpath('.//a[@class="headerlink"]'):
    a.drop_tree()
h1 = body.xpath('.//h1')[0]
title = h1.text_content()
h1.getparent().remove(h1)
out = lxml.html.fromstring('<html><head><meta charset="utf-8"><title></title><style></style></head>'
                           '<body><h1></h1><div class="cols"></div></body></html>')
out.xpath('//title')[0].text = title
out.xpath('//style')[0].text = CSS
out.xpath('//h1')[0].text = title
out.xpath('//div[@class="cols"]')[0].append(body)
open(dst, 'wb').write(lxml.html.tostring(out, encoding='utf-8', doctype='<!DOCTYPE html>'))
