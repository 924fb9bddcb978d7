"""JSON Merge Patch (RFC 7386): how a fix changes a quarantined record."""

from typing import Any


def merge_patch(target: Any, patch: Any) -> Any:
    """`patch` applied to `target` (neither is modified): objects merge key by key, null
    removes a key, anything else replaces."""
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def apply_patches(target: Any, patches: list[Any]) -> Any:
    for patch in patches:
        target = merge_patch(target, patch)
    return target
