"""Transforms of single values: ids, integers, text, HTML, emails, phones, countries."""

import re
from typing import Any

from pydantic import Field

from app.transform import normalise as norm
from app.transform.context import Scope
from app.transform.transforms.base import Args, wrong_type

_INTEGER = re.compile(r"\s*[+-]?\d{1,18}\s*")


def copy(value: Any, args: Args, scope: Scope) -> Any:
    return value


# The usual case of identifier and integer (an int) and of text (printable ASCII) is written
# out in the generated mapping functions too (app.transform.codegen._usual): change both.


def identifier(value: Any, args: Args, scope: Scope) -> str:
    if value.__class__ is int:  # digits: nothing to clean (the usual numeric id)
        return str(value)
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise wrong_type(value, "an id (string or integer)")
    return norm.clean_text(str(value))


class IntegerArgs(Args):
    offset: int = Field(default=0, description="Added to the value, e.g. -1 for 1-based positions.")


def integer(value: Any, args: IntegerArgs, scope: Scope) -> int:
    if isinstance(value, str) and _INTEGER.fullmatch(value):
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise wrong_type(value, "an integer")
    return value + args.offset


def text(value: Any, args: Args, scope: Scope) -> str:
    if value.__class__ is str and value.isascii() and value.isprintable():
        return " ".join(value.split())  # clean_text's fast path, without its call (per value)
    return norm.clean_text(value)


def multiline(value: Any, args: Args, scope: Scope) -> str:
    return norm.clean_multiline(value)


def html_to_text(value: Any, args: Args, scope: Scope) -> str:
    return norm.html_to_text(value)


def html_line(value: Any, args: Args, scope: Scope) -> str:
    return norm.html_line(value)


def email(value: Any, args: Args, scope: Scope) -> str:
    return norm.normalise_email(value)


class PhoneArgs(Args):
    region: str | None = Field(
        default=None, description="Region for national numbers; default: the client's region."
    )


def phone(value: Any, args: PhoneArgs, scope: Scope) -> str:
    return norm.normalise_phone(value, args.region or scope.defaults.region)


def country(value: Any, args: Args, scope: Scope) -> str:
    return norm.normalise_country(value)
