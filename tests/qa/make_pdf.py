"""Helper for make_pdf.sh: assembles HTML from real text shipped in Debian
packages and prints it to PDF with headless Chromium.

  make_pdf.py tables SRC_DISTRO_INFO_DIR OUTDIR
  make_pdf.py report POD_DIR OUTDIR NAME...
  make_pdf.py guide POD_DIR OUTDIR NAME...
"""
import csv, html, os, re, subprocess, sys, tempfile

def chromium(html_text, out_pdf):
    with tempfile.NamedTemporaryFile('w', suffix='.html', delete=False, encoding='utf-8') as f:
        f.write(html_text)
        name = f.name
    for attempt in range(4):  # headless chromium occasionally dies on start; retry
        r = subprocess.run(['chromium', '--headless', '--no-sandbox', '--disable-gpu', '--no-pdf-header-footer',
                            '--print-to-pdf=' + os.path.abspath(out_pdf), 'file://' + name],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if r.returncode == 0 and os.path.exists(out_pdf):
            break
    else:
        raise RuntimeError('chromium failed for ' + out_pdf)
    os.unlink(name)

E = html.escape
TABLE_CSS = """
body { font-family: 'DejaVu Serif', serif; font-size: 10pt; margin: 1.5cm; }
h1 { font-size: 17pt; } h2 { font-size: 13pt; }
table { border-collapse: collapse; width: 100%; margin: 1em 0; }
th, td { border: 1px solid #666; padding: 2px 4px; white-space: nowrap; text-align: left; vertical-align: top; }
th { background: #ddd; } tr:nth-child(even) td { background: #f4f4f4; }
p.note { font-size: 9pt; }
td:last-child { white-space: normal; width: 45%; }
td { font-size: 9pt; }
"""

def comment_block(path):
    """Leading '#' comment lines of a data file, grouped into paragraphs."""
    paras, cur = [], []
    for line in open(path, encoding='utf-8'):
        if not line.startswith('#'):
            break
        t = line[1:].strip()
        if not t:
            if cur: paras.append(' '.join(cur)); cur = []
        else:
            cur.append(t)
    if cur: paras.append(' '.join(cur))
    return paras

def page(title, body, css=TABLE_CSS):
    return f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{E(title)}</title><style>{css}</style></head><body><h1>{E(title)}</h1>{body}</body></html>"

def table(head, rows):
    h = ''.join(f'<th>{E(c)}</th>' for c in head)
    b = ''.join('<tr>' + ''.join(f'<td>{E(c)}</td>' for c in r) + '</tr>' for r in rows)
    return f'<table><thead><tr>{h}</tr></thead><tbody>{b}</tbody></table>'

def tables(distro_dir, out):
    os.makedirs(out, exist_ok=True)
    # Debian and Ubuntu release tables (distro-info-data), in one document
    body = ''
    for name, title, heads in [
        ('debian', 'Debian releases', ['Version', 'Codename', 'Series', 'Created', 'Released', 'End of life', 'End of LTS', 'End of ELTS']),
        ('ubuntu', 'Ubuntu releases', ['Version', 'Codename', 'Series', 'Created', 'Released', 'End of life', 'End of server support', 'End of ESM', 'End of legacy']),]:
        rows = list(csv.reader(open(os.path.join(distro_dir, name + '.csv'), encoding='utf-8')))[1:]
        rows = [r + [''] * (len(heads) - len(r)) for r in rows]
        body += (f"<h2>{title}</h2><p>This table lists every {title.split()[0]} release known to the distro-info-data package, "
                 "with the dates on which each release series was created, released and reached the end of its support periods. "
                 "Columns are taken from the file " + name + ".csv; an empty cell means the date is not known or not applicable.</p>"
                 + table(heads, rows))
    chromium(page('Debian and Ubuntu release tables', body, TABLE_CSS + 'table { font-size: 8.5pt; }'), os.path.join(out, 'distro-releases.pdf'))
    # IP protocol numbers (/etc/protocols, netbase)
    rows = []
    for line in open('/etc/protocols', encoding='utf-8'):
        if line.startswith('#') or not line.strip(): continue
        data, _, comment = line.partition('#')
        f = data.split()
        rows.append([f[0], f[1], ' '.join(f[2:]), comment.strip()])
    body = ''.join(f'<p>{E(p)}</p>' for p in comment_block('/etc/protocols')) + table(['Keyword', 'Number', 'Aliases', 'Description'], rows)
    chromium(page('Internet (IP) protocol numbers', body), os.path.join(out, 'ip-protocols.pdf'))
    # Network services (/etc/services, netbase)
    rows = []
    for line in open('/etc/services', encoding='utf-8'):
        if line.startswith('#') or not line.strip(): continue
        data, _, comment = line.partition('#')
        f = data.split()
        port, proto = f[1].split('/')
        rows.append([f[0], port, proto, ' '.join(f[2:]), comment.strip()])
    body = ''.join(f'<p>{E(p)}</p>' for p in comment_block('/etc/services')) + table(['Service', 'Port', 'Protocol', 'Aliases', 'Comment'], rows)
    chromium(page('Network services and port numbers', body), os.path.join(out, 'network-services.pdf'))
    # Country codes and time zones (tzdata)
    rows = [l.rstrip('\n').split('\t') for l in open('/usr/share/zoneinfo/iso3166.tab', encoding='utf-8') if not l.startswith('#')]
    body = ''.join(f'<p>{E(p)}</p>' for p in comment_block('/usr/share/zoneinfo/iso3166.tab')[:-1]) + table(['Code', 'Country, territory, area, or subdivision'], rows)
    chromium(page('ISO 3166 alpha-2 country codes', body), os.path.join(out, 'country-codes.pdf'))
    rows = []
    for l in open('/usr/share/zoneinfo/zone1970.tab', encoding='utf-8'):
        if l.startswith('#'): continue
        f = l.rstrip('\n').split('\t')
        rows.append(f + [''] * (4 - len(f)))
    body = ''.join(f'<p>{E(p)}</p>' for p in comment_block('/usr/share/zoneinfo/zone1970.tab')[:-1]) + table(['Country codes', 'Coordinates', 'Timezone (TZ)', 'Comments'], rows)
    chromium(page('Timezone table (tzdb)', body), os.path.join(out, 'timezones.pdf'))


REPORT_CSS = """
@page { size: A4; margin: 1.6cm 1.4cm; }
body { font-family: 'DejaVu Serif', serif; font-size: 9pt; column-count: 2; column-gap: 0.8cm; line-height: 1.3; text-align: justify; }
h1.title { column-span: all; font-size: 16pt; text-align: center; margin-bottom: 0.2em; }
p.subtitle { column-span: all; text-align: center; font-style: italic; margin-top: 0; }
h1 { font-size: 12pt; } h2 { font-size: 10.5pt; } h3 { font-size: 9.5pt; }
pre { font-size: 7.5pt; white-space: pre-wrap; background: #f3f3f3; padding: 3px; }
table { border-collapse: collapse; width: 100%; font-size: 7.5pt; margin: 0.5em 0; break-inside: auto; column-span: all; }
th:first-child { width: 22%; } th:nth-child(2), th:nth-child(3) { width: 11%; }
th, td { border: 1px solid #777; padding: 1px 3px; text-align: left; vertical-align: top; }
th { background: #ddd; } caption { font-weight: bold; font-size: 8pt; }
sup { font-size: 6.5pt; }
ol.footnotes { font-size: 7.5pt; border-top: 1px solid #444; padding-top: 4px; word-break: break-all; }
"""

UPGRADE = re.compile(r'^\s*(\S+) has been upgraded from version (\S+) to (\S+?)\.?\s*$', re.S)

def pod_html(pod):
    out = subprocess.run(['pod2html', '--infile=' + pod, '--noindex', '--quiet', '--cachedir=' + tempfile.gettempdir()],
                         check=True, capture_output=True, text=True).stdout
    from lxml import html as LH
    return LH.fromstring(out.encode('utf-8'))

def report(pod_dir, out, names):
    """perldelta release notes as a two-column report: module upgrade lists
    become tables, external links become numbered footnotes."""
    from lxml import etree, html as LH
    os.makedirs(out, exist_ok=True)
    for name in names:
        doc = pod_html(os.path.join(pod_dir, name + '.pod'))
        body = doc.find('body')
        # title from the NAME section
        h = body.find('h1'); first_p = h.getnext()
        title = first_p.text_content().strip()
        body.remove(first_p); body.remove(h)
        # module upgrade lists -> tables
        for ul in list(body.iter('ul')):
            rows, rest = [], []
            for li in ul.findall('li'):
                ps = li.findall('p')
                m = UPGRADE.match(ps[0].text_content()) if ps else None
                if m:
                    notes = ' '.join(x.text_content().strip() for x in ps[1:])
                    rows.append((m.group(1), m.group(2), m.group(3), notes))
                else:
                    rest.append(li)
            if len(rows) >= 2:
                t = LH.fromstring(table(['Module', 'Old version', 'New version', 'Notes'], rows))
                ul.addprevious(t)
                if rest:
                    for li in ul.findall('li'):
                        if li not in rest: ul.remove(li)
                else:
                    ul.getparent().remove(ul)
        # external links -> footnotes
        notes = []
        for a in list(body.iter('a')):
            href = a.get('href') or ''
            if href.startswith('http') and a.text_content().strip() != href:
                if href not in notes: notes.append(href)
                sup = etree.SubElement(a, 'sup'); sup.text = str(notes.index(href) + 1)
            a.attrib.pop('href', None)
        if notes:
            hn = etree.SubElement(body, 'h1'); hn.text = 'Notes'
            ol = etree.SubElement(body, 'ol'); ol.set('class', 'footnotes')
            for n in notes:
                li = etree.SubElement(ol, 'li'); li.text = n
        inner = ''.join(etree.tostring(c, encoding='unicode', method='html') for c in body)
        t, _, sub = title.partition(' - ')
        head = f'<h1 class="title">{E(sub[:1].upper() + sub[1:])}</h1><p class="subtitle">{E(t)}</p>'
        html_text = f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{E(title)}</title><style>{REPORT_CSS}</style></head><body>{head}{inner}</body></html>"
        chromium(html_text, os.path.join(out, name + '.pdf'))

GUIDE_CSS = """
@page { size: A4; margin: 2cm 2.2cm; }
body { font-family: 'DejaVu Sans', sans-serif; font-size: 10.5pt; line-height: 1.4; }
h1.title { font-size: 20pt; border-bottom: 2px solid #333; }
h1 { font-size: 15pt; margin-top: 1.2em; } h2 { font-size: 12.5pt; } h3 { font-size: 11pt; }
pre { font-size: 8.5pt; background: #f2f2f2; border-left: 3px solid #999; padding: 4px 8px; white-space: pre-wrap; }
code { font-size: 9pt; }
"""

def guide(pod_dir, out, names):
    """Perl tutorials (perl-doc) printed as a set of guide chapters."""
    from lxml import etree
    os.makedirs(out, exist_ok=True)
    for name in names:
        doc = pod_html(os.path.join(pod_dir, name + '.pod'))
        body = doc.find('body')
        h = body.find('h1'); first_p = h.getnext()
        title = first_p.text_content().strip()
        body.remove(first_p); body.remove(h)
        for a in body.iter('a'):
            a.attrib.pop('href', None)
        inner = ''.join(etree.tostring(c, encoding='unicode', method='html') for c in body)
        t, _, sub = title.partition(' - ')
        head = f'<h1 class="title">{E(sub[:1].upper() + sub[1:] if sub else t)}</h1><p><i>{E(t)}</i></p>'
        chromium(f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{E(title)}</title><style>{GUIDE_CSS}</style></head><body>{head}{inner}</body></html>",
                 os.path.join(out, name + '.pdf'))

if __name__ == '__main__':
    cmd = sys.argv[1]
    if cmd == 'tables':
        tables(sys.argv[2], sys.argv[3])
    elif cmd == 'report':
        report(sys.argv[2], sys.argv[3], sys.argv[4:])
    elif cmd == 'guide':
        guide(sys.argv[2], sys.argv[3], sys.argv[4:])
