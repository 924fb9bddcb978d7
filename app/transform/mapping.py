"""The mapping engine: one platform-native record → a standard-shape dict plus field errors.

Rules run in file order. An absent source (missing, null, empty) leaves the target unset, or
takes the rule's default, or is a `missing_source` error when the rule is required. A fallback
rule runs only where the earlier rules left its target unset. Errors name the standard field
(`path`) and the native path it was read from (`source`, also in the message). The result is
JSON-ready; validating it against the standard schema is the next step's job.

Each rule set is compiled once into steps that only walk pre-split path tuples; the source
texts of error messages are built only when there is an error. The steps also become one
generated function (app.transform.codegen) that maps the usual record; the steps map the rest.
"""

from collections.abc import Callable
from typing import Any

from app.errors import FieldError
from app.transform import codegen
from app.transform.context import ClientDefaults, Scope
from app.transform.errors import MappingError, NormalisationError
from app.transform.paths import FieldPath, Segment, get, getter, put, putter
from app.transform.rules import MappingRules, Rule

Step = Callable[[Scope, dict[str, Any], list[FieldError]], None]


def present(value: Any) -> bool:
    if value is None:
        return False
    if isinstance(value, str):
        return value != "" and not value.isspace()
    return bool(value != [] and value != {})


def given(value: Any) -> bool:
    """`present` for a transform that reads an empty value as a value (`empty_is_value`)."""
    return value is not None


def _error(
    code: str, message: str, target: str, path: tuple[Segment, ...], source: str
) -> MappingError:
    where = f"{source} → {target}" if source else target
    return MappingError(code, f"{where}: {message}", path, source)


def _list_field(head: tuple[Segment, ...], tail: tuple[Segment, ...]) -> tuple[str, str] | None:
    """('images', 'url') for a target `images[*].url`; None for other shapes."""
    if len(head) == 1 and len(tail) == 1 and isinstance(head[0], str) and isinstance(tail[0], str):
        return head[0], tail[0]
    return None


class _Source:
    """One source path, split around its `[*]` (if any) once."""

    def __init__(self, path: FieldPath) -> None:
        self.text = path.text
        self.segments = path.segments
        self.star = path.star
        star = self.star if self.star is not None else len(self.segments)
        self.prefix = self.segments[:star]
        self.suffix = self.segments[star + 1 :]
        self.read = getter(self.segments)
        self.read_array = getter(self.prefix)
        self.read_in_element = getter(self.suffix)

    def at(self, index: int) -> str:
        return self.text.replace("[*]", f"[{index}]")

    def array(self, record: Any) -> list[Any] | None:
        """The list at the `[*]` (None when missing)."""
        array = self.read_array(record)
        if array is None or isinstance(array, list):
            return array
        where = self.text.split("[*]")[0]
        raise NormalisationError("invalid_type", f"expected an array at {where!r}")

    def element(self, array: list[Any] | None, index: int, record: Any) -> Any:
        if array is None or index >= len(array):
            return None
        try:
            return self.read_in_element(array[index])
        except NormalisationError:  # again from the root, for the error's full path
            return get(record, (*self.prefix, index, *self.suffix))

    def value(self, record: Any) -> Any:
        """A star-free path's value, or every present element value of a `[*]` path."""
        if self.star is None:
            return self.read(record)
        array = self.array(record)
        if not array:
            return []
        values = (self.element(array, i, record) for i in range(len(array)))
        return [value for value in values if present(value)]


