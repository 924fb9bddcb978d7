"""A rule set's compiled steps as one generated Python function, for the usual record.

The function does what the steps do on a record where every read finds the container it
expects and every transform succeeds: plain reads as dict lookups (each record path read once),
the transform called directly (or, for the simplest transforms, its usual case written out),
writes in place, an element group (or consecutive element rules of several sources over the
same arrays) as one loop. Anything else (a container of the wrong type, an absent required
value, a transform that raises) raises `Unusual`, and the caller maps the record again with the
steps themselves, so errors (codes, messages, paths and order) are always the steps' own.
Steps the generator does not cover are called as they are from inside the function.

The source is built from validated rule data only (parsed paths, the rule set's own
objects), never from record data; keys, indices and numbers are written with repr().
"""

from dataclasses import dataclass
from typing import Any

from app.errors import FieldError
from app.transform import mapping, paths
from app.transform.context import Scope
from app.transform.paths import Segment
from app.transform.transforms import choices, values


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
        self.reads: dict[tuple[Segment, ...], str] = {}  # record paths read → their locals

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


# `present(v)` for v not None, its usual cases (text, arrays, objects) without the call.
_PRESENT = (
    "(v != '' and not v.isspace()) if v.__class__ is str"
    " else bool(v) if v.__class__ is list or v.__class__ is dict else present(v)"
)


@dataclass(frozen=True)
class _Usual:
    """A transform's usual case written out: where `test` holds for the value `v`, the result
    is `result`, without a call; other values go to the transform itself."""

    test: str
    result: str
    blank_is_absent: bool = False  # the result is '' exactly where `v` is an absent (blank) value
    may_be_none: bool = False


def _usual(source: _Source, rule: "mapping._Compiled") -> _Usual | None:
    """The usual case of the simplest transforms: each is the transform's own first branch
    (for `lookup`, a key found as it is), written out here."""
    apply, args = rule.apply, rule.args
    if apply is values.text:
        test = "v.__class__ is str and v.isascii() and v.isprintable()"
        return _Usual(test, "' '.join(v.split())", blank_is_absent=True)
    if apply is values.identifier:
        return _Usual("v.__class__ is int", "str(v)")
    if apply is values.integer and isinstance(args, values.IntegerArgs):
        return _Usual("v.__class__ is int", f"v + {int(args.offset)!r}" if args.offset else "v")
    if apply is choices.lookup and isinstance(args, choices.LookupArgs):
        table = source.name("map", args.map)  # a blank key is absent: the test leaves it out
        return _Usual(
            f"v.__class__ is str and (k := v.strip()) and k in {table}",
            f"{table}[k]",
            may_be_none=True,
        )
    return None


def _read(source: _Source, segments: tuple[Segment, ...]) -> str:
    """The local holding the record's value at `segments`, read (once per record) where first
    needed, at the function's top level; a wrong container on the way is Unusual."""
    local = source.reads.get(segments)
    if local is not None:
        return local
    *head, part = segments
    node = _read(source, tuple(head)) if head else None
    local = f"p{len(source.reads)}"
    if node is None:
        source.add(1, f"{local} = record.get({part!r})")
    else:
        kind, step = (
            ("list", f"{node}[{part!r}] if {part!r} < len({node}) else None")
            if isinstance(part, int)
            else ("dict", f"{node}.get({part!r})")
        )
        source.add(1, f"if {node} is None:", f"    {local} = None")
        source.add(1, f"elif isinstance({node}, {kind}):", f"    {local} = {step}")
        source.add(1, "else:", "    raise Unusual")
    source.reads[segments] = local
    return local


def _present_elements(source: _Source, rule_source: "mapping._Source") -> str:
    """The local holding a `[*]` source's present element values (its `value`), made once per
    record at the function's top level."""
    local = source.reads.get(rule_source.segments)
    if local is not None:
        return local
    array = _read(source, rule_source.prefix)
    local = f"p{len(source.reads)}"
    source.add(1, f"if {array} is not None and not isinstance({array}, list):", "    raise Unusual")
    source.add(1, f"{local} = []", f"for v in {array} or ():")
    _walk(source, 2, "v", rule_source.suffix)
    source.add(2, f"if v is not None and ({_PRESENT}):", f"    {local}.append(v)")
    source.reads[rule_source.segments] = local
    return local


def _absent(source: _Source, rule: "mapping._Compiled") -> list[str]:
    """What an absent value does: put the rule's default, be Unusual when required, or nothing."""
    if rule.rule.default is not None:
        put, default = source.name("put", rule.put), source.name("default", rule.rule.default)
        return [f"{put}(data, {default})"]
    if rule.rule.required:
        return ["raise Unusual"]
    return []


def _present(rule: "mapping._Compiled") -> str:
    """The rule's test of a value `v` that is not None."""
    return _PRESENT if rule.present is mapping.present else "True"


