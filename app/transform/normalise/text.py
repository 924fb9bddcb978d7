"""Plain text: NFC, no control characters, trimmed; single-line or multi-line."""

import re
import unicodedata

from app.transform.errors import NormalisationError

_LINE_BREAKS = re.compile(r"\r\n?|[\x0b\x0c\x85\u2028\u2029]")
# Removed: C0/C1 controls except \n and \t, lone surrogates (from broken escapes), private-use
# characters, and invisible format characters that only get in the way (soft hyphen, zero-width
# space, word joiner, BOM). ZWJ/ZWNJ and bidi marks are kept: they carry meaning.
_DROPPED = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff\ue000-\uf8ff\U000f0000-\U0010ffff"
    "\u00ad\u200b\u2060\ufeff]"
)
_SPACES = re.compile(r"\s+")
_LINE_SPACES = re.compile(r"[^\S\n\t]+")
_OTHER_LINE_SPACES = re.compile(r"[^\S\n\t ]")  # whitespace that is not a space, \n or \t
_LINE_ENDS = re.compile(r"[ \t]+\n")
_ASCII_CONTROLS = bytes([*range(0x09), *range(0x0B, 0x20), 0x7F])  # all but \t and \n
_CONTROLS_TO_NUL = bytes.maketrans(_ASCII_CONTROLS, bytes(len(_ASCII_CONTROLS)))


def without_controls(text: str) -> str:
    return _DROPPED.sub("", text)


def is_plain_ascii(text: str) -> bool:
    """ASCII without control characters but \n and \t (a byte table: isprintable is slower)."""
    return text.isascii() and 0 not in text.encode().translate(_CONTROLS_TO_NUL)


def _nfc_without_controls(text: str) -> str:
    """Controls go before NFC: removed from between a letter and its accent, they would leave
    a pair that composes only on a second pass."""
    if is_plain_ascii(text):
        return text  # nothing to change: no other controls, and ASCII is NFC already
    return unicodedata.normalize("NFC", without_controls(_LINE_BREAKS.sub("\n", text)))


def require_text(value: object) -> str:
    if not isinstance(value, str):
        raise NormalisationError("invalid_type", f"Expected text, got {type(value).__name__}.")
    return value


def clean_text(value: object) -> str:
    """One line: whitespace runs (newlines and tabs too) become one space."""
    if isinstance(value, str) and value.isascii() and value.isprintable():
        # The same, cheaper: only spaces can need cleaning, and usually none does.
        if "  " in value or value[:1] == " " or value[-1:] == " ":
            return " ".join(value.split())
        return value
    return _SPACES.sub(" ", _nfc_without_controls(require_text(value))).strip()


def flow_spaces(text: str) -> str:
    """`re.sub(r"\\s+", " ", text)` at C speed: str.split and `\\s` agree on whitespace."""
    words = text.split()
    if not words:
        return " " if text else ""
    flowed = " ".join(words)
    if text[0].isspace():
        flowed = " " + flowed
    return flowed + " " if text[-1].isspace() else flowed


def _line_spaces(text: str) -> str:
    """Runs of spaces (and other whitespace but line breaks and tabs) → one space. Controls
    and line breaks are normalised already: in ASCII text only spaces, tabs and \n are left."""
    if "  " in text or (not text.isascii() and _OTHER_LINE_SPACES.search(text)):
        return _LINE_SPACES.sub(" ", text)
    return text  # the usual case: only single spaces, nothing to change


def _trim_line_ends(text: str) -> str:
    """Spaces and tabs before each \n removed (str.replace is much faster than a regex
    scan; a long run of tabs goes to the regex, so this never turns quadratic)."""
    if "\t" not in text:  # spaces come single from _line_spaces: one replace takes them all
        return text.replace(" \n", "\n")
    for _ in range(3):
        if " \n" not in text and "\t\n" not in text:
            return text
        text = text.replace(" \n", "\n").replace("\t\n", "\n")
    return _LINE_ENDS.sub("\n", text)


def _at_most_one_blank_line(text: str) -> str:
    """`\n{3,}` → two: each pass shortens every run by a third, so passes grow as log(n)."""
    while "\n\n\n" in text:
        text = text.replace("\n\n\n", "\n\n")
    return text


def tidy_lines(text: str) -> str:
    """clean_multiline for text that is NFC already and has no controls but \n and \t."""
    text = _line_spaces(text)  # not across lines
    # Only spaces, tabs and \n are whitespace now; the last line's end goes with strip().
    return _at_most_one_blank_line(_trim_line_ends(text)).strip()


def clean_multiline(value: object) -> str:
    """Paragraphs kept: lines trimmed at the end, at most one blank line in a row, tabs kept."""
    return tidy_lines(_nfc_without_controls(require_text(value)))
