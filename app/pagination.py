"""Cursor pagination shared by every list: opaque cursors over a sortable id."""

import base64
from dataclasses import dataclass
from typing import Generic, TypeVar

from sqlalchemy import Select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from app.errors import GatewayError

MAX_PAGE_SIZE = 500
T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    end_cursor: str | None
    has_next_page: bool


def check_page_size(first: int) -> None:
    if not 1 <= first <= MAX_PAGE_SIZE:
        raise GatewayError("invalid_page_size", f"first must be 1 to {MAX_PAGE_SIZE}.", errors=[])


def encode_cursor(value: str) -> str:
    return base64.urlsafe_b64encode(value.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> str:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        value = base64.b64decode(padded, altchars=b"-_", validate=True).decode()
    except (ValueError, UnicodeDecodeError) as error:
        raise GatewayError("invalid_cursor", "The cursor is not one this API returned.") from error
    if not value:
        raise GatewayError("invalid_cursor", "The cursor is not one this API returned.")
    return value


async def newest_first(
    session: AsyncSession,
    query: Select[T],
    id_column: InstrumentedAttribute[str],
    first: int,
    after: str | None,
) -> Page[T]:
    """One page of `query` ordered by a time-sortable id, newest first, with `after` a cursor
    this function returned."""
    check_page_size(first)
    if after is not None:
        query = query.where(id_column < decode_cursor(after))
    found = list(await session.scalars(query.order_by(id_column.desc()).limit(first + 1)))
    page = found[:first]
    last_id = getattr(page[-1], id_column.key) if page else None
    return Page(page, encode_cursor(last_id) if last_id else None, len(found) > first)