def _apply(source: _Source, indent: int, rule: "mapping._Compiled", write: list[str]) -> None:
    """Transform a present `v` and `write` its result (in `r`) unless None; an absent value
    does what `_absent` says."""
    absent = _absent(source, rule)
    usual = _usual(source, rule) if rule.present is mapping.present else None
    branch = "if"
    if usual is not None:
        source.add(indent, f"if {usual.test}:", f"    r = {usual.result}")
        if usual.blank_is_absent or usual.may_be_none:
            source.add(indent + 1, "if r:" if usual.blank_is_absent else "if r is not None:")
            source.add(indent + 2, *write)
            if usual.blank_is_absent and absent:
                source.add(indent + 1, "else:")
                source.add(indent + 2, *absent)
        else:
            source.add(indent + 1, *write)
        branch = "elif"
    if rule.apply is values.copy:
        call = "v"  # the transform returns its value
    else:
        call = f"{source.name('apply', rule.apply)}(v, {source.name('args', rule.args)}, scope)"
    source.add(indent, f"{branch} v is not None and ({_present(rule)}):", f"    r = {call}")
    source.add(indent + 1, "if r is not None:")
    source.add(indent + 2, *write)
    if absent:
        source.add(indent, "else:")
        source.add(indent + 1, *absent)


def _write(source: _Source, rule: "mapping._Compiled") -> list[str]:
    """`r` into a star-free target; one or two keys deep as the rule's putter does it."""
    path = rule.path
    if len(path) == 1:
        return [f"data[{path[0]!r}] = r"]
    if len(path) == 2 and isinstance(path[0], str) and isinstance(path[1], str):
        return [
            f"node = data.get({path[0]!r})",
            "if node is None:",
            f"    node = data[{path[0]!r}] = {{}}",
            f"node[{path[1]!r}] = r",
        ]
    return [f"{source.name('put', rule.put)}(data, r)"]


def _one(source: _Source, rule: "mapping._Compiled") -> None:
    """A `_run_one` rule: one plain source into one plain target."""
    source.add(1, f"v = {_read(source, rule.sources[0].segments)}")
    _apply(source, 1, rule, _write(source, rule))


def _plain(source: _Source, rule: "mapping._Compiled") -> None:
    """A `_run_plain` rule (the first present source value is transformed), perhaps a
    fallback (run where the target is unset). Every source is read, as the steps read them, and
    for a fallback even where its target is set: a wrong container there is Unusual (the steps'
    answer, only slower)."""
    reads = [
        _read(source, rule_source.segments)
        if rule_source.star is None
        else _present_elements(source, rule_source)
        for rule_source in rule.sources
    ]
    indent = 1
    if rule.rule.fallback:
        target = (
            f"data.get({rule.path[0]!r})"
            if len(rule.path) == 1
            else f"{source.name('get', paths.get)}(data, {rule.path!r})"
        )
        source.add(1, f"if {target} is None:")
        indent = 2
    _first_present(source, indent, rule, reads)
    _apply(source, indent, rule, _write(source, rule))


def _first_present(
    source: _Source, indent: int, rule: "mapping._Compiled", values: list[str]
) -> None:
    """`v`: the first of the locals `values` that is present (None if none is); a single one
    as it is, for `_apply` tests it."""
    if len(values) == 1:
        source.add(indent, f"v = {values[0]}")
        return
    source.add(indent, f"for v in ({', '.join(values)}):")
    source.add(indent + 1, f"if v is not None and ({_present(rule)}):", "    break")
    source.add(indent, "else:", "    v = None")


def _element_write(list_key: str, field: str) -> list[str]:
    """`r` into the element's item of the target list, the item made at the element's first
    write (appended, usually; else as `element_item` makes it)."""
    return [
        "if item is None:",
        "    if items is None:",
        f"        items = data[{list_key!r}] = []",
        "    if index == len(items):",
        "        item = {}",
        "        items.append(item)",
        "    else:",
        f"        item, items = element_item(data, items, {list_key!r}, index)",
        f"item[{field!r}] = r",
    ]


def _loop(source: _Source, rules: list["mapping._Compiled"]) -> None:
    """Element rules over one array (an `_ElementGroup`, or one `_run_each` rule)."""
    first = rules[0]
    assert first.fields is not None
    list_key = first.fields[0]
    source.add(1, f"a = {_read(source, first.sources[0].prefix)}")
    source.add(1, "if a is not None and not isinstance(a, list):", "    raise Unusual")
    source.add(1, "if a:", f"    items = data.get({list_key!r})")
    source.add(2, "for index, element in enumerate(a):", "    item = None")
    if any(rule.sources[0].suffix for rule in rules):
        source.add(3, "if not isinstance(element, dict):", "    raise Unusual")
    for rule in rules:
        assert rule.fields is not None
        suffix = rule.sources[0].suffix
        source.add(3, f"v = element.get({suffix[0]!r})" if suffix else "v = element")
        _apply(source, 3, rule, _element_write(list_key, rule.fields[1]))


def _walk(source: _Source, indent: int, local: str, suffix: tuple[Segment, ...]) -> None:
    """`local` read on through `suffix`'s keys; a value that is not an object on the way is
    Unusual."""
    for part in suffix:
        source.add(indent, f"if {local} is None:", "    pass")
        source.add(
            indent, f"elif isinstance({local}, dict):", f"    {local} = {local}.get({part!r})"
        )
        source.add(indent, "else:", "    raise Unusual")


