"""The core API: appends, reads, optimistic concurrency, errors, subscriptions."""

import threading
from decimal import Decimal

import pytest

import nexum
from nexum import EventSchema, ExpectedVersion


def ev(event_type="account_created", **data):
    return EventSchema(event_type=event_type, entity_type="account", entity_id="acc_1", data=data)


def test_append_then_read_stream_returns_the_events_with_positions(store):
    r = store.append("account-acc_1", [ev(balance=Decimal("10.50")), ev("account_updated", state="frozen")])
    assert r.positions == [1, 2]
    assert r.version == 1
    assert not r.deduplicated
    got = store.read_stream("account-acc_1")
    assert [g.stream_version for g in got] == [0, 1]
    assert [g.global_position for g in got] == [1, 2]
    assert got[0].event.data == {"balance": "10.50"}  # Decimal stored as its exact string
    assert got[0].topic == "nexum.accounts.created"
    assert got[1].event.event_type == "account_updated"
    assert store.stream_info("account-acc_1") == nexum.StreamInfo(True, 1, 2)
    assert store.last_position == 2


def test_events_may_be_dicts_and_ids_and_timestamps_are_kept(store):
    e = ev(x=1)
    store.append("account-acc_1", [e.to_dict()])
    back = store.read_stream("account-acc_1")[0].event
    assert back == e


def test_read_stream_from_version_limit_and_backward(store):
    store.append("account-a", [ev(i=i) for i in range(10)])
    assert [g.event.data["i"] for g in store.read_stream("account-a", 3, 4)] == [3, 4, 5, 6]
    assert [g.event.data["i"] for g in store.read_stream("account-a", -1, 3, backward=True)] == [9, 8, 7]


def test_read_missing_stream_is_not_found(store):
    with pytest.raises(nexum.NotFound):
        store.read_stream("account-none")
    assert not store.stream_info("account-none").exists


def test_expected_version_mismatch_raises_conflict_with_actual_version_and_writes_nothing(store):
    store.append("account-a", [ev(), ev()])
    with pytest.raises(nexum.Conflict) as info:
        store.append("account-a", [ev()], expected_version=0)
    assert info.value.actual_version == 1
    with pytest.raises(nexum.Conflict) as info:
        store.append("account-b", [ev()], expected_version=ExpectedVersion.STREAM_EXISTS)
    assert info.value.actual_version == -1
    with pytest.raises(nexum.Conflict):
        store.append("account-a", [ev()], expected_version=ExpectedVersion.NO_STREAM)
    assert store.last_position == 2
    assert store.append("account-a", [ev()], expected_version=1).version == 2


def test_reappending_the_same_event_ids_is_deduplicated(store):
    events = [ev(i=1), ev(i=2)]
    first = store.append("account-a", events)
    again = store.append("account-a", events)
    assert again.deduplicated
    assert again.positions == first.positions
    assert store.last_position == 2


@pytest.mark.parametrize("bad, field", [
    ({"event_type": "x", "data": {"amount": 1.5}}, "events[1].data.amount"),
    ({"event_type": "x", "data": {"nested": {"rate": [Decimal("1"), 0.1]}}}, "events[1].data.nested.rate[1]"),
    ({"event_type": ""}, "events[1].event_type"),
    ({"event_type": "x", "event_id": "not-a-uuid"}, "events[1].event_id"),
    ({"event_type": "x", "timestamp": "2024-01-01 00:00:00"}, "events[1].timestamp"),
    ({"event_type": "x", "stream": "y"}, "events[1].stream"),
    ({"event_type": "x", "data": {"n": 2 ** 70}}, "events[1].data.n"),
    ({"event_type": "x", "data": {"d": Decimal("NaN")}}, "events[1].data.d"),
    ({"event_type": "x", "data": {"o": object()}}, "events[1].data.o"),
    ({"event_type": "x", "data": []}, "events[1].data"),
])
def test_bad_event_raises_invalid_argument_naming_the_field_and_loses_nothing(store, bad, field):
    store.append("account-a", [ev(keep=True)])
    with pytest.raises(nexum.InvalidArgument) as info:
        store.append("account-a", [ev(), bad])
    assert info.value.field == field, str(info.value)
    assert isinstance(info.value, ValueError)
    assert [g.event.data for g in store.read_stream("account-a")] == [{"keep": True}]


