"""Markdown with markdown-it-py: its block tokens carry the file lines they came from (token.map).

Blocks are slices of the file (so the text keeps its Markdown syntax: what a citation shows is the file).
"""

from __future__ import annotations

from rag.index.parse.base import CODE, HEADING, LIST_ITEM, PARAGRAPH, TABLE, Block, line_starts

_BLOCK_KIND = {"paragraph_open": PARAGRAPH, "fence": CODE, "code_block": CODE, "table_open": TABLE,
               "html_block": PARAGRAPH, "heading_open": HEADING}


def markdown_blocks(text: str) -> tuple[list[Block], str]:
    """The blocks of a Markdown text, and its first level-1 heading (its title)."""
    from markdown_it import MarkdownIt

    tokens = MarkdownIt("commonmark").enable("table").parse(text)
    starts = line_starts(text)
    blocks: list[Block] = []
    title = ""
    in_list = 0
    skip_until = -1  # tokens inside a table are not blocks of their own
    for i, tok in enumerate(tokens):
        if tok.type in ("list_item_open",):
            in_list += 1
        elif tok.type == "list_item_close":
            in_list -= 1
        if i <= skip_until or tok.type not in _BLOCK_KIND or not tok.map:
            continue
        kind = _BLOCK_KIND[tok.type]
        if kind == PARAGRAPH and in_list:
            kind = LIST_ITEM
        if kind == TABLE:
            skip_until = next(j for j in range(i, len(tokens)) if tokens[j].type == "table_close")
        first, last = tok.map[0], tok.map[1] - 1  # 0-based, inclusive
        if kind == CODE and tok.type == "fence":
            first, last = first + 1, last - 1  # the code itself, not its ``` fences
        while last > first and not text[starts[last] : _end(text, starts, last)].strip():
            last -= 1
        if last < first:
            continue
        start = starts[first]
        end = _end(text, starts, last)
        while start < end and text[start].isspace():
            start += 1
        while end > start and text[end - 1].isspace():
            end -= 1
        if start >= end:
            continue
        level = int(tok.tag[1]) if kind == HEADING else 0
        if kind == HEADING and level == 1 and not title:
            title = tokens[i + 1].content.strip()
        blocks.append(Block(kind, start, end, first + 1, last + 1, level=level))
    return blocks, title


def _end(text: str, starts: list[int], line: int) -> int:
    return starts[line + 1] - 1 if line + 1 < len(starts) else len(text)
