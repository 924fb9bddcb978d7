"""Who is calling: the principal resolved from an API key."""

from dataclasses import dataclass, field
from enum import StrEnum

from app.errors import GatewayError


class KeyMode(StrEnum):
    TEST = "test"
    LIVE = "live"


class Role(StrEnum):
    CLIENT = "client"  # one client's key: every call acts on that client
    OPERATOR = "operator"  # Digicon staff: may act on any client, named per request


class Scope(StrEnum):
    INGEST = "ingest"
    READ = "read"
    QUARANTINE_WRITE = "quarantine:write"
    ADMIN = "admin"  # the client's own configuration: provisioning, rules, mappings, secrets
    PII_READ = "pii:read"
    KEYS = "keys"  # operators: API keys of any client
    AUDIT_READ = "audit:read"  # operators: the audit log
    USAGE_READ = "usage:read"  # operators: any client's metered usage


CLIENT_SCOPES = frozenset({Scope.INGEST, Scope.READ, Scope.QUARANTINE_WRITE, Scope.ADMIN})
OPERATOR_SCOPES = frozenset(Scope)


class ClientRequired(GatewayError):
    def __init__(self) -> None:
        super().__init__(
            "client_required",
            "Operator keys act on one client per request: name it with the 'Gateway-Client' "
            "header (cli_…).",
        )


@dataclass(frozen=True)
class Tenant:
    """The scope of every query: one client, in one mode (test data never mixes with live)."""

    client_id: str
    livemode: bool


@dataclass(frozen=True)
class Principal:
    key_id: str
    client_id: str | None  # None: an operator that named no client for this request
    mode: KeyMode
    role: Role = Role.CLIENT
    scopes: frozenset[str] = field(default=CLIENT_SCOPES)

    @property
    def tenant(self) -> Tenant:
        if self.client_id is None:
            raise ClientRequired()
        return Tenant(client_id=self.client_id, livemode=self.mode is KeyMode.LIVE)

    @property
    def is_operator(self) -> bool:
        return self.role is Role.OPERATOR

    def acting_on(self, client_id: str) -> "Principal":
        """An operator's principal scoped to the client its request named."""
        return Principal(self.key_id, client_id, self.mode, self.role, self.scopes)
