"""``python -m nexum.bench``: Python vs C++ on one store, in one run.

Each row runs the same operation twice on the same store in this process:
through the Python API, and through libnexum directly (a C++ loop inside the
extension, no Python per event), and prints both rates and their ratio.
The peer row is the original backend's in-memory publish path (an
``EventSchema`` built as the original did, ``json.dumps(event.to_dict())``,
kept in a list, subscribers called), against the compat publisher, which
also appends every event durably. Figures: bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import tempfile
import threading
import time
import uuid
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any, Callable, Dict, List

from . import EventStore, _nexum
from .compat import kafka_integration as ki

PAYLOAD = {"transaction_type": "deposit", "amount": "100.50", "currency": "USD", "from_account_id": None,
           "to_account_id": "acc_0001", "description": "Cash deposit", "reference": "DEPOSIT-00000001"}


def _median_rate(runs: int, fn: Callable[[], float], events: int) -> float:
    return statistics.median(events / fn() for _ in range(runs))


def _paired(runs: int, py: Callable[[], float], cpp: Callable[[], float], events: int) -> tuple:
    """Median rates of py and cpp, run alternately so drift and load hit both alike."""
    a, b = [], []
    for _ in range(runs):
        a.append(events / py())
        b.append(events / cpp())
    return statistics.median(a), statistics.median(b)


def _cpu(fn: Callable[[], float]) -> Callable[[], float]:
    """fn measured in process CPU seconds instead of wall seconds (for single-threaded CPU-bound work)."""
    def run() -> float:
        t0 = time.process_time()
        fn()
        return time.process_time() - t0
    return run


def _timed(fn: Callable[[], Any]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


# ---- the original's in-memory publish path, reproduced (doc/seed-compat.md §1, §4)
@dataclasses.dataclass
class _SeedEventSchema:
    event_id: str
    event_type: str
    timestamp: str
    source: str = "nexum"
    version: str = "1.0"
    entity_type: Any = None
    entity_id: Any = None
    data: Dict[str, Any] = dataclasses.field(default_factory=dict)
    metadata: Dict[str, Any] = dataclasses.field(default_factory=dict)

    def to_dict(self) -> Dict[str, Any]:
        d = dataclasses.asdict(self)
        d["data"] = _seed_serialize(d["data"])
        d["metadata"] = _seed_serialize(d["metadata"])
        return d


def _seed_serialize(obj: Any) -> Any:
    if obj is None:
        return None
    if isinstance(obj, Decimal):
        return str(obj)
    if isinstance(obj, dict):
        return {k: _seed_serialize(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_seed_serialize(v) for v in obj]
    if hasattr(obj, "code") and hasattr(obj, "value"):
        return obj.code
    return obj


class _SeedInMemoryBus:
    def __init__(self) -> None:
        self.events: List[Any] = []
        self.subscribers: Dict[str, List[Callable[[Any], None]]] = {}
        self.lock = threading.RLock()

    def publish(self, topic: str, event: _SeedEventSchema, key: Any = None) -> None:
        with self.lock:
            self.events.append((topic, event, key))
            for h in self.subscribers.get(topic, []):
                h(event)


def _seed_publish(bus: _SeedInMemoryBus, i: int) -> None:
    event = _SeedEventSchema(event_id=str(uuid.uuid4()), event_type="transaction_created",
                             timestamp=datetime.now(timezone.utc).isoformat(), entity_type="transaction",
                             entity_id=f"txn_{i}", data=dict(PAYLOAD, amount=Decimal("100.50")),
                             metadata={"correlation_id": None, "user_id": None})
    bus.publish("nexum.transactions.created", event, event.entity_id)


class _Txn:
    """A transaction as the original domain object looks (by attribute)."""

    def __init__(self, i: int) -> None:
        self.id = f"txn_{i}"
        self.transaction_type = "deposit"
        self.amount = Decimal("100.50")
        self.currency = "USD"
        self.from_account_id = None
        self.to_account_id = "acc_0001"
        self.description = "Cash deposit"
        self.reference = "DEPOSIT-00000001"
        self.metadata: Dict[str, Any] = {}


def main(argv: List[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m nexum.bench", description=__doc__.splitlines()[0])
    ap.add_argument("--dir", help="where to create the stores (default: a temporary directory)")
    ap.add_argument("--runs", type=int, default=3, help="runs per figure; the median is printed (default 3)")
    ap.add_argument("--batched-calls", type=int, default=200, help="calls of 100 events (default 200)")
    ap.add_argument("--single-calls", type=int, default=500, help="single-event durable appends (default 500)")
    ap.add_argument("--replay-events", type=int, default=100_000, help="events in the replayed log (default 100k)")
    ap.add_argument("--publish-events", type=int, default=5000, help="events per publish-path run (default 5000)")
    args = ap.parse_args(argv)
    base = args.dir or tempfile.mkdtemp(prefix="nexum-bench-")
    runs = args.runs
    rows = []

    def row(name: str, py: float, cpp: float, note: str = "") -> None:
        rows.append((name, py, cpp, note))
        print(f"{name:<44} {py:>12,.0f} {cpp:>12,.0f} {py / cpp:>7.2f}x  {note}", flush=True)

    print(f"nexum.bench: {runs} runs per figure, median; stores under {base}")
    print(f"{'operation (events/s)':<44} {'Python':>12} {'C++':>12} {'ratio':>8}")

    with EventStore.open(f"{base}/sync", durability="sync") as store:
        n = args.batched_calls

        def py_batched() -> float:
            events = [{"event_type": "transaction_created", "entity_type": "transaction", "entity_id": "t",
                       "data": PAYLOAD} for _ in range(100)]

            def go() -> None:
                for c in range(n):
                    store.append(f"pyb-{c % 10}", events)
            return _timed(go)

        def cpp_batched() -> float:
            return _nexum._bench_cpp_append(store, "cppb", 10, n, 100, PAYLOAD)

        py_b, cpp_b = _paired(runs, py_batched, cpp_batched, n * 100)
        row("batched durable appends (100/call)", py_b, cpp_b, "target >= 0.5x")

        m = args.single_calls

        def py_single() -> float:
            def go() -> None:
                for c in range(m):
                    store.append(f"pys-{c % 10}", [{"event_type": "transaction_created", "data": PAYLOAD}])
            return _timed(go)

        def cpp_single() -> float:
            return _nexum._bench_cpp_append(store, "cpps", 10, m, 1, PAYLOAD)

        py_s, cpp_s = _paired(runs, py_single, cpp_single, m)
        row("single durable appends (1/call, 1 caller)", py_s, cpp_s, "target >= 0.3x")

    with EventStore.open(f"{base}/replay", durability="buffered") as store:
        total = args.replay_events
        events = [{"event_type": "transaction_created", "entity_type": "transaction", "entity_id": "t",
                   "data": PAYLOAD} for _ in range(1000)]
        for c in range(total // 1000):
            store.append(f"r-{c}", events)

        def py_replay() -> float:
            def go() -> None:
                count = 0
                for _, e in store.iter_all(1, batch_size=8192, as_dict=True):
                    count += len(e["data"])
                assert count == total * len(PAYLOAD)
            return _timed(go)

        def py_replay_objects() -> float:
            def go() -> None:
                count = 0
                for e in store.iter_all(1, batch_size=8192):
                    count += len(e.event.data)
                assert count == total * len(PAYLOAD)
            return _timed(go)

        def cpp_replay() -> float:
            count, secs = _nexum._bench_cpp_replay(store, 1)
            assert count == total
            return secs

        py_r, cpp_r = _paired(runs, py_replay, cpp_replay, total)
        row("replay to Python dicts (iter_all as_dict)", py_r, cpp_r, "target >= 300k/s")
        py_r, cpp_r = _paired(runs, _cpu(py_replay), _cpu(cpp_replay), total)
        row("  the same, per CPU second", py_r, cpp_r, "(load-independent)")
        py_o, cpp_o = _paired(runs, py_replay_objects, cpp_replay, total)
        row("replay to RecordedEvent objects (iter_all)", py_o, cpp_o)

    k = args.publish_events

    def seed_path() -> float:
        bus = _SeedInMemoryBus()
        bus.subscribers["nexum.transactions.created"] = [lambda e: json.dumps(e.to_dict())]
        return _timed(lambda: [_seed_publish(bus, i) for i in range(k)])

    seed = _median_rate(runs, seed_path, k)
    seed_cpu = _median_rate(runs, _cpu(seed_path), k)
    print(f"\npeer: the original in-memory publish path (EventSchema, json.dumps(event.to_dict())): {seed:,.0f}/s"
          f" ({seed_cpu:,.0f} per CPU second)")
    for durability in ("sync", "buffered"):
        with EventStore.open(f"{base}/compat-{durability}", durability=durability) as store:
            def compat() -> float:
                bus = ki.InMemoryEventBus(store=store)
                bus.subscribe("nexum.transactions.created", lambda e: None)
                pub = ki.NexumEventPublisher(bus)
                txns = [_Txn(i) for i in range(k)]
                return _timed(lambda: [pub.on_transaction_created(t) for t in txns])

            rate = _median_rate(runs, compat, k)
            print(f"compat NexumEventPublisher -> InMemoryEventBus, {durability:<8} (durable append each): "
                  f"{rate:,.0f}/s  ({rate / seed:.2f}x the original's in-memory path)", flush=True)

            def compat_threads(threads: int = 64) -> float:
                # A web backend publishes from many request threads: their
                # appends share commit groups (one fsync for many events).
                bus = ki.InMemoryEventBus(store=store)
                pub = ki.NexumEventPublisher(bus)
                per = k // threads

                def work(t: int) -> None:
                    for i in range(per):
                        pub.on_transaction_created(_Txn(t * per + i))

                ts = [threading.Thread(target=work, args=(t,)) for t in range(threads)]

                def go() -> None:
                    for th in ts:
                        th.start()
                    for th in ts:
                        th.join()
                return _timed(go)

            rate = _median_rate(runs, compat_threads, (k // 64) * 64)
            print(f"compat NexumEventPublisher -> InMemoryEventBus, {durability:<8} 64 threads:               "
                  f"{rate:,.0f}/s  ({rate / seed:.2f}x the original's in-memory path)", flush=True)


if __name__ == "__main__":
    main()
