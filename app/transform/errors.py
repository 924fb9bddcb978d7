"""Errors of the transformation layer: always data with a code, never a bare exception."""

from dataclasses import dataclass, field

from app.errors import FieldError


class NormalisationError(ValueError):
    """A value that cannot be normalised. Carries a stable code; the caller adds the path."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def field_error(self, path: tuple[str | int, ...] = ()) -> FieldError:
        return FieldError(self.code, self.message, path)


@dataclass(frozen=True)
class MappingError(FieldError):
    """A field error from mapping one native record: `path` is the standard (target) field,
    `source` the native path it was read from, e.g. 'variants[1].price'."""

    source: str = ""


@dataclass(frozen=True)
class RuleProblem:
    """One thing wrong in a mapping rule file. `rule` is the rule's index, None for the file."""

    file: str
    rule: int | None
    message: str

    def __str__(self) -> str:
        where = self.file if self.rule is None else f"{self.file} rule {self.rule}"
        return f"{where}: {self.message}"


@dataclass
class RuleFileError(Exception):
    """Mapping rule files that cannot be loaded; raised at start-up with every problem found."""

    problems: list[RuleProblem] = field(default_factory=list)

    def __str__(self) -> str:
        lines = "\n".join(f"  - {problem}" for problem in self.problems)
        return f"{len(self.problems)} problem(s) in the mapping rules:\n{lines}"
