"""The AMS templates in `contracts/ams/` (data, published with the contract), read and filled in."""

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import orjson

BASE_TEMPLATE = "airtable-base.json"
FOLDERS_TEMPLATE = "drive-folders.json"


@dataclass(frozen=True)
class FolderSpec:
    """One folder of the tree; `role` is its stable name (`Assets/Images`), `parent` its parent's
    role (None for the client root)."""

    role: str
    name: str
    parent: str | None
    kind: str | None = None


@cache
def _load(contracts_dir: Path, name: str) -> dict[str, Any]:
    document: dict[str, Any] = orjson.loads((contracts_dir / "ams" / name).read_bytes())
    return document


def _fill(template: str, client_name: str, client_id: str) -> str:
    return template.replace("{client_name}", client_name).replace("{client_id}", client_id)


def base_template(contracts_dir: Path) -> dict[str, Any]:
    return _load(contracts_dir, BASE_TEMPLATE)


def base_name(contracts_dir: Path, client_name: str, client_id: str) -> str:
    return _fill(str(base_template(contracts_dir)["name"]), client_name, client_id)


def base_tables(contracts_dir: Path) -> list[dict[str, Any]]:
    """The tables as Airtable's create-base call takes them."""
    tables: list[dict[str, Any]] = base_template(contracts_dir)["tables"]
    return tables


def folder_tree(contracts_dir: Path, client_name: str, client_id: str) -> list[FolderSpec]:
    """Every folder, parents before children, the client root first."""
    document = _load(contracts_dir, FOLDERS_TEMPLATE)
    root = document["root"]
    specs = [FolderSpec(root["role"], _fill(root["name"], client_name, client_id), None)]

    def walk(children: list[dict[str, Any]], parent: str) -> None:
        for child in children:
            specs.append(FolderSpec(child["role"], child["name"], parent, child.get("kind")))
            walk(child.get("children", []), child["role"])

    walk(document["folders"], root["role"])
    return specs


def template_versions(contracts_dir: Path) -> dict[str, int]:
    return {
        "airtable_base": int(_load(contracts_dir, BASE_TEMPLATE)["version"]),
        "drive_folders": int(_load(contracts_dir, FOLDERS_TEMPLATE)["version"]),
    }
