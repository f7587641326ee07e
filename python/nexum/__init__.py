"""nexum: the Nexum event store for Python.

A durable, embedded event store (libnexum, C++ on RocksDB) with Kafka
relaying, bound with nanobind. Start with :meth:`EventStore.open`::

    import nexum
    with nexum.EventStore.open("events") as store:
        store.append("account-acc_1", [nexum.EventSchema(event_type="account_created",
                                                         data={"balance": Decimal("0.00")})])
        for e in store.read_stream("account-acc_1"):
            print(e.global_position, e.event.data)

The drop-in layer for the original banking backend is
:mod:`nexum.compat.kafka_integration`. Threads and the GIL: doc/python.md.
"""

from ._types import AppendResult, EventSchema, ExpectedVersion, RecordedEvent, StreamAppend, StreamInfo
from .errors import (Conflict, DataLoss, Internal, InvalidArgument, NexumError, NotFound, SubscriptionFailed,
                     Unavailable)
from . import _nexum
from ._store import EventStore, ReadModels, Subscription

__version__ = "0.1.0"

__all__ = [
    "EventStore",
    "Subscription",
    "ReadModels",
    "EventSchema",
    "RecordedEvent",
    "AppendResult",
    "StreamInfo",
    "StreamAppend",
    "ExpectedVersion",
    "NexumError",
    "InvalidArgument",
    "NotFound",
    "Conflict",
    "Unavailable",
    "DataLoss",
    "Internal",
    "SubscriptionFailed",
]
