"""Several Python threads at once, and the GIL released while the store works."""

import sys
import threading
import time

import nexum
from nexum import EventSchema


def ev(i):
    return EventSchema(event_type="transaction_created", entity_type="transaction", entity_id=str(i),
                       data={"amount": "1.00", "currency": "USD", "i": i})


def test_threads_appending_and_subscribing_at_once_see_every_event_once_in_order(sync_store):
    writers, per_writer = 4, 50
    seen = [[] for _ in range(3)]
    subs = [sync_store.subscribe(seen[k].append) for k in range(3)]
    errors = []

    def write(w):
        try:
            for i in range(per_writer):
                sync_store.append(f"transaction-w{w}", [ev(i)])
        except Exception as e:  # surfaced below
            errors.append(e)

    threads = [threading.Thread(target=write, args=(w,)) for w in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    total = writers * per_writer
    assert sync_store.last_position == total
    for s, got in zip(subs, seen):
        assert s.wait_for_position(total, timeout=30)
        s.stop()
        assert [e.global_position for e in got] == list(range(1, total + 1))
    # Each writer's stream holds its events in its own order.
    for w in range(writers):
        assert [e.event.data["i"] for e in sync_store.read_stream(f"transaction-w{w}")] == list(range(per_writer))


def _spin_while(fn):
    """Runs fn on this thread while another Python thread counts; returns that thread's count."""
    count = 0
    stop = False
    started = threading.Event()

    def spin():
        # Counts, yielding the GIL after each step (sleep(0)) so the main
        # thread gets it back as soon as its call returns.
        nonlocal count
        started.set()
        while not stop:
            count += 1
            time.sleep(0)

    t = threading.Thread(target=spin)
    t.start()
    started.wait()
    before = count
    fn()
    during = count - before
    stop = True
    t.join()
    return during


def test_gil_is_released_during_a_burst_of_durable_appends(sync_store):
    old = sys.getswitchinterval()
    # With a 10 s switch interval a thread holding the GIL is never asked to
    # give it up during the burst (well under 10 s): the counter moves only
    # if the appends release it while they wait for their fsync.
    sys.setswitchinterval(10.0)
    try:
        during = _spin_while(lambda: [sync_store.append("transaction-g", [ev(i)]) for i in range(100)])
    finally:
        sys.setswitchinterval(old)
    assert sync_store.last_position == 100
    assert during > 100, f"the other thread counted only {during} during 100 fsynced appends"


def test_gil_is_released_during_a_long_read(store):
    for b in range(20):
        store.append(f"transaction-{b}", [ev(i) for i in range(1000)])
    old = sys.getswitchinterval()
    sys.setswitchinterval(10.0)
    try:
        during = _spin_while(lambda: store.read_all(1))
    finally:
        sys.setswitchinterval(old)
    assert during > 10, f"the other thread counted only {during} during a 20k-event read"
