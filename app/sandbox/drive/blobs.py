"""File bytes on disk: <root>/<client id>/<blob name>. Blob names are random, so a file row and
a resumable upload can share one blob without renames. Disk work runs in a thread."""

import asyncio
import hashlib
import secrets
from dataclasses import dataclass
from pathlib import Path

_READ_SIZE = 1024 * 1024


@dataclass(frozen=True)
class StoredContent:
    blob_name: str
    size: int
    md5: str


@dataclass(frozen=True)
class BlobStore:
    root: Path

    def path(self, client_id: str, blob_name: str) -> Path:
        return self.root / client_id / blob_name

    @staticmethod
    def new_name() -> str:
        return secrets.token_hex(16)

    async def save(self, client_id: str, data: bytes) -> StoredContent:
        name = self.new_name()
        await self.write_at(client_id, name, 0, data)
        return StoredContent(name, len(data), hashlib.md5(data, usedforsecurity=False).hexdigest())

    async def write_at(self, client_id: str, blob_name: str, offset: int, data: bytes) -> None:
        """Write from `offset` and cut anything after: a chunk sent again replaces itself."""
        await asyncio.to_thread(self._write_at, self.path(client_id, blob_name), offset, data)

    async def describe(self, client_id: str, blob_name: str) -> StoredContent:
        path = self.path(client_id, blob_name)
        size, md5 = await asyncio.to_thread(_size_and_md5, path)
        return StoredContent(blob_name, size, md5)

    async def remove(self, client_id: str, blob_names: list[str]) -> None:
        paths = [self.path(client_id, name) for name in blob_names]
        await asyncio.to_thread(_unlink_all, paths)

    @staticmethod
    def _write_at(path: Path, offset: int, data: bytes) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(exist_ok=True)
        with path.open("r+b") as handle:
            handle.seek(offset)
            handle.write(data)
            handle.truncate()


def _size_and_md5(path: Path) -> tuple[int, str]:
    digest = hashlib.md5(usedforsecurity=False)
    size = 0
    with path.open("rb") as handle:
        while block := handle.read(_READ_SIZE):
            digest.update(block)
            size += len(block)
    return size, digest.hexdigest()


def _unlink_all(paths: list[Path]) -> None:
    for path in paths:
        path.unlink(missing_ok=True)