def test_bad_stream_and_expected_version_name_their_field(store):
    with pytest.raises(nexum.InvalidArgument) as info:
        store.append("nodash", [ev()])
    assert info.value.field == "stream"
    with pytest.raises(nexum.InvalidArgument) as info:
        store.append("account-a", [ev()], expected_version="sometimes")
    assert info.value.field == "expected_version"


def test_payload_values_convert_as_documented(store):
    import datetime
    import enum
    import uuid

    class State(enum.Enum):
        ACTIVE = "active"

    class Money:
        def __init__(self, amount, currency):
            self.amount, self.currency = amount, currency

    when = datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc)
    u = uuid.UUID("12345678-1234-5678-1234-567812345678")
    store.append("account-a", [ev(state=State.ACTIVE, at=when, day=when.date(), id=u, money=Money(Decimal("1.50"), "USD"),
                                  tup=(1, "a"), big=2 ** 63, exp=Decimal("1E+2"))])
    data = store.read_stream("account-a")[0].event.data
    assert data == {"state": "active", "at": "2024-01-02T03:04:05+00:00", "day": "2024-01-02",
                    "id": str(u), "money": {"amount": "1.50", "currency": "USD"}, "tup": [1, "a"],
                    "big": 2 ** 63, "exp": "1E+2"}


def test_append_multi_is_atomic_across_streams(store):
    r = store.append_multi([("account-a", [ev()]), nexum.StreamAppend("account-b", [ev(), ev()])])
    assert r.positions == [1, 2, 3]
    assert r.stream_versions == [0, 1]
    with pytest.raises(nexum.Conflict):
        store.append_multi([("account-c", [ev()]), ("account-a", [ev()], 5)])
    assert not store.stream_info("account-c").exists
    assert store.last_position == 3


def test_read_all_from_position_and_filters(store):
    store.append("account-a", [ev(i=0)])
    store.append("customer-c", [EventSchema(event_type="customer_created", data={"i": 1})])
    store.append("account-b", [ev(i=2)])
    assert [g.global_position for g in store.read_all(2)] == [2, 3]
    assert [g.stream for g in store.read_all(1, categories=["account"])] == ["account-a", "account-b"]
    assert [g.stream for g in store.read_all(1, event_types=["customer_created"])] == ["customer-c"]
    assert [g.global_position for g in store.read_all(1, 2)] == [1, 2]
    assert [g.global_position for g in store.iter_all(1, batch_size=2)] == [1, 2, 3]
    assert [g.global_position for g in store.iter_all(1, batch_size=1, categories=["account"])] == [1, 3]


def test_json_numbers_with_a_fraction_read_back_as_decimal_never_float(store, tmp_path):
    # A payload written by another writer (here: the C++ codec decoding JSON) may hold 1.25 as a number.
    e = EventSchema.from_json('{"event_id":"0b1c2d3e-4f5a-4b6c-8d7e-9f0a1b2c3d4e","event_type":"x",'
                              '"timestamp":"2024-01-01T00:00:00Z","data":{"rate":1.25,"n":3}}')
    assert e.data == {"rate": Decimal("1.25"), "n": 3}
    assert type(e.data["rate"]) is Decimal


def test_find_event_and_checkpoints(store):
    e = ev()
    store.append("account-a", [ev(), e])
    assert store.find_event(e.event_id) == 2
    with pytest.raises(nexum.NotFound):
        store.find_event("0b1c2d3e-4f5a-4b6c-8d7e-9f0a1b2c3d4e")
    assert store.load_checkpoint("reader") == 0
    store.save_checkpoint("reader", 2)
    assert store.load_checkpoint("reader") == 2
    store.verify()