class _Compiled:
    """One rule ready to run on records: reads, applies the transform, writes the target.

    Rules with one source, no fallback and a transform that needs a value (most rules) take a
    shorter way with the same outcome."""

    def __init__(self, rule: Rule) -> None:
        self.rule = rule
        self.apply = rule.transform.apply
        self.args = rule.args
        self.name = rule.transform.name
        self.needs_source = rule.transform.needs_source
        self.fills_absent = rule.transform.fills_absent
        self.takes_all = rule.transform.takes_all
        self.present = given if rule.transform.empty_is_value else present
        self.sources = tuple(_Source(source) for source in rule.sources)
        self.target = rule.target.text
        self.path = rule.target.segments
        star = rule.target.star
        self.head = self.path[:star] if star is not None else self.path
        self.tail = self.path[star + 1 :] if star is not None else ()
        self.put = putter(self.path)
        self.fields = _list_field(self.head, self.tail)
        self.all_sources = " | ".join(source.text for source in self.sources)
        simple = (
            len(self.sources) == 1
            and not self.takes_all
            and not rule.fallback
            and self.needs_source
            and not self.fills_absent
            and self.present is present
        )
        self.read = self.sources[0].read if self.sources else getter(())
        if star is None:
            plain_source = simple and self.sources[0].star is None
            self.run: Step = self._run_one if plain_source else self._run_plain
        else:
            self.run = self._run_each if simple else self._run_star

    def _element_path(self, index: int) -> tuple[Segment, ...]:
        return (*self.head, index, *self.tail)

    def _put_element(self, data: dict[str, Any], value: Any, index: int) -> None:
        """`put` at the element's path; the usual `list[*].field` without building it."""
        if self.fields is None:
            put(data, self._element_path(index), value)
            return
        list_key, field = self.fields
        element_item(data, None, list_key, index)[0][field] = value

    def _container_error(self, error: NormalisationError) -> MappingError:
        return _error(error.code, error.message, self.target, self.path, self.all_sources)

    def _run_one(self, scope: Scope, data: dict[str, Any], errors: list[FieldError]) -> None:
        """One star-free source into a star-free target (what `_result` does, inlined)."""
        try:
            value = self.read(scope.record)
        except NormalisationError as error:  # a container of the wrong type on the way
            errors.append(self._container_error(error))
            return
        if value is None or not present(value):
            self._absent(0, None, data, errors)
            return
        try:
            result = self.apply(value, self.args, scope)
        except Exception as error:
            errors.append(self._failure(error, None, 0))
            return
        if result is not None:
            self.put(data, result)

    def _run_each(self, scope: Scope, data: dict[str, Any], errors: list[FieldError]) -> None:
        """One `[*]` source into a `[*]` target, element by element (the hottest loop: what
        `_apply` and `_put_element` do, inlined)."""
        source, record = self.sources[0], scope.record
        read, apply, args, fields = source.read_in_element, self.apply, self.args, self.fields
        found: list[FieldError] = []
        try:
            for index, element in enumerate(source.array(record) or ()):
                try:
                    value = read(element)
                except NormalisationError:  # again from the root, for the error's full path
                    value = get(record, (*source.prefix, index, *source.suffix))
                if not present(value):
                    self._absent(0, index, data, found)
                    continue
                try:
                    result = apply(value, args, scope)
                except Exception as error:
                    found.append(self._failure(error, index, 0))
                    continue
                if result is None:
                    continue
                if fields is None:
                    put(data, self._element_path(index), result)
                    continue
                items = data.get(fields[0])
                if items is None:
                    items = data[fields[0]] = []
                if index >= len(items):
                    items.extend([None] * (index + 1 - len(items)))
                item = items[index]
                if item is None:
                    item = items[index] = {}
                item[fields[1]] = result
        except NormalisationError as error:
            errors.append(self._container_error(error))
            return
        errors += found

    def _run_plain(self, scope: Scope, data: dict[str, Any], errors: list[FieldError]) -> None:
        if self.rule.fallback and get(data, self.path) is not None:
            return
        try:
            values = [source.value(scope.record) for source in self.sources]
        except NormalisationError as error:
            errors.append(self._container_error(error))
            return
        self._fill(values, None, scope, data, errors)

    def _run_star(self, scope: Scope, data: dict[str, Any], errors: list[FieldError]) -> None:
        record = scope.record
        found: list[FieldError] = []
        try:
            arrays = [source.array(record) for source in self.sources]
            elements = max((len(array) for array in arrays if array is not None), default=0)
            for i in range(elements):
                if self.rule.fallback and get(data, self._element_path(i)) is not None:
                    continue
                values = [
                    source.element(array, i, record)
                    for source, array in zip(self.sources, arrays, strict=True)
                ]
                self._fill(values, i, scope, data, found)
        except NormalisationError as error:
            errors.append(self._container_error(error))
            return
        errors += found

    def _fill(
        self,
        values: list[Any],
        index: int | None,
        scope: Scope,
        data: dict[str, Any],
        errors: list[FieldError],
    ) -> None:
        """Of several sources: the first present value (or all of them, for `takes_all`)."""
        value: Any = None
        picked: int | None = None
        if self.takes_all:
            value = [value for value in values if self.present(value)]
        else:
            found = ((v, n) for n, v in enumerate(values) if self.present(v))
            value, picked = next(found, (None, None))
        absent = self.needs_source and not self.present(value)
        if absent and (self._absent(picked, index, data, errors) or not self.fills_absent):
            return
        self._apply(value, picked, index, scope, data, errors)

    def _absent(
        self, picked: int | None, index: int | None, data: dict[str, Any], errors: list[FieldError]
    ) -> bool:
        """The rule's default, or a missing_source error when required; True when handled."""
        rule = self.rule
        path = self.path if index is None else self._element_path(index)
        if rule.default is not None:
            put(data, path, rule.default)
            return True
        if rule.required and not self.fills_absent:
            message = "missing, and required"
            errors.append(self._error("missing_source", message, index, None))
            return True
        return False

    def _apply(
        self,
        value: Any,
        picked: int | None,
        index: int | None,
        scope: Scope,
        data: dict[str, Any],
        errors: list[FieldError],
    ) -> None:
        result = self._result(value, picked, index, scope, errors)
        if result is None:
            return
        if index is None:
            self.put(data, result)
        else:
            self._put_element(data, result, index)

    def _result(
        self,
        value: Any,
        picked: int | None,
        index: int | None,
        scope: Scope,
        errors: list[FieldError],
    ) -> Any:
        """The transform's result, or None with its error added."""
        try:
            return self.apply(value, self.args, scope)
        except Exception as error:
            errors.append(self._failure(error, index, picked))
        return None

    def _failure(self, error: Exception, index: int | None, picked: int | None) -> MappingError:
        if isinstance(error, NormalisationError):
            return self._error(error.code, error.message, index, picked)
        # A guard: one odd record must not fail the whole job.
        message = f"{self.name} failed ({type(error).__name__})"
        return self._error("transform_failed", message, index, picked)

    def _error(
        self, code: str, message: str, index: int | None, picked: int | None
    ) -> MappingError:
        """An error of one element (`index`) read from one source (`picked`) or from all."""
        texts = [source.text if index is None else source.at(index) for source in self.sources]
        if picked is not None:
            source = texts[picked]
        else:
            source = (" + " if self.takes_all else " | ").join(texts)
        target = self.target if index is None else self.target.replace("[*]", f"[{index}]")
        path = self.path if index is None else self._element_path(index)
        return _error(code, message, target, path, source)


