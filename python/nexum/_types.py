"""Value types of the nexum API: events as written and as read back."""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Dict, List, Optional

__all__ = ["EventSchema", "RecordedEvent", "AppendResult", "StreamInfo", "StreamAppend", "ExpectedVersion"]

_KEYS = ("event_id", "event_type", "timestamp", "source", "version", "entity_type", "entity_id", "data",
         "metadata")


def _new_event_id() -> str:
    from ._nexum import new_event_id
    return new_event_id()


def _now() -> str:
    from ._nexum import now_timestamp
    return now_timestamp()


def _plain(value: Any) -> Any:
    """The seed's _serialize_decimals, made total: the JSON-ready form of a payload value."""
    if value is None or isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, float):
        raise TypeError("a float is not stored; use decimal.Decimal or str")
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, enum.Enum):
        return _plain(value.code) if hasattr(value, "code") else _plain(value.value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if hasattr(value, "amount") and hasattr(value, "currency"):
        return {"amount": _plain(value.amount), "currency": _plain(value.currency)}
    if type(value).__name__ == "UUID":
        return str(value)
    raise TypeError(f"cannot store a value of type {type(value).__name__}")


@dataclass
class EventSchema:
    """The event envelope: the seed's nine fields, in the seed's order.

    ``event_id`` (a UUIDv7 string) and ``timestamp`` (UTC, six fraction
    digits, ``+00:00``) are generated when not given. ``entity_type`` and
    ``entity_id`` may be None. ``data`` and ``metadata`` are dicts of JSON
    values; ``decimal.Decimal`` is written as its string (money is never a
    float).
    """

    event_id: str = field(default_factory=_new_event_id)
    event_type: str = ""
    timestamp: str = field(default_factory=_now)
    source: str = "nexum"
    version: str = "1.0"
    entity_type: Optional[str] = None
    entity_id: Optional[str] = None
    data: Dict[str, Any] = field(default_factory=dict)
    metadata: Dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> Dict[str, Any]:
        """The JSON-ready dict: nine keys in order, Decimals as str, enums by value.

        ``json.dumps(e.to_dict(), separators=(",", ":"), ensure_ascii=False)``
        equals :meth:`to_json` for an event whose timestamp is in the
        canonical form (as generated, or read back from the store).
        """
        return {
            "event_id": self.event_id,
            "event_type": self.event_type,
            "timestamp": self.timestamp,
            "source": self.source,
            "version": self.version,
            "entity_type": self.entity_type or None,
            "entity_id": self.entity_id or None,
            "data": _plain(self.data),
            "metadata": _plain(self.metadata),
        }

    @classmethod
    def from_dict(cls, d: Dict[str, Any]) -> "EventSchema":
        """Builds an event from :meth:`to_dict`'s form; an unknown key raises TypeError (as the seed)."""
        unknown = [k for k in d if k not in _KEYS]
        if unknown:
            raise TypeError(f"EventSchema.__init__() got an unexpected keyword argument '{unknown[0]}'")
        return cls(**d)

    def to_json(self) -> str:
        """The wire form, encoded by libnexum's codec (doc/wire_format.md): byte-identical to C++."""
        from ._nexum import encode_event_json
        return encode_event_json(self)

    @classmethod
    def from_json(cls, text: str) -> "EventSchema":
        """Strict decode by libnexum's codec; errors are InvalidArgument naming the key."""
        from ._nexum import decode_event_json
        return decode_event_json(text)


@dataclass
class RecordedEvent:
    """An event read back from the store, with where it is stored."""

    global_position: int
    stream: str
    stream_version: int
    topic: str
    event: EventSchema

    # Shortcuts to the envelope.
    @property
    def event_type(self) -> str:
        return self.event.event_type

    @property
    def data(self) -> Dict[str, Any]:
        return self.event.data


@dataclass(frozen=True)
class AppendResult:
    """What an append wrote: one global position per event, in call order."""

    positions: List[int]
    stream_versions: List[int]
    #: True when every event id was already stored: nothing was written and
    #: ``positions`` are the original ones.
    deduplicated: bool = False

    @property
    def position(self) -> int:
        """The last event's global position."""
        return self.positions[-1] if self.positions else 0

    @property
    def version(self) -> int:
        """The (first) stream's last version after the append."""
        return self.stream_versions[0] if self.stream_versions else -1


@dataclass(frozen=True)
class StreamInfo:
    exists: bool
    last_version: int  # -1 when the stream does not exist
    last_position: int


class ExpectedVersion(str, enum.Enum):
    """What the caller believes about a stream; an int means "its last version is exactly this"."""

    ANY = "any"
    NO_STREAM = "no_stream"
    STREAM_EXISTS = "stream_exists"


@dataclass
class StreamAppend:
    """One stream's share of :meth:`nexum.EventStore.append_multi`."""

    stream: str
    events: List[Any]
    expected_version: Any = ExpectedVersion.ANY
    #: Topic to relay the events to; None derives it from each event_type.
    topic: Optional[str] = None


def dumps_compact(d: Dict[str, Any]) -> str:
    """``json.dumps`` with the C++ codec's layout (compact, UTF-8)."""
    return json.dumps(d, separators=(",", ":"), ensure_ascii=False)
