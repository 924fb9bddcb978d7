"""Who is calling: the principal resolved from an API key."""

from dataclasses import dataclass
from enum import StrEnum


class KeyMode(StrEnum):
    TEST = "test"
    LIVE = "live"


@dataclass(frozen=True)
class Tenant:
    """The scope of every query: one client, in one mode (test data never mixes with live)."""

    client_id: str
    livemode: bool


@dataclass(frozen=True)
class Principal:
    key_id: str
    client_id: str
    mode: KeyMode

    @property
    def tenant(self) -> Tenant:
        return Tenant(client_id=self.client_id, livemode=self.mode is KeyMode.LIVE)