def test_events_survive_close_and_reopen(tmp_path):
    path = tmp_path / "s"
    with nexum.EventStore.open(path) as s:
        s.append("account-a", [ev(amount=Decimal("100.05"))])
    with nexum.EventStore.open(path) as s:
        assert s.read_stream("account-a")[0].event.data == {"amount": "100.05"}
    with pytest.raises(nexum.InvalidArgument) as info:
        s.append("account-a", [ev()])
    assert info.value.field == "store"
    assert s.closed


def test_open_refuses_bad_options_and_missing_store(tmp_path):
    with pytest.raises(nexum.InvalidArgument) as info:
        nexum.EventStore.open(tmp_path / "x", durability="fast")
    assert info.value.field == "durability"
    with pytest.raises(nexum.NexumError):
        nexum.EventStore.open(tmp_path / "missing", create_if_missing=False)


def test_subscribe_catches_up_then_goes_live_in_order(store):
    store.append("account-a", [ev(i=0), ev(i=1)])
    got = []
    with store.subscribe(lambda e: got.append((e.global_position, e.event.data["i"]))) as sub:
        store.append("account-a", [ev(i=2)])
        assert sub.wait_for_position(3, timeout=10)
    assert got == [(1, 0), (2, 1), (3, 2)]
    assert sub.status == "OK"


def test_subscribe_from_position_with_category_filter(store):
    store.append("account-a", [ev(i=0)])
    store.append("customer-c", [EventSchema(event_type="customer_created", data={"i": 1})])
    store.append("account-b", [ev(i=2)])
    got = []
    with store.subscribe(lambda e: got.append(e.global_position), from_position=2, categories=["account"]) as sub:
        assert sub.wait_for_position(3)
    assert got == [3]


def test_callbacks_run_on_one_thread_per_subscription(store):
    threads = set()
    with store.subscribe(lambda e: threads.add(threading.get_ident())) as sub:
        for i in range(20):
            store.append("account-a", [ev(i=i)])
        assert sub.wait_for_position(20)
    assert len(threads) == 1
    assert threading.get_ident() not in threads


def test_callback_exception_stops_only_that_subscription(store, caplog):
    seen = []

    def bad(e):
        if e.global_position == 2:
            raise KeyError("no such account")
        seen.append(e.global_position)

    good = []
    store.append("account-a", [ev(i=i) for i in range(3)])
    with store.subscribe(bad) as failing, store.subscribe(lambda e: good.append(e.global_position)) as healthy:
        with pytest.raises(nexum.SubscriptionFailed) as info:
            failing.wait_for_position(3, timeout=10)
        assert isinstance(info.value.__cause__, KeyError)
        assert isinstance(failing.error, KeyError)
        assert "KeyError" in failing.status
        assert not failing.running
        store.append("account-a", [ev(i=3)])
        assert healthy.wait_for_position(4)
    assert seen == [1]
    assert good == [1, 2, 3, 4]
    assert "callback raised KeyError" in caplog.text
    store.append("account-a", [ev(i=4)])  # the store works on


def test_iter_all_as_dict_yields_positions_and_to_dict_envelopes(store):
    written = [ev(i=i, amount=Decimal("1.50")) for i in range(5)]
    store.append("account-a", written[:3])
    store.append("account-b", written[3:])
    got = list(store.iter_all(2, batch_size=2, as_dict=True))
    assert [p for p, _ in got] == [2, 3, 4, 5]
    assert [d for _, d in got] == [e.to_dict() for e in written[1:]]
    assert [p for p, _ in store.iter_all(1, batch_size=2, as_dict=True, categories=["account"])] == [1, 2, 3, 4, 5]
