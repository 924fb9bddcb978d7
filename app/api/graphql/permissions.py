"""Field permissions from the one policy (app.tenancy.policy). A refused call answers with a
GraphQL error carrying the policy's code (and 401/403 as the HTTP status), never data."""

from functools import cache
from typing import Any

from strawberry.permission import BasePermission
from strawberry.types import Info

from app.errors import GatewayError
from app.tenancy import policy
from app.tenancy.policy import Requirement

_STATUS_OF_KIND = {"authentication": 401, "permission": 403}


@cache
def allowed(requirement: Requirement) -> type[BasePermission]:
    """The permission class for one requirement (one class each, so strawberry can reuse it)."""

    class Allowed(BasePermission):
        message = policy.MISSING_KEY_MESSAGE
        error_extensions = {"code": "unauthenticated"}

        def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
            try:
                policy.authorize(info.context.principal, requirement)
            except GatewayError as refusal:
                self.message = refusal.message
                code = "unauthenticated" if refusal.kind == "authentication" else refusal.code
                self.error_extensions = {"code": code}
                info.context.response.status_code = _STATUS_OF_KIND.get(refusal.kind, 403)
                return False
            return True

    Allowed.__name__ = f"Allowed_{requirement.scope.value.replace(':', '_')}"
    return Allowed
