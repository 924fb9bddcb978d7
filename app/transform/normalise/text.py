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


def _without_controls(text: str) -> str:
    return _DROPPED.sub("", text)


def require_text(value: object) -> str:
    if not isinstance(value, str):
        raise NormalisationError("invalid_type", f"Expected text, got {type(value).__name__}.")
    return value


def clean_text(value: object) -> str:
    """One line: whitespace runs (newlines and tabs too) become one space."""
    text = _LINE_BREAKS.sub("\n", unicodedata.normalize("NFC", require_text(value)))
    return _SPACES.sub(" ", _without_controls(text)).strip()


def clean_multiline(value: object) -> str:
    """Paragraphs kept: lines trimmed at the end, at most one blank line in a row, tabs kept."""
    text = _LINE_BREAKS.sub("\n", unicodedata.normalize("NFC", require_text(value)))
    lines = (_LINE_SPACES.sub(" ", line).rstrip() for line in _without_controls(text).split("\n"))
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()
