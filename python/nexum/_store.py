"""nexum.EventStore: the Pythonic face of libnexum's EventStore."""

from __future__ import annotations

import atexit
import os
import threading
import weakref
from typing import Any, Callable, Iterable, Iterator, List, Optional, Sequence, Union

from . import _nexum
from ._types import AppendResult, ExpectedVersion, RecordedEvent, StreamAppend, StreamInfo
from .errors import SubscriptionFailed

__all__ = ["EventStore", "Subscription", "ReadModels"]

Expected = Union[int, ExpectedVersion, str, None]

_open_stores: "weakref.WeakSet[EventStore]" = weakref.WeakSet()
_open_lock = threading.Lock()


@atexit.register
def _close_all() -> None:
    # Subscription threads need the interpreter: stop them before it goes.
    with _open_lock:
        stores = list(_open_stores)
    for s in stores:
        s.close()


class Subscription:
    """A live subscription. Its callback runs on the subscription's own thread.

    Stop it with :meth:`stop` or by leaving its ``with`` block. If the
    callback raises, the subscription stops, the exception is logged (logger
    ``"nexum"``) and kept in :attr:`error`; the process goes on.
    """

    def __init__(self, native: "_nexum.Subscription") -> None:
        self._native = native

    def stop(self) -> None:
        """Stops delivery; returns once the callback has returned for the last time.

        Must not be called from inside the callback.
        """
        self._native.stop()

    @property
    def running(self) -> bool:
        return self._native.running

    @property
    def position(self) -> int:
        """The last global position handed to the callback (or skipped by the filter)."""
        return self._native.position

    @property
    def caught_up(self) -> bool:
        """True once everything committed when it started has been delivered."""
        return self._native.caught_up

    @property
    def error(self) -> Optional[BaseException]:
        """The exception the callback raised, or None."""
        return self._native.error

    @property
    def status(self) -> str:
        """``"OK"`` while healthy; otherwise ``"<Code>: <message>"``."""
        code, message = self._native.status()
        return "OK" if code == "OK" else f"{code}: {message}"

    def wait_for_position(self, position: int, timeout: float = 10.0) -> bool:
        """Blocks (GIL released) until :attr:`position` >= ``position``; False on timeout.

        Raises :class:`nexum.SubscriptionFailed` if the subscription stopped on an error.
        """
        ok = self._native.wait_for_position(position, timeout)
        self.raise_if_failed()
        return ok

    def raise_if_failed(self) -> None:
        """Raises :class:`nexum.SubscriptionFailed` (from the callback's exception) if it failed."""
        code, message = self._native.status()
        if code != "OK":
            raise SubscriptionFailed(f"{code}: {message}") from self._native.error

    def __enter__(self) -> "Subscription":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()


# Read-model fields that hold money or rates as exact decimal strings
# (doc/projections.md); ReadModels returns them as decimal.Decimal.
_DECIMAL_FIELDS = frozenset({"balance", "last_transaction_amount", "principal", "outstanding", "total_paid",
                             "interest_rate"})


def _decimals(value: Any) -> Any:
    from decimal import Decimal, InvalidOperation

    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if k in _DECIMAL_FIELDS and isinstance(v, str):
                try:
                    v = Decimal(v)
                except InvalidOperation:
                    pass
            out[k] = _decimals(v) if isinstance(v, (dict, list)) else v
        return out
    if isinstance(value, list):
        return [_decimals(v) for v in value]
    return value


