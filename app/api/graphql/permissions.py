"""Field permissions. A missing key answers 401 with a GraphQL error, never data."""

from typing import Any

from strawberry.permission import BasePermission
from strawberry.types import Info


class IsAuthenticated(BasePermission):
    message = "Authentication required: send 'Authorization: Bearer <key>' with a gateway API key."
    error_extensions = {"code": "unauthenticated"}

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        if info.context.principal is not None:
            return True
        info.context.response.status_code = 401
        return False
