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
_BLANK_LINES = re.compile(r"\n{3,}")


def without_controls(text: str) -> str:
    return _DROPPED.sub("", text)


def _nfc_without_controls(text: str) -> str:
    """Controls go before NFC: removed from between a letter and its accent, they would leave
    a pair that composes only on a second pass."""
    if text.isascii() and text.replace("\n", "").replace("\t", "").isprintable():
        return text  # nothing to change: no other controls, and ASCII is NFC already
    return unicodedata.normalize("NFC", without_controls(_LINE_BREAKS.sub("\n", text)))


def require_text(value: object) -> str:
    if not isinstance(value, str):
        raise NormalisationError("invalid_type", f"Expected text, got {type(value).__name__}.")
    return value


def clean_text(value: object) -> str:
    """One line: whitespace runs (newlines and tabs too) become one space."""
    if isinstance(value, str) and value.isascii() and value.isprintable():
        return " ".join(value.split())  # the same, cheaper: only spaces can need cleaning
    return _SPACES.sub(" ", _nfc_without_controls(require_text(value))).strip()


def clean_multiline(value: object) -> str:
    """Paragraphs kept: lines trimmed at the end, at most one blank line in a row, tabs kept."""
    text = _LINE_SPACES.sub(" ", _nfc_without_controls(require_text(value)))  # not across lines
    lines = "\n".join(line.rstrip() for line in text.split("\n"))
    return _BLANK_LINES.sub("\n\n", lines).strip()
