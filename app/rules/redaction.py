"""Masking personal values before they are reported or stored with a failure."""

from typing import Any

MAX_REPORTED_LENGTH = 200
MASK = "***"


def _mask_email(value: str) -> str:
    local, _, domain = value.partition("@")
    name, dot, suffix = domain.rpartition(".")
    masked_domain = f"{name[:1]}{MASK}{dot}{suffix}" if dot else f"{domain[:1]}{MASK}"
    return f"{local[:1]}{MASK}@{masked_domain}"


def _mask_phone(value: str) -> str:
    if len(value) <= 5:
        return MASK
    return value[:3] + "*" * (len(value) - 5) + value[-2:]


def mask(value: Any) -> Any:
    """Enough to recognise a value one holds (first letter, an email's domain suffix, a phone's
    country code and last digits), never enough to read it."""
    if not isinstance(value, str):
        return MASK
    if "@" in value:
        return _mask_email(value)
    if value.startswith("+") and value[1:].isdigit():
        return _mask_phone(value)
    return f"{value[:1]}{MASK}" if value else value


def reported(value: Any, personal: bool) -> Any:
    """The value as a failure reports it: masked when personal, long text cut short."""
    if personal:
        return mask(value)
    if isinstance(value, str) and len(value) > MAX_REPORTED_LENGTH:
        return value[:MAX_REPORTED_LENGTH] + "…"
    if isinstance(value, (list, dict)):
        return None  # structures are named by the path; their content is in the record itself
    return value


def mask_all(value: Any) -> Any:
    """Every leaf masked, the shape kept (keys, list lengths, booleans and nulls)."""
    if isinstance(value, dict):
        return {key: mask_all(item) for key, item in value.items()}
    if isinstance(value, list):
        return [mask_all(item) for item in value]
    if value is None or isinstance(value, bool):
        return value
    return mask(value)


def mask_paths(document: Any, paths: list[tuple[str | int, ...]]) -> Any:
    """A copy of the document with the values at the given (star-free) paths masked."""
    for segments in paths:
        document = _masked_at(document, segments)
    return document


def _masked_at(node: Any, segments: tuple[str | int, ...]) -> Any:
    if not segments:
        return mask_all(node)
    head, rest = segments[0], segments[1:]
    if isinstance(node, dict) and head in node:
        return {**node, head: _masked_at(node[head], rest)}
    return node