class ReadModels:
    """The built-in read models (account_balances, customer_directory, loan_portfolio, topic_stats).

    A libnexum ProjectionEngine on the store keeps them up to date in the
    background from the moment this is created; money and rates come back as
    ``decimal.Decimal``. Keys and fields: doc/projections.md. Closed with the
    store, or by :meth:`close` / leaving its ``with`` block.
    """

    def __init__(self, store: "EventStore") -> None:
        self._store = store
        self._native = _nexum.ReadModels(store)

    def wait_for(self, position: Optional[int] = None, timeout: float = 30.0) -> bool:
        """Blocks until every read model has applied ``position`` (default: the store's last); False on timeout."""
        return self._native.wait_for(self._store.last_position if position is None else position, timeout)

    def get(self, name: str, key: str) -> Optional[dict]:
        """The value under ``key`` in read model ``name``, or None."""
        return _decimals(self._native.get(name, key))

    def scan(self, name: str, prefix: str = "", limit: int = 1000, start_after: str = "") -> List[tuple]:
        """``(key, value)`` pairs whose key starts with ``prefix``, in key order (page with ``start_after``)."""
        return [(k, _decimals(v)) for k, v in self._native.scan(name, prefix, limit, start_after)]

    def names(self) -> List[str]:
        return self._native.names()

    def close(self) -> None:
        self._native.close()

    def __enter__(self) -> "ReadModels":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class EventStore(_nexum.Store):
    """Durable event streams with a dense global log (libnexum's EventStore).

    Open with :meth:`open`, preferably as a context manager::

        with nexum.EventStore.open("/var/lib/bank/events") as store:
            store.append("account-acc_1", [nexum.EventSchema(event_type="account_created", ...)])

    Thread-safe: every method may be called from several threads at once;
    the GIL is released while the store works (fsync waits included).
    """

    @classmethod
    def open(cls, path: Union[str, "os.PathLike[str]"], *, durability: str = "sync",
             create_if_missing: bool = True, max_group_events: int = 4096,
             block_cache_bytes: int = 64 << 20, write_buffer_bytes: int = 32 << 20,
             stream_cache_entries: int = 1 << 20, subscription_batch: int = 1024) -> "EventStore":
        """Opens (or creates) the store in directory ``path``.

        ``durability``: ``"sync"`` (default; an acknowledged append has been
        fsynced, the fsync shared by concurrent appends) or ``"buffered"``
        (written to the WAL without fsync: survives a process crash, not a
        power loss). The other options are libnexum's StoreOptions.
        """
        store = cls(os.fspath(path), durability, create_if_missing, max_group_events, block_cache_bytes,
                    write_buffer_bytes, stream_cache_entries, subscription_batch)
        with _open_lock:
            _open_stores.add(store)
        return store

    def __enter__(self) -> "EventStore":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def append(self, stream: str, events: Sequence[Any], expected_version: Expected = ExpectedVersion.ANY,
               *, topic: Optional[str] = None) -> AppendResult:
        """Appends ``events`` (EventSchema objects or dicts with its keys) to ``stream``, atomically.

        ``stream`` is ``"{category}-{id}"``. ``expected_version``: an int (the
        stream's last version must be exactly this), ``ExpectedVersion.ANY``,
        ``NO_STREAM`` or ``STREAM_EXISTS``; a mismatch raises
        :class:`nexum.Conflict` carrying ``actual_version``, and nothing is
        written. Re-appending event ids already stored writes nothing and
        returns their original positions (``deduplicated``).
        """
        return AppendResult(*self._append(stream, events, _expected(expected_version), topic))

    def append_multi(self, appends: Iterable[Union[StreamAppend, tuple]]) -> AppendResult:
        """Appends to several streams atomically: all or nothing. Each stream may appear once.

        ``appends``: :class:`nexum.StreamAppend` objects or
        ``(stream, events[, expected_version[, topic]])`` tuples.
        """
        native = []
        for a in appends:
            if isinstance(a, StreamAppend):
                native.append((a.stream, a.events, _expected(a.expected_version), a.topic))
            else:
                t = tuple(a)
                stream, events = t[0], t[1]
                expected = t[2] if len(t) > 2 else ExpectedVersion.ANY
                topic = t[3] if len(t) > 3 else None
                native.append((stream, events, _expected(expected), topic))
        return AppendResult(*self._append_multi(native))

    def subscribe(self, callback: Callable[[RecordedEvent], Any], from_position: int = 1, *,
                  categories: Optional[List[str]] = None, event_types: Optional[List[str]] = None,
                  topics: Optional[List[str]] = None) -> Subscription:
        """Calls ``callback(recorded_event)`` for every matching event with position >= ``from_position``.

        Catch-up from the log, then live, in global order, with no gap and no
        duplicate. The callback runs on the subscription's own thread (one
        thread per subscription, so calls never overlap). If it raises, the
        subscription stops with that error (see :class:`Subscription`).
        Filters: lists are ORed within, ANDed across; None matches all.
        """
        return Subscription(self._subscribe(callback, from_position, categories, event_types, topics))

    def read_models(self) -> ReadModels:
        """Starts the built-in read models on this store (see :class:`ReadModels`)."""
        return ReadModels(self)

    def sagas(self) -> List[dict]:
        """Every saga that ran on this store: name, checkpoint, instance counts by status, outbox, deadlines."""
        return _nexum.list_sagas(self)

    def saga_instances(self, saga: str, limit: Optional[int] = None) -> List[dict]:
        """Instances of ``saga`` in id order, each as its JSON form (state, status, history, commands...)."""
        return _nexum.list_saga_instances(self, saga, limit)

    def saga_instance(self, saga: str, id: str) -> dict:
        """One instance of ``saga``; :class:`nexum.NotFound` when absent."""
        return _nexum.load_saga_instance(self, saga, id)

    def stream_info(self, stream: str) -> StreamInfo:
        return StreamInfo(*self._stream_info(stream))

    def iter_all(self, from_position: int = 1, *, batch_size: int = 4096, categories: Optional[List[str]] = None,
                 event_types: Optional[List[str]] = None, topics: Optional[List[str]] = None,
                 as_dict: bool = False) -> Iterator[Any]:
        """The global log from ``from_position`` up to the last committed event, read ``batch_size`` at a time.

        Yields :class:`RecordedEvent` objects, or with ``as_dict=True``
        ``(global_position, envelope)`` tuples whose envelope is the dict
        :meth:`EventSchema.to_dict` gives (the fastest replay: one dict per
        event plus its payload dicts).
        """
        if batch_size <= 0:
            raise ValueError("batch_size: must be > 0")
        pos = max(1, from_position)
        while True:
            batch = self.read_all(pos, batch_size, categories=categories, event_types=event_types, topics=topics,
                                  as_dict=as_dict)
            yield from batch
            if len(batch) < batch_size:
                return
            pos = (batch[-1][0] if as_dict else batch[-1].global_position) + 1


def _expected(v: Expected) -> Any:
    if v is None:
        return "any"
    if isinstance(v, bool):
        raise TypeError("expected_version: expected an int or nexum.ExpectedVersion, got bool")
    return v
