"""The built-in rules: `contracts/rules/<entity>.json`, one file per entity, read and checked at
start-up (a broken file stops the process with every problem listed, file and rule index)."""

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType

import orjson
from pydantic import ValidationError

from app.contracts.entities import Entity
from app.errors import render_path
from app.rules.engine import Check, RuleDefinitionError, compile_rule, personal_paths
from app.rules.spec import RuleFileSpec, error_details
from app.settings import ROOT_DIR
from app.transform.paths import FieldPath

RULES_DIR = ROOT_DIR / "contracts" / "rules"


@dataclass(frozen=True)
class DefaultRules:
    entity: Entity
    spec: RuleFileSpec
    personal: tuple[FieldPath, ...]
    checks: tuple[Check, ...]

    @property
    def ids(self) -> frozenset[str]:
        return frozenset(rule.id for rule in self.spec.rules)


class RuleFilesError(Exception):
    """Rule files that cannot be loaded, with every problem found."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__(problems)
        self.problems = problems

    def __str__(self) -> str:
        lines = "\n".join(f"  - {problem}" for problem in self.problems)
        return f"{len(self.problems)} problem(s) in the validation rules:\n{lines}"


def validation_message(error: ValidationError) -> str:
    details = error_details(error)
    return "; ".join(f"{render_path(loc) or 'value'}: {message}" for loc, message in details)


def _read(file: Path) -> RuleFileSpec:
    try:
        return RuleFileSpec.model_validate(orjson.loads(file.read_bytes()))
    except OSError:
        raise RuleFilesError([f"{file.name}: missing (one file per entity is expected)"]) from None
    except orjson.JSONDecodeError as error:
        raise RuleFilesError([f"{file.name}: not valid JSON: {error}"]) from None
    except ValidationError as error:
        raise RuleFilesError([f"{file.name}: {validation_message(error)}"]) from None


def read_rule_file(file: Path, entity: Entity) -> DefaultRules:
    spec = _read(file)
    try:
        personal = personal_paths(spec.personal_fields)
    except ValueError as error:
        raise RuleFilesError([f"{file.name} personal_fields: {error}"]) from None
    checks, problems = [], []
    for index, rule in enumerate(spec.rules):
        try:
            checks.append(compile_rule(rule, entity, personal))
        except RuleDefinitionError as error:
            problems.append(f"{file.name} rule {index} ({rule.id}): {error}")
    if problems:
        raise RuleFilesError(problems)
    return DefaultRules(entity, spec, personal, tuple(checks))


def load_default_rules(directory: Path = RULES_DIR) -> dict[Entity, DefaultRules]:
    loaded, problems = {}, []
    for entity in Entity:
        try:
            loaded[entity] = read_rule_file(directory / f"{entity.value}.json", entity)
        except RuleFilesError as error:
            problems += error.problems
    if problems:
        raise RuleFilesError(problems)
    return loaded


@lru_cache(maxsize=1)
def default_rules() -> Mapping[Entity, DefaultRules]:
    """The files under contracts/rules/, loaded and checked once per process."""
    return MappingProxyType(load_default_rules())
