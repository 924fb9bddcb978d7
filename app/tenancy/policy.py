"""Who may do what: one policy, checked by GraphQL permission classes and REST guards alike.

A requirement is a scope the key must hold, optionally restricted to operator keys. Tenant
scoping is not decided here: services take the tenant explicitly and filter every query by it.
"""

from dataclasses import dataclass

from app.errors import AuthenticationError, PermissionDeniedError
from app.tenancy.models import Principal, Scope

MISSING_KEY_MESSAGE = (
    "Authentication required: send 'Authorization: Bearer <key>' with a gateway API key."
)


@dataclass(frozen=True)
class Requirement:
    scope: Scope
    operators_only: bool = False

    def describe(self) -> str:
        holder = "an operator key" if self.operators_only else "a key"
        return f"{holder} with the '{self.scope.value}' scope"


INGEST = Requirement(Scope.INGEST)
READ = Requirement(Scope.READ)
QUARANTINE_WRITE = Requirement(Scope.QUARANTINE_WRITE)
ADMIN = Requirement(Scope.ADMIN)
MANAGE_KEYS = Requirement(Scope.KEYS, operators_only=True)
READ_AUDIT = Requirement(Scope.AUDIT_READ, operators_only=True)
READ_USAGE = Requirement(Scope.USAGE_READ, operators_only=True)
# Erasure and subject access of a client's people (app.privacy): the client's own administration.
PRIVACY = Requirement(Scope.ADMIN)


def authorize(principal: Principal | None, requirement: Requirement) -> Principal:
    """The principal when it meets the requirement; otherwise the error to answer with."""
    if principal is None:
        raise AuthenticationError(MISSING_KEY_MESSAGE)
    if requirement.operators_only and not principal.is_operator:
        raise PermissionDeniedError(
            "operator_only", f"This operation needs {requirement.describe()}."
        )
    if requirement.scope.value not in principal.scopes:
        raise PermissionDeniedError(
            "insufficient_scope", f"This operation needs {requirement.describe()}."
        )
    return principal
