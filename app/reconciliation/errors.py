from app.errors import GatewayError


class NotProvisioned(GatewayError):
    def __init__(self) -> None:
        super().__init__(
            "ams_not_provisioned",
            "This client has no provisioned AMS base yet: there is nothing to reconcile.",
        )


class UnknownClient(GatewayError):
    def __init__(self) -> None:
        super().__init__("not_found", "No client with that id.", kind="not_found", errors=[])
