"""Which target paths exist in the standard schema models (checked when the rules load)."""

import types
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel

from app.transform.paths import STAR, FieldPath, Segment

SET_BY_MAPPER = frozenset({"source_platform"})  # from the rule file's name


def _unwrap(annotation: Any) -> Any:
    """Strip Annotated[...] and `| None` down to the type that matters."""
    while True:
        origin = get_origin(annotation)
        if origin is Annotated:
            annotation = get_args(annotation)[0]
        elif origin in (Union, types.UnionType):
            options = [arg for arg in get_args(annotation) if arg is not type(None)]
            if len(options) != 1:
                return annotation
            annotation = options[0]
        else:
            return annotation


def _step(annotation: Any, part: Segment) -> tuple[Any, str | None]:
    """The annotation one segment further in, or a problem."""
    kind = _unwrap(annotation)
    origin = get_origin(kind)
    if part == STAR or isinstance(part, int):
        if origin is list:
            return get_args(kind)[0], None
        return None, f"[{part}] used on a field that is not a list"
    if origin is dict:
        return get_args(kind)[1], None
    if isinstance(kind, type) and issubclass(kind, BaseModel):
        if part in kind.model_fields:
            return kind.model_fields[part].annotation, None
        known = ", ".join(kind.model_fields)
        return None, f"{kind.__name__} has no field {part!r} (fields: {known})"
    return None, f"{part!r} is inside a field that has no sub-fields"


def target_problem(model: type[BaseModel], target: FieldPath) -> str | None:
    """None when `target` names a place in `model`; else what is wrong with it."""
    if target.segments[0] in SET_BY_MAPPER:
        return f"{target.text!r} is set from the file name, not by a rule"
    annotation: Any = model
    for part in target.segments:
        annotation, problem = _step(annotation, part)
        if problem:
            return f"target {target.text!r}: {problem}"
    return None


def required_fields(model: type[BaseModel]) -> list[str]:
    """Top-level fields a mapping must fill (the mapper fills source_platform itself)."""
    return [
        name
        for name, field in model.model_fields.items()
        if field.is_required() and name not in SET_BY_MAPPER
    ]