class _ElementGroup:
    """Consecutive one-source `list[*].field` rules over the same native array (a variant's id,
    sku, price …), run element by element: the array is read and each target element found
    once per element instead of once per rule. Writes, errors and their order are those of
    running the rules one after the other: an element's fields are written in rule order, and
    each rule's errors are kept apart and added in rule order."""

    def __init__(self, rules: list[_Compiled]) -> None:
        self.rules = rules
        self.source = rules[0].sources[0]
        self.list_key = rules[0].fields[0] if rules[0].fields else ""
        self.plan = [(rule, *self._reader(rule)) for rule in rules]

    @staticmethod
    def _reader(rule: _Compiled) -> tuple[str | None, str]:
        """The element's key the rule reads (None: another path) and the field it fills."""
        suffix = rule.sources[0].suffix
        key = suffix[0] if len(suffix) == 1 and isinstance(suffix[0], str) else None
        assert rule.fields is not None
        return key, rule.fields[1]

    def run(self, scope: Scope, data: dict[str, Any], errors: list[FieldError]) -> None:
        """The hot loop, inlined: an element's value read, transformed and put in place."""
        record = scope.record
        try:
            array = self.source.array(record)
        except NormalisationError as error:
            errors.extend(rule._container_error(error) for rule in self.rules)
            return
        found: list[list[FieldError]] = [[] for _ in self.rules]
        live = list(enumerate(self.plan))
        items = data.get(self.list_key)
        for index, element in enumerate(array or ()):
            item = None
            for number, (rule, key, field) in live:
                if key is not None and isinstance(element, dict):
                    value = element.get(key)
                else:
                    try:
                        value = self._read(rule, index, element, record)
                    except NormalisationError as error:  # the rule stops here
                        found[number] = [rule._container_error(error)]
                        live = [entry for entry in live if entry[0] != number]
                        continue
                if value is None or not present(value):
                    rule._absent(0, index, data, found[number])
                    items = item = None  # a default may have been put: look again
                    continue
                try:
                    result = rule.apply(value, rule.args, scope)
                except Exception as error:
                    found[number].append(rule._failure(error, index, 0))
                    continue
                if result is None:
                    continue
                if item is None:
                    item, items = element_item(data, items, self.list_key, index)
                item[field] = result
        for rule_errors in found:
            errors += rule_errors

    def _read(self, rule: _Compiled, index: int, element: Any, record: Any) -> Any:
        source = rule.sources[0]
        try:
            return source.read_in_element(element)
        except NormalisationError:  # again from the root, for the error's full path
            return get(record, (*source.prefix, index, *source.suffix))


