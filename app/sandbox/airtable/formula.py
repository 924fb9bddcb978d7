"""filterByFormula, the part of Airtable's formula language the gateway uses: comparisons
(`{Field} = 'value'`, `!=`, `<`, `<=`, `>`, `>=`) of field references, strings and numbers,
combined with AND(), OR(), NOT(), TRUE(), FALSE(), BLANK(). Anything else is rejected with
INVALID_FILTER_BY_FORMULA, never silently ignored."""

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from app.sandbox.airtable.errors import invalid_formula

Lookup = Callable[[str], Any]
Node = Callable[[Lookup], Any]

_TOKEN = re.compile(
    r"""\s*(?:
      (?P<field>\{[^}]*\})
    | (?P<string>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")
    | (?P<number>\d+(?:\.\d+)?)
    | (?P<op>!=|<=|>=|=|<|>)
    | (?P<punct>[(),])
    | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
    )""",
    re.VERBOSE,
)
_ESCAPE = re.compile(r"\\(.)")


@dataclass(frozen=True)
class Token:
    kind: str
    text: str


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    position = 0
    while text[position:].strip():
        match = _TOKEN.match(text, position)
        if match is None or match.lastgroup is None:
            raise invalid_formula(f"unexpected text at {text[position:].strip()[:20]!r}")
        tokens.append(Token(match.lastgroup, match.group(match.lastgroup)))
        position = match.end()
    return tokens


def as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, list):
        return ", ".join(as_text(item) for item in value)
    return str(value)


def as_number(value: Any) -> float | None:
    if value is None:
        return 0.0
    if isinstance(value, bool | int | float):
        return float(value)
    return None


def compare(operator: str, left: Any, right: Any) -> bool:
    """Numbers compare as numbers (a blank cell counts as 0); everything else as text."""
    numeric = isinstance(left, int | float) or isinstance(right, int | float)
    a: Any = as_number(left) if numeric else as_text(left)
    b: Any = as_number(right) if numeric else as_text(right)
    if a is None or b is None:
        a, b = as_text(left), as_text(right)
    results = {"=": a == b, "!=": a != b, "<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}
    return bool(results[operator])


def truthy(value: Any) -> bool:
    return value not in (None, "", 0, False, [])


_CONSTANTS: dict[str, Any] = {"TRUE": True, "FALSE": False, "BLANK": None}
_ARITY = {
    "AND": (1, 99),
    "OR": (1, 99),
    "NOT": (1, 1),
    "TRUE": (0, 0),
    "FALSE": (0, 0),
    "BLANK": (0, 0),
}


@dataclass
class Parser:
    tokens: list[Token]
    position: int = 0
    field_names: set[str] = field(default_factory=set)

    def peek(self) -> Token | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def take(self, text: str | None = None) -> Token:
        token = self.peek()
        if token is None or (text is not None and token.text != text):
            raise invalid_formula(f"expected {text or 'more'} but the formula ended or differs")
        self.position += 1
        return token

    def expression(self) -> Node:
        left = self.operand()
        token = self.peek()
        if token is None or token.kind != "op":
            return left
        operator = self.take().text
        right = self.operand()
        return lambda cells: compare(operator, left(cells), right(cells))

    def operand(self) -> Node:
        token = self.take()
        if token.kind == "field" or (token.kind == "name" and self._next_text() != "("):
            return self.reference(token.text.strip("{}"))
        if token.kind == "string":
            text = _ESCAPE.sub(r"\1", token.text[1:-1])
            return lambda _: text
        if token.kind == "number":
            number = float(token.text)
            return lambda _: number
        if token.kind == "name":
            return self.call(token.text.upper())
        if token.text == "(":
            inner = self.expression()
            self.take(")")
            return inner
        raise invalid_formula(f"unexpected {token.text!r}")

    def _next_text(self) -> str | None:
        token = self.peek()
        return token.text if token else None

    def reference(self, name: str) -> Node:
        self.field_names.add(name)
        return lambda cells: cells(name)

    def call(self, name: str) -> Node:
        if name not in _ARITY:
            raise invalid_formula(f"the function {name}() is not supported by the sandbox")
        arguments = self.arguments()
        lowest, highest = _ARITY[name]
        if not lowest <= len(arguments) <= highest:
            raise invalid_formula(f"{name}() takes {lowest} to {highest} arguments")
        if name == "AND":
            return lambda cells: all(truthy(argument(cells)) for argument in arguments)
        if name == "OR":
            return lambda cells: any(truthy(argument(cells)) for argument in arguments)
        if name == "NOT":
            return lambda cells: not truthy(arguments[0](cells))
        constant = _CONSTANTS[name]
        return lambda _: constant

    def arguments(self) -> list[Node]:
        self.take("(")
        arguments: list[Node] = []
        while self._next_text() != ")":
            if arguments:
                self.take(",")
            arguments.append(self.expression())
        self.take(")")
        return arguments


@dataclass(frozen=True)
class Formula:
    node: Node
    field_names: frozenset[str]

    def matches(self, cells: Lookup) -> bool:
        return truthy(self.node(cells))


def parse_formula(text: str) -> Formula:
    parser = Parser(tokenize(text))
    node = parser.expression()
    if parser.peek() is not None:
        raise invalid_formula(f"unexpected {parser.take().text!r} after the expression")
    return Formula(node, frozenset(parser.field_names))