def _stars(source: _Source, rules: list["mapping._Compiled"]) -> None:
    """`_run_star` rules over the same arrays into one target list, as one loop: element by
    element up to the longest array, each rule reading every source and transforming the first
    present value. The rules' writes land where the steps put them, one rule after the other
    (an element's fields in rule order); an absent required value or an error is Unusual."""
    first = rules[0]
    assert first.fields is not None
    list_key = first.fields[0]
    arrays = [_read(source, rule_source.prefix) for rule_source in first.sources]
    for array in arrays:
        source.add(1, f"if {array} is not None and not isinstance({array}, list):")
        source.add(2, "raise Unusual")
    lengths = [f"n{number}" for number in range(len(arrays))]
    for length, array in zip(lengths, arrays, strict=True):
        source.add(1, f"{length} = len({array}) if {array} is not None else 0")
    source.add(1, f"items = data.get({list_key!r})")
    source.add(1, f"for index in range(max(0, {', '.join(lengths)})):", "    item = None")
    elements = [f"e{number}" for number in range(len(arrays))]
    for element, array, length in zip(elements, arrays, lengths, strict=True):
        source.add(2, f"{element} = {array}[index] if index < {length} else None")
    for rule in rules:
        assert rule.fields is not None
        values = [f"v{number}" for number in range(len(elements))]
        for value, element, rule_source in zip(values, elements, rule.sources, strict=True):
            source.add(2, f"{value} = {element}")
            _walk(source, 2, value, rule_source.suffix)
        _first_present(source, 2, rule, values)
        _apply(source, 2, rule, _element_write(list_key, rule.fields[1]))


def _generic(source: _Source, step: "mapping.Step") -> None:
    source.add(1, f"{source.name('step', step)}(scope, data, errors)")


def _readable(segments: tuple[Segment, ...]) -> bool:
    """Paths `_read` writes out: from a record's key, through keys and indices."""
    return bool(segments) and isinstance(segments[0], str)


def _readable_star(source: "mapping._Source") -> bool:
    """`[*]` paths the generated function reads: a readable array, then keys of its elements."""
    return _readable(source.prefix) and all(isinstance(part, str) for part in source.suffix)


def _covered_one(rule: "mapping._Compiled") -> bool:
    return rule.run == rule._run_one and _readable(rule.sources[0].segments)


def _covered_plain(rule: "mapping._Compiled") -> bool:
    """Sources of keys and indices (a `[*]` source: its present element values), the first
    present one transformed (or the rule's default)."""
    return (
        rule.run == rule._run_plain
        and rule.needs_source
        and not rule.takes_all
        and not rule.fills_absent
        and all(
            _readable(source.segments) if source.star is None else _readable_star(source)
            for source in rule.sources
        )
    )


def _covered_loop(rules: list["mapping._Compiled"]) -> bool:
    """Element rules reading the element itself or one key of it, without defaults."""
    return all(
        rule.fields is not None
        and rule.rule.default is None
        and len(rule.sources[0].suffix) <= 1
        and _readable_star(rule.sources[0])
        for rule in rules
    )


def _covered_star(rule: "mapping._Compiled") -> bool:
    """`[*]` sources of keys into a `list[*].field` target, the first present value
    transformed, without defaults or fallbacks."""
    return (
        rule.run == rule._run_star
        and rule.fields is not None
        and rule.needs_source
        and not rule.takes_all
        and not rule.fills_absent
        and not rule.rule.fallback
        and rule.rule.default is None
        and all(source.star is not None and _readable_star(source) for source in rule.sources)
    )


def _same_arrays(first: "mapping._Compiled", rule: "mapping._Compiled") -> bool:
    """Whether two covered `_run_star` rules read the same arrays into the same target list."""
    return first.head == rule.head and [source.prefix for source in first.sources] == [
        source.prefix for source in rule.sources
    ]


def _parts(steps: tuple["mapping.Step", ...]) -> list["mapping.Step | list[mapping._Compiled]"]:
    """The steps, with consecutive covered `_run_star` rules over the same arrays into the same
    target list as one list each."""
    parts: list[mapping.Step | list[mapping._Compiled]] = []
    for step in steps:
        run = getattr(step, "__self__", None)
        if not (isinstance(run, mapping._Compiled) and _covered_star(run)):
            parts.append(step)
        elif parts and isinstance(parts[-1], list) and _same_arrays(parts[-1][0], run):
            parts[-1].append(run)
        else:
            parts.append([run])
    return parts


def generate(steps: tuple["mapping.Step", ...]) -> "mapping.Step":
    """One function doing what `steps` (a rule set's `compiled()` steps) do, usual records."""
    source = _Source()
    for step in _parts(steps):
        if isinstance(step, list):
            _stars(source, step)
            continue
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
        elif isinstance(run, mapping._Compiled) and _covered_plain(run):
            _plain(source, run)
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
