"""A rule set's compiled steps as one generated Python function, for the usual record.

The function does what the steps do on a record where every read finds the container it
expects and every transform succeeds: plain reads as dict lookups, the transform called
directly, writes in place, an element group as one loop. Anything else (a container of the
wrong type, an absent required value, a transform that raises) raises `Unusual`, and the
caller maps the record again with the steps themselves, so errors (codes, messages, paths
and order) are always the steps' own. Steps the generator does not cover are called as they
are from inside the function.

The source is built from validated rule data only (parsed paths, the rule set's own
objects), never from record data; keys and indices are written with repr().
"""

from typing import Any

from app.errors import FieldError
from app.transform import mapping
from app.transform.context import Scope
from app.transform.paths import Segment


class Unusual(Exception):
    """The record leaves the usual way: map it with the steps instead."""


class _Source:
    """The generated function's text and the objects its names stand for."""

    def __init__(self) -> None:
        self.lines = ["def mapped(scope, data, errors):", "    record = scope.record"]
        self.names: dict[str, Any] = {
            "present": mapping.present,
            "Unusual": Unusual,
            "element_item": mapping.element_item,
        }

    def name(self, prefix: str, value: Any) -> str:
        """A name in the function's globals for one object of the rule set."""
        name = f"{prefix}_{len(self.names)}"
        self.names[name] = value
        return name

    def add(self, indent: int, *lines: str) -> None:
        self.lines.extend("    " * indent + line for line in lines)

    def function(self) -> "mapping.Step":
        namespace = dict(self.names)
        exec(compile("\n".join(self.lines), "<mapping rules>", "exec"), namespace)
        mapped: mapping.Step = namespace["mapped"]
        return mapped


_PRESENT = "(v != '' and not v.isspace()) if v.__class__ is str else present(v)"


def _read(source: _Source, indent: int, node: str, segments: tuple[Segment, ...]) -> None:
    """`v = get(node, segments)`, where a wrong container on the way is Unusual."""
    first, *rest = segments
    source.add(indent, f"v = {node}.get({first!r})")
    for part in rest:
        kind, step = (
            ("list", f"v = v[{part!r}] if {part!r} < len(v) else None")
            if isinstance(part, int)
            else ("dict", f"v = v.get({part!r})")
        )
        source.add(indent, "if v is not None:")
        source.add(indent + 1, f"if not isinstance(v, {kind}):", "    raise Unusual", step)


def _apply(source: _Source, indent: int, rule: "mapping._Compiled", write: str) -> None:
    """Transform a present value and `write` its result (in `r`) unless None; an absent
    value takes the rule's default, or is Unusual when required."""
    apply, args = source.name("apply", rule.apply), source.name("args", rule.args)
    source.add(indent, f"if v is not None and ({_PRESENT}):")
    source.add(indent + 1, f"r = {apply}(v, {args}, scope)", "if r is not None:")
    source.add(indent + 2, *write.splitlines())
    if rule.rule.default is not None:
        put, default = source.name("put", rule.put), source.name("default", rule.rule.default)
        source.add(indent, "else:", f"    {put}(data, {default})")
    elif rule.rule.required:
        source.add(indent, "else:", "    raise Unusual")


def _one(source: _Source, rule: "mapping._Compiled") -> None:
    """A `_run_one` rule: one plain source into one plain target."""
    _read(source, 1, "record", rule.sources[0].segments)
    if len(rule.path) == 1:
        _apply(source, 1, rule, f"data[{rule.path[0]!r}] = r")
    else:
        _apply(source, 1, rule, f"{source.name('put', rule.put)}(data, r)")


def _loop(source: _Source, rules: list["mapping._Compiled"]) -> None:
    """Element rules over one array (an `_ElementGroup`, or one `_run_each` rule)."""
    first = rules[0]
    assert first.fields is not None
    list_key = first.fields[0]
    _read(source, 1, "record", first.sources[0].prefix)
    source.add(1, "if v is not None and not isinstance(v, list):", "    raise Unusual", "a = v")
    source.add(1, "if a:", f"    items = data.get({list_key!r})")
    source.add(2, "for index, element in enumerate(a):", "    item = None")
    if any(rule.sources[0].suffix for rule in rules):
        source.add(3, "if not isinstance(element, dict):", "    raise Unusual")
    for rule in rules:
        assert rule.fields is not None
        suffix = rule.sources[0].suffix
        source.add(3, f"v = element.get({suffix[0]!r})" if suffix else "v = element")
        write = (
            "if item is None:\n"
            f"    item, items = element_item(data, items, {list_key!r}, index)\n"
            f"item[{rule.fields[1]!r}] = r"
        )
        _apply(source, 3, rule, write)


def _generic(source: _Source, step: "mapping.Step") -> None:
    source.add(1, f"{source.name('step', step)}(scope, data, errors)")


def _readable(segments: tuple[Segment, ...]) -> bool:
    """Paths `_read` writes out: from a record's key, through keys and indices."""
    return bool(segments) and isinstance(segments[0], str)


def _covered_one(rule: "mapping._Compiled") -> bool:
    return rule.run == rule._run_one and _readable(rule.sources[0].segments)


def _covered_loop(rules: list["mapping._Compiled"]) -> bool:
    """Element rules reading the element itself or one key of it, without defaults."""
    return all(
        rule.fields is not None
        and rule.rule.default is None
        and len(rule.sources[0].suffix) <= 1
        and _readable(rule.sources[0].prefix)
        and all(isinstance(part, str) for part in rule.sources[0].suffix)
        for rule in rules
    )


def generate(steps: tuple["mapping.Step", ...]) -> "mapping.Step":
    """One function doing what `steps` (a rule set's `compiled()` steps) do, usual records."""
    source = _Source()
    for step in steps:
        run = getattr(step, "__self__", None)
        if isinstance(run, mapping._ElementGroup) and _covered_loop(run.rules):
            _loop(source, run.rules)
        elif isinstance(run, mapping._Compiled) and run.run == run._run_each:
            if _covered_loop([run]):
                _loop(source, [run])
            else:
                _generic(source, step)
        elif isinstance(run, mapping._Compiled) and _covered_one(run):
            _one(source, run)
        else:
            _generic(source, step)
    return source.function()


def run(
    mapped: "mapping.Step", steps: tuple["mapping.Step", ...], scope: Scope, data: dict[str, Any]
) -> tuple[dict[str, Any], list[FieldError]]:
    """The generated function's result, or the steps' when the record is unusual."""
    errors: list[FieldError] = []
    fresh = dict(data)
    try:
        mapped(scope, data, errors)
    except Exception:  # Unusual, or what the steps would raise too: theirs is the answer
        errors = []
        data = fresh
        scope = Scope(scope.defaults, scope.record)
        for step in steps:
            step(scope, data, errors)
    return data, errors
