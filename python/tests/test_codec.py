"""EventSchema's dict and JSON forms against the C++ codec's output."""

import json
import pathlib
import subprocess
from decimal import Decimal

import pytest

import nexum
from nexum import EventSchema
from nexum._types import dumps_compact

from conftest import REPO, nexum_cli

FIXTURES = REPO / "tests" / "fixtures" / "seed"


def events():
    return [
        EventSchema(event_type="transaction_created", entity_type="transaction", entity_id="txn_1",
                    data={"transaction_type": "deposit", "amount": Decimal("100.50"), "currency": "USD",
                          "from_account_id": None, "to_account_id": "acc_1", "description": "Zoë \u65e5\u672c \U0001f4b6",
                          "quote": 'say "hi"\\ \t\n\x01'},
                    metadata={"correlation_id": "c-1", "user_id": None}),
        EventSchema(event_type="loan_originated", entity_type="loan", entity_id="loan_9",
                    data={"principal": Decimal("1E+2"), "term_months": 60, "nested": {"a": [1, True, None]}}),
        EventSchema(event_type="compliance_alert", entity_type=None, entity_id=None, data={}),
    ]


def test_to_json_is_the_cpp_encoders_bytes_and_matches_to_dict(tmp_path):
    path = tmp_path / "s"
    written = events()
    with nexum.EventStore.open(path) as store:
        for e in written:
            store.append(f"{e.entity_type or 'alert'}-{e.entity_id or 'x'}", [e])
    # The C++ CLI prints the stored events with libnexum's encoder (from the stored pieces).
    out = subprocess.run([str(nexum_cli()), "log", "--data", str(path)], check=True, capture_output=True).stdout
    lines = out.decode("utf-8").splitlines()
    assert len(lines) == len(written)
    for line, e in zip(lines, written):
        assert e.to_json() == line
        assert dumps_compact(e.to_dict()) == line
        assert EventSchema.from_dict(json.loads(line)) == EventSchema.from_dict(e.to_dict())
        assert EventSchema.from_json(line) == EventSchema.from_dict(e.to_dict())


@pytest.mark.parametrize("fixture", sorted(p.name for p in FIXTURES.glob("*.json")))
def test_seed_wire_fixtures_round_trip_through_from_dict_and_to_dict(fixture):
    text = (FIXTURES / fixture).read_text()
    e = EventSchema.from_dict(json.loads(text))
    assert json.dumps(e.to_dict()) == text.strip()  # the seed's own json.dumps form, byte for byte
    again = EventSchema.from_json(e.to_json())
    assert again.event_id == e.event_id and again.data == e.data


def test_from_dict_rejects_unknown_keys_like_the_seed():
    d = events()[0].to_dict()
    d["stream"] = "x"
    with pytest.raises(TypeError):
        EventSchema.from_dict(d)
    with pytest.raises(nexum.InvalidArgument) as info:
        EventSchema.from_json(json.dumps(d))
    assert info.value.field == "stream"


def test_to_dict_refuses_float():
    with pytest.raises(TypeError):
        EventSchema(event_type="x", data={"amount": 0.1}).to_dict()
