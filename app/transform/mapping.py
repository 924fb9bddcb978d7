"""The mapping engine: one platform-native record → a standard-shape dict plus field errors.

Rules run in file order. An absent source (missing, null, empty) leaves the target unset, or
takes the rule's default, or is a `missing_source` error when the rule is required. Errors name
the standard field (`path`) and the native path it was read from (`source`, also in the message).
The result is JSON-ready; validating it against the standard schema is the next step's job.
"""

from dataclasses import dataclass
from typing import Any

from app.errors import FieldError
from app.transform.context import ClientDefaults, Scope
from app.transform.errors import MappingError, NormalisationError
from app.transform.paths import FieldPath, count, get, put
from app.transform.rules import MappingRules, Rule


@dataclass(frozen=True)
class _Read:
    value: Any
    source: str  # the concrete native path(s) the value came from, for error messages


def present(value: Any) -> bool:
    if isinstance(value, str):
        return bool(value.strip())
    return value is not None and value != [] and value != {}


def _value(record: Any, source: FieldPath) -> Any:
    """A star-free path's value, or every present element value of a `[*]` path."""
    if source.star is None:
        return get(record, source.segments)
    values = (get(record, source.at(i).segments) for i in range(count(record, source)))
    return [value for value in values if present(value)]


def _read(rule: Rule, record: Any, index: int | None) -> _Read:
    sources = [source.at(index) if index is not None else source for source in rule.sources]
    if rule.transform.takes_all:
        values = [value for value in (_value(record, s) for s in sources) if present(value)]
        return _Read(values, " + ".join(source.text for source in sources))
    for source in sources:
        value = _value(record, source)
        if present(value):
            return _Read(value, source.text)
    return _Read(None, " | ".join(source.text for source in sources))


def _error(code: str, message: str, target: FieldPath, source: str) -> MappingError:
    where = f"{source} → {target.text}" if source else target.text
    return MappingError(code, f"{where}: {message}", target.segments, source)


class RecordMapper:
    """Maps native records of one platform and entity with one client's defaults."""

    def __init__(self, rules: MappingRules, defaults: ClientDefaults | None = None) -> None:
        self.rules = rules
        self.defaults = defaults or ClientDefaults()

    def map(self, record: object) -> tuple[dict[str, Any], list[FieldError]]:
        data: dict[str, Any] = {"source_platform": self.rules.platform.value}
        if not isinstance(record, dict):
            kind = type(record).__name__
            return data, [
                MappingError("invalid_type", f"A native record is an object, not {kind}.")
            ]
        scope = Scope(self.defaults, record)
        errors: list[FieldError] = []
        for rule in self.rules.rules:
            errors += self._run(rule, scope, data)
        return data, errors

    def _run(self, rule: Rule, scope: Scope, data: dict[str, Any]) -> list[MappingError]:
        try:
            if rule.target.star is None:
                return self._fill(rule, rule.target, _read(rule, scope.record, None), scope, data)
            elements = max(count(scope.record, source) for source in rule.sources)
            errors = []
            for i in range(elements):
                read = _read(rule, scope.record, i)
                errors += self._fill(rule, rule.target.at(i), read, scope, data)
            return errors
        except NormalisationError as error:  # a container of the wrong type on the way
            sources = " | ".join(source.text for source in rule.sources)
            return [_error(error.code, error.message, rule.target, sources)]

    def _fill(
        self, rule: Rule, target: FieldPath, read: _Read, scope: Scope, data: dict[str, Any]
    ) -> list[MappingError]:
        if rule.transform.needs_source and not present(read.value):
            handled = _absent(rule, target, read, data)
            if handled is not None:
                return handled
        try:
            value = rule.transform.apply(read.value, rule.args, scope)
        except NormalisationError as error:
            return [_error(error.code, error.message, target, read.source)]
        except Exception as error:  # a guard: one odd record must not fail the whole job
            message = f"{rule.transform.name} failed ({type(error).__name__})"
            return [_error("transform_failed", message, target, read.source)]
        if value is not None:
            put(data, target.segments, value)
        return []


def _absent(
    rule: Rule, target: FieldPath, read: _Read, data: dict[str, Any]
) -> list[MappingError] | None:
    """An absent source: the rule's default, a missing_source error when required, or nothing;
    None when the transform fills absent values itself (a currency from the client's default)."""
    if rule.default is not None:
        put(data, target.segments, rule.default)
        return []
    if rule.transform.fills_absent:
        return None
    if rule.required:
        return [_error("missing_source", "missing, and required", target, read.source)]
    return []
