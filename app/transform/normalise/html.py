"""HTML → plain text with nh3: scripts and styles go with their content, paragraphs and line
breaks stay as blank lines and newlines, entities are decoded. Names get the one-line form."""

import re
from html import unescape

import nh3

from app.transform.normalise.text import (
    clean_multiline,
    clean_text,
    flow_spaces,
    require_text,
    without_controls,
)

_BLOCKS = {
    "address", "article", "aside", "blockquote", "dd", "div", "dl", "dt", "figcaption",
    "figure", "footer", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "ol", "p",
    "pre", "section", "table", "tr", "ul",
}  # fmt: skip
_DROPPED_WITH_CONTENT = {"script", "style", "template", "noscript", "iframe", "object", "svg"}
_CLEANER = nh3.Cleaner(  # built once: building it costs more than cleaning a description
    tags=_BLOCKS | {"br", "li"},
    attributes={},
    clean_content_tags=_DROPPED_WITH_CONTENT,
    strip_comments=True,
)
_BREAK = re.compile(r"<br\s*/?>")
_BLOCK_EDGE = re.compile(r"</?(?:" + "|".join(sorted(_BLOCKS)) + r")\s*/?>")
_ANY_TAG = re.compile(r"<[^>]*>")
_MARKUP = re.compile(r"<[A-Za-z!/?]|&(?:#[0-9]+|#[xX][0-9a-fA-F]+|[A-Za-z][A-Za-z0-9]*);")


def html_to_text(value: object) -> str:
    """Sanitise to a few structural tags without attributes, then turn those into line breaks.

    The regexes only ever see nh3's serialised output (known tags, no attributes), never raw
    input, so they cannot be fooled by malformed markup. Text without tags or entities is plain
    text already: its line breaks are kept, so converting a converted text changes nothing.
    """
    text = require_text(value)
    if not (text.isascii() and text.replace("\n", "").replace("\t", "").isprintable()):
        text = without_controls(text)  # nh3 cannot take lone surrogates
    if not _MARKUP.search(text):
        return clean_multiline(text)
    safe = _CLEANER.clean(text)
    flowed = flow_spaces(safe)
    items = flowed.replace("<li>", "\n- ").replace("</li>", "")
    if "<br" in items:
        items = _BREAK.sub("\n", items)
    broken = _BLOCK_EDGE.sub("\n\n", items)
    return clean_multiline(unescape(_ANY_TAG.sub("", broken)).replace("\xa0", " "))


_TAG_START = re.compile(r"<(?=[A-Za-z!/?])")


def _one_line(text: str) -> str:
    return clean_text(html_to_text(text))


def html_line(value: object) -> str:
    """One line of plain text from text that may hold HTML (a product or campaign name).

    Text without tags or entities is only cleaned, so `A < B`, `5<6`, `Q&A;` and `Salt & Pepper`
    stay as written. Otherwise tags go, entities are decoded and paragraphs join into one line.
    Decoded text that a second pass would read as markup again (`&lt;b&gt;` → `<b>`) is given
    back escaped (`&lt;b>`), so normalising a normalised name changes nothing.
    """
    text = clean_text(value)  # controls go first: removed, they could join a `<` to a letter
    if not _MARKUP.search(text):
        return text
    line = _one_line(text)
    if _MARKUP.search(line) and _one_line(line) != line:
        return _TAG_START.sub("&lt;", line.replace("&", "&amp;"))
    return line
