"""Per-request GraphQL limits that depend on the app's settings and on the caller: the token
budget of one document, and introspection (answered for test keys and anonymous sandbox calls;
for live keys only when GATEWAY_GRAPHQL_LIVE_INTROSPECTION allows it)."""

from collections.abc import Iterator
from typing import Any

from strawberry.extensions import DisableIntrospection, MaxTokensLimiter

from app.settings import Settings
from app.tenancy.models import KeyMode

DEFAULT_MAX_TOKENS: int = Settings.model_fields["graphql_max_tokens"].default


def _settings(context: Any) -> Settings | None:
    services = getattr(context, "services", None)
    return getattr(services, "settings", None)


class ConfiguredMaxTokens(MaxTokensLimiter):
    """strawberry's MaxTokensLimiter with the limit from settings (graphql_max_tokens): the
    parser stops a document past it before building it."""

    def __init__(self) -> None:
        super().__init__(max_token_count=DEFAULT_MAX_TOKENS)

    def on_operation(self) -> Iterator[None]:
        settings = _settings(self.execution_context.context)
        if settings is not None:
            self.max_token_count = settings.graphql_max_tokens
        yield from super().on_operation()


class LiveIntrospectionOff(DisableIntrospection):
    """strawberry's DisableIntrospection, applied per request: to live keys, unless the settings
    allow introspection in live mode."""

    def on_operation(self) -> Iterator[None]:
        context = self.execution_context.context
        principal = getattr(context, "principal", None)
        settings = _settings(context)
        allowed = settings is not None and settings.graphql_live_introspection
        if principal is not None and principal.mode is KeyMode.LIVE and not allowed:
            yield from super().on_operation()
        else:
            yield
