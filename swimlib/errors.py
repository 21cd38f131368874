"""The public exception tree: local misuse raises one of these; remote garbage never does."""

from __future__ import annotations


class SwimError(Exception):
    """Base class for every error swimlib raises to its caller."""


class ConfigError(SwimError, ValueError):
    """A configuration value is invalid; the message names the field."""


class InvalidKeyError(ConfigError):
    """An encryption key is malformed (size, base64) or a keyring operation is not allowed."""


class NotRunningError(SwimError, RuntimeError):
    """The operation needs a started cluster (or one that has not been shut down)."""


class NoSeedsReachableError(SwimError, ConnectionError):
    """``join`` could not complete a push/pull with any seed; ``reasons`` says why, per seed."""

    def __init__(self, message: str, reasons: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.reasons: dict[str, str] = dict(reasons or {})


class UnknownNodeError(SwimError, LookupError):
    """A direct message named a node that is not in the member table."""


class MessageTooLargeError(SwimError, ValueError):
    """A payload does not fit the transport it was sent on."""


class BindError(SwimError, OSError):
    """The node's UDP and TCP sockets could not be bound; the message names the address."""


class AddressInUseError(BindError):
    """Another process (or node) already uses the bind address and port."""


class UsedAfterForkError(SwimError, RuntimeError):
    """A Cluster started before ``os.fork()`` was used in the child, where its threads no
    longer run; create the Cluster after the fork (for example in gunicorn's ``post_fork``)."""
