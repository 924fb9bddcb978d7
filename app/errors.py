"""Domain errors: data with a code, a message a person can act on and the offending field path."""

from dataclasses import dataclass, field


@dataclass(frozen=True)
class FieldError:
    code: str
    message: str
    path: tuple[str | int, ...] = ()

    @property
    def dotted_path(self) -> str:
        return render_path(self.path)


def render_path(path: tuple[str | int, ...]) -> str:
    """('records', 3, 'price', 'amount') → 'records[3].price.amount'."""
    rendered = ""
    for part in path:
        if isinstance(part, int):
            rendered += f"[{part}]"
        else:
            rendered += f".{part}" if rendered else part
    return rendered


@dataclass
class GatewayError(Exception):
    """Base for every error a caller can see. `kind` maps to the HTTP status at the edge."""

    code: str
    message: str
    kind: str = "invalid_request"
    errors: list[FieldError] = field(default_factory=list)

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


class NotFoundError(GatewayError):
    def __init__(self, what: str) -> None:
        super().__init__("not_found", f"No {what} with that id.", kind="not_found")


class AuthenticationError(GatewayError):
    def __init__(self, message: str) -> None:
        super().__init__("invalid_api_key", message, kind="authentication")


class PermissionDeniedError(GatewayError):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(code, message, kind="permission")
