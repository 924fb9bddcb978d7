"""The `q` of files.list: the subset of Drive's query language the sandbox understands.

    name = 'x'   mimeType = 'x'   (or !=)   'ID' in parents   trashed = false
    appProperties has { key='k' and value='v' }      joined with `and`

Anything else is refused with `invalidQuery`: a query the sandbox silently ignored would return
files the real Drive would not."""

import re
from dataclasses import dataclass

from sqlalchemy import ColumnElement

from app.sandbox.drive.errors import InvalidQuery
from app.sandbox.drive.models import DriveFile


@dataclass(frozen=True)
class FieldIs:
    field: str
    value: str
    negated: bool


@dataclass(frozen=True)
class InParents:
    parent_id: str


@dataclass(frozen=True)
class Trashed:
    value: bool


@dataclass(frozen=True)
class HasAppProperty:
    key: str
    value: str


Condition = FieldIs | InParents | Trashed | HasAppProperty

_TOKEN = re.compile(r"\s*(?:(?P<string>'(?:[^'\\]|\\.)*')|(?P<symbol>!=|=|\{|\})|(?P<word>\w+))")
_ESCAPE = re.compile(r"\\(.)")
_COMPARED_FIELDS = {"name", "mimeType"}


def tokenize(q: str) -> list[str]:
    tokens: list[str] = []
    position = 0
    while q[position:].strip():
        match = _TOKEN.match(q, position)
        if match is None:
            raise InvalidQuery(f"cannot read the query from character {position}.")
        tokens.append(match.group(match.lastgroup or ""))
        position = match.end()
    return tokens


def unquote(token: str) -> str:
    if len(token) < 2 or token[0] != "'" or token[-1] != "'":
        raise InvalidQuery(f"expected a quoted string, found {token!r}.")
    body = token[1:-1]
    if any(escaped not in "'\\" for escaped in _ESCAPE.findall(body)):
        raise InvalidQuery("only \\' and \\\\ may be escaped in a string.")
    return _ESCAPE.sub(r"\1", body)


class _Parser:
    def __init__(self, tokens: list[str]) -> None:
        self.tokens = tokens
        self.position = 0

    def take(self) -> str:
        if self.position >= len(self.tokens):
            raise InvalidQuery("the query ends too early.")
        self.position += 1
        return self.tokens[self.position - 1]

    def expect(self, *accepted: str) -> str:
        token = self.take()
        if token.lower() not in accepted:
            raise InvalidQuery(f"expected {' or '.join(accepted)}, found {token!r}.")
        return token.lower()

    def at_end(self) -> bool:
        return self.position == len(self.tokens)

    def conditions(self) -> list[Condition]:
        found = [self.condition()]
        while not self.at_end():
            self.expect("and")
            found.append(self.condition())
        return found

    def condition(self) -> Condition:
        token = self.take()
        if token.startswith("'"):
            self.expect("in")
            self.expect("parents")
            return InParents(unquote(token))
        if token in _COMPARED_FIELDS:
            negated = self.expect("=", "!=") == "!="
            return FieldIs(token, unquote(self.take()), negated)
        if token == "trashed":
            negated = self.expect("=", "!=") == "!="
            return Trashed((self.expect("true", "false") == "true") != negated)
        if token == "appProperties":
            return self.app_property()
        raise InvalidQuery(f"the sandbox Drive does not support {token!r} in queries.")

    def app_property(self) -> HasAppProperty:
        self.expect("has")
        self.expect("{")
        self.expect("key")
        self.expect("=")
        key = unquote(self.take())
        self.expect("and")
        self.expect("value")
        self.expect("=")
        value = unquote(self.take())
        self.expect("}")
        return HasAppProperty(key, value)


def parse_query(q: str | None) -> list[Condition]:
    if q is None or not q.strip():
        return []
    return _Parser(tokenize(q)).conditions()


def to_filter(condition: Condition) -> ColumnElement[bool]:
    match condition:
        case FieldIs(field, value, negated):
            column = DriveFile.name if field == "name" else DriveFile.mime_type
            return column != value if negated else column == value
        case InParents("root"):
            return DriveFile.parent_id.is_(None)
        case InParents(parent_id):
            return DriveFile.parent_id == parent_id
        case Trashed(value):
            return DriveFile.trashed.is_(value)
        case HasAppProperty(key, value):
            stored: ColumnElement[str] = DriveFile.app_properties[key].as_string()
            return stored == value
