"""HTML → plain text with nh3: scripts and styles go with their content, paragraphs and line
breaks stay as blank lines and newlines, entities are decoded. Names get the one-line form."""

import re
from html import unescape

import nh3

from app.transform.normalise.text import (
    clean_multiline,
    clean_text,
    flow_spaces,
    is_plain_ascii,
    require_text,
    tidy_lines,
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
    attribute_filter=lambda element, attribute, value: None,  # title and lang too
    clean_content_tags=_DROPPED_WITH_CONTENT,
    strip_comments=True,
)
_BLOCK_NAMES = "|".join(sorted(_BLOCKS, key=lambda name: (len(name), name)))  # p, ul first
_BREAK = re.compile(r"<br\s*/?>")
_BLOCK_EDGE = re.compile(r"</?(?:" + _BLOCK_NAMES + r")\s*/?>")
# Block edges in a row (`</p> <p>`, and the \n of an item or break after them) make one paragraph
# break: the spaces and extra line breaks between them would be trimmed and collapsed anyway.
_BLOCK_EDGES_IN_A_ROW = re.compile(
    r"</?(?:" + _BLOCK_NAMES + r")>(?: ?</?(?:" + _BLOCK_NAMES + r")>)*(?: ?\n)?"
)
_ANY_TAG = re.compile(r"<[^>]*>")
_MARKUP = re.compile(r"<[A-Za-z!/?]|&(?:#[0-9]+|#[xX][0-9a-fA-F]+|[A-Za-z][A-Za-z0-9]*);")


def html_to_text(value: object) -> str:
    """Sanitise to a few structural tags without attributes, then turn those into line breaks.

    The regexes only ever see nh3's serialised output (known tags, text escaped), never raw
    input, so they cannot be fooled by malformed markup. Text without tags or entities is plain
    text already: its line breaks are kept, so converting a converted text changes nothing.
    """
    text = require_text(value)
    if not is_plain_ascii(text):
        text = without_controls(text)  # nh3 cannot take lone surrogates
    if not _has_markup(text):
        return clean_multiline(text)
    safe = _CLEANER.clean(text)
    if is_plain_ascii(safe):
        return _plain_ascii_markup_to_text(safe)
    return _markup_to_text(safe)


def _has_markup(text: str) -> bool:
    """Tags or entities: most text has no `<` and no `&`, which str finds faster than a regex."""
    return ("<" in text or "&" in text) and _MARKUP.search(text) is not None


def _markup_to_text(safe: str) -> str:
    """The general way, for whatever nh3 wrote."""
    items = flow_spaces(safe).replace("<li>", "\n- ").replace("</li>", "")
    if "<br" in items:
        items = _BREAK.sub("\n", items)
    broken = _BLOCK_EDGE.sub("\n\n", items)
    return clean_multiline(unescape(_ANY_TAG.sub("", broken)).replace("\xa0", " "))


def _plain_ascii_markup_to_text(safe: str) -> str:
    """_markup_to_text in fewer passes for nh3's usual output: bare tags, only the entities
    `&amp; &lt; &gt; &nbsp;`, and nothing for clean_multiline to normalise."""
    items = _flow_plain_ascii(safe).replace("<li>", "\n- ").replace("</li>", "")
    broken = _BLOCK_EDGES_IN_A_ROW.sub("\n\n", items.replace("<br>", "\n"))
    decoded = broken.replace("&lt;", "<").replace("&gt;", ">").replace("&nbsp;", " ")
    if "<" in broken or decoded.count("&") != decoded.count("&amp;"):
        return _markup_to_text(safe)  # a tag with attributes (nh3 keeps lang and title), say
    return tidy_lines(decoded.replace("&amp;", "&"))  # the & of &amp; last: decoded once


def _flow_plain_ascii(text: str) -> str:
    """flow_spaces for text whose only whitespace is spaces, \n and \t; usually each \n
    stands alone between tags, and replacing it is all there is to do."""
    spaced = text.replace("\n", " ")
    if "  " in spaced or "\t" in spaced:
        return flow_spaces(spaced)
    return spaced


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
    if not _has_markup(text):
        return text
    line = _one_line(text)
    if _has_markup(line) and _one_line(line) != line:
        return _TAG_START.sub("&lt;", line.replace("&", "&amp;"))
    return line
