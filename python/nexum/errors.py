"""Exceptions raised by nexum: one class per libnexum status code.

Every error is a :class:`NexumError`. The subclasses also derive from the
closest built-in exception, so ``except ValueError`` still catches bad input.
"""

from __future__ import annotations

import logging
import re

__all__ = [
    "NexumError",
    "InvalidArgument",
    "NotFound",
    "Conflict",
    "Unavailable",
    "DataLoss",
    "Internal",
    "SubscriptionFailed",
]

_FIELD = re.compile(r"^([A-Za-z_][\w.\[\]-]*): ")


class NexumError(Exception):
    """Base class of every error nexum raises."""

    #: The libnexum status code name, e.g. ``"InvalidArgument"``.
    code = "Internal"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidArgument(NexumError, ValueError):
    """Bad input. :attr:`field` names it (``"events[0].data.amount"``)."""

    code = "InvalidArgument"

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        if field is None:
            m = _FIELD.match(message)
            field = m.group(1) if m else None
        #: The field the message is about, or None when it concerns the whole call.
        self.field = field


class NotFound(NexumError, LookupError):
    """The thing asked for does not exist."""

    code = "NotFound"


class Conflict(NexumError):
    """The stream's version is not the expected one.

    :attr:`actual_version` is the version stored now (-1: no such stream).
    Nothing of the call was written.
    """

    code = "Conflict"

    def __init__(self, message: str, actual_version: int = -1) -> None:
        super().__init__(message)
        self.actual_version = actual_version


class Unavailable(NexumError):
    """A dependency (disk, broker) is down; the same call may work later."""

    code = "Unavailable"


class DataLoss(NexumError):
    """A stored record is corrupt; the message gives its position."""

    code = "DataLoss"


class Internal(NexumError):
    """A bug in nexum."""

    code = "Internal"


class SubscriptionFailed(NexumError):
    """A subscription stopped because its callback raised (``__cause__``) or the store failed."""

    code = "Internal"


_log = logging.getLogger("nexum")


def _log_callback_failure(exc: BaseException) -> None:
    """Called by the native layer, on the subscription's thread, when a callback raised."""
    _log.error("nexum subscription stopped: its callback raised %s: %s", type(exc).__name__, exc,
               exc_info=(type(exc), exc, exc.__traceback__))
