"""What the sandbox Drive refuses, as domain errors. Each carries Drive's `reason`; the transport
turns the reason into Drive's status code and error JSON."""

from dataclasses import dataclass


@dataclass
class DriveError(Exception):
    reason: str
    message: str
    location: str | None = None

    def __str__(self) -> str:
        return f"{self.reason}: {self.message}"


class AuthError(DriveError):
    def __init__(self, message: str) -> None:
        super().__init__("authError", message, "Authorization")


class FileNotFound(DriveError):
    def __init__(self, file_id: str) -> None:
        super().__init__("notFound", f"File not found: {file_id}.", "fileId")


class InvalidQuery(DriveError):
    def __init__(self, message: str) -> None:
        super().__init__("invalidQuery", f"Invalid Value: {message}", "q")


class InvalidArgument(DriveError):
    def __init__(self, message: str, location: str | None = None) -> None:
        super().__init__("invalid", message, location)


class FieldNotWritable(DriveError):
    def __init__(self, field: str) -> None:
        super().__init__(
            "fieldNotWritable",
            f"The resource body includes fields which are not directly writable: {field}.",
            field,
        )


class CannotAddParent(DriveError):
    def __init__(self) -> None:
        super().__init__(
            "cannotAddParent",
            "Increasing the number of parents is not allowed: a file has exactly one parent.",
            "parents",
        )


class NotDownloadable(DriveError):
    def __init__(self) -> None:
        super().__init__(
            "fileNotDownloadable", "Only files with binary content can be downloaded.", "alt"
        )


class OwnershipTransferNeedsConsent(DriveError):
    def __init__(self) -> None:
        super().__init__(
            "forbidden",
            "The transferOwnership parameter must be enabled when the permission role is 'owner'.",
            "transferOwnership",
        )


STATUS_OF_REASON = {
    "authError": 401,
    "notFound": 404,
    "fieldNotWritable": 403,
    "cannotAddParent": 403,
    "fileNotDownloadable": 403,
    "forbidden": 403,
}
"""Every other reason is a 400."""
