"""Domain exceptions shared by functions; each handler maps them to a response in one place."""


class TtsSyncError(Exception):
    """Base class for errors this project raises on purpose."""


class ConfigError(TtsSyncError):
    """A required setting is missing or invalid; the message names the variable."""


class StorageUnavailableError(TtsSyncError):
    """A durable write could not be confirmed (throttling, service error, timeout): retry later."""


class StorageRejectedError(TtsSyncError):
    """The store refused the write for good (DynamoDB's ValidationException: a key or number
    past its limits): retrying cannot help, so the data is kept elsewhere with this reason."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class CredentialsUnavailableError(TtsSyncError):
    """The app credentials could not be read right now (Secrets Manager throttled, slow or
    denied): retry later."""