def element_item(
    data: dict[str, Any], items: list[Any] | None, list_key: str, index: int
) -> tuple[dict[str, Any], list[Any]]:
    """The target list's element at `index`, made (with the list) when missing."""
    if items is None:
        items = data.get(list_key)
        if items is None:
            items = data[list_key] = []
    if index >= len(items):
        items.extend([None] * (index + 1 - len(items)))
    item = items[index]
    if item is None:
        item = items[index] = {}
    return item, items


def _grouped(rules: list[_Compiled]) -> list[_Compiled | _ElementGroup]:
    """Consecutive element rules over the same array into one `_ElementGroup` each."""
    runs: list[_Compiled | _ElementGroup] = []
    group: list[_Compiled] = []
    for rule in [*rules, None]:
        if rule is not None and group and _same_array(group[0], rule):
            group.append(rule)
            continue
        if len(group) > 1:
            runs.append(_ElementGroup(group))
        else:
            runs.extend(group)
        group = [rule] if rule is not None and _element_rule(rule) else []
        if rule is not None and not group:
            runs.append(rule)
    return runs


def _element_rule(rule: _Compiled) -> bool:
    return rule.run == rule._run_each and rule.fields is not None


def _same_array(first: _Compiled, rule: _Compiled) -> bool:
    return (
        _element_rule(rule)
        and rule.sources[0].prefix == first.sources[0].prefix
        and rule.fields is not None
        and first.fields is not None
        and rule.fields[0] == first.fields[0]
    )


_COMPILED: dict[int, tuple[MappingRules, tuple[Step, ...], Step]] = {}
_COMPILED_LIMIT = 512


def _program(rules: MappingRules) -> tuple[tuple[Step, ...], Step]:
    """The rule set's steps and their generated function, made once per rule set (kept by
    identity)."""
    hit = _COMPILED.get(id(rules))
    if hit is not None and hit[0] is rules:
        return hit[1], hit[2]
    if len(_COMPILED) >= _COMPILED_LIMIT:
        _COMPILED.clear()
    steps = tuple(run.run for run in _grouped([_Compiled(rule) for rule in rules.rules]))
    mapped = codegen.generate(steps)
    _COMPILED[id(rules)] = (rules, steps, mapped)
    return steps, mapped


def compiled(rules: MappingRules) -> tuple[Step, ...]:
    """The rule set's steps, compiled once per rule set."""
    return _program(rules)[0]


class RecordMapper:
    """Maps native records of one platform and entity with one client's defaults."""

    def __init__(self, rules: MappingRules, defaults: ClientDefaults | None = None) -> None:
        self.rules = rules
        self.defaults = defaults or ClientDefaults()
        self.platform = rules.platform.value

    def map(self, record: object) -> tuple[dict[str, Any], list[FieldError]]:
        data: dict[str, Any] = {"source_platform": self.platform}
        if not isinstance(record, dict):
            kind = type(record).__name__
            return data, [
                MappingError("invalid_type", f"A native record is an object, not {kind}.")
            ]
        steps, mapped = _program(self.rules.for_record(record))
        return codegen.run(mapped, steps, Scope(self.defaults, record), data)
