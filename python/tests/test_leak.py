"""No leak: memory stays flat over many events appended and read."""

import gc

import nexum
from nexum import EventSchema


def rss_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096


def test_rss_flat_over_200k_events_appended_and_read(tmp_path):
    data = {"amount": "100.00", "currency": "USD", "from_account_id": "acc_1", "to_account_id": None,
            "description": "payroll", "reference": "DEPOSIT-0001"}
    with nexum.EventStore.open(tmp_path / "s", durability="buffered", block_cache_bytes=8 << 20,
                               write_buffer_bytes=4 << 20) as store:
        def round_trip(first_stream):
            start = store.last_position + 1
            for b in range(50):  # 50 x 1000 = 50k events
                store.append(f"transaction-{first_stream + b}",
                             [EventSchema(event_type="transaction_created", data=data) for _ in range(1000)])
            n = 0
            for e in store.iter_all(start, batch_size=5000):
                n += len(e.event.data)
            assert n == 50_000 * len(data)

        round_trip(0)  # warm up caches and memtables
        gc.collect()
        base_rss, base_objects = rss_bytes(), len(gc.get_objects())
        for r in range(1, 4):  # 150k more
            round_trip(r * 100)
        gc.collect()
        grown = rss_bytes() - base_rss
        assert store.last_position == 200_000
        assert len(gc.get_objects()) - base_objects < 1000
        # A leak of one object per event would be > 10 MB here; RocksDB's
        # memtable and cache are capped at a few MiB by the options above.
        assert grown < 24 << 20, f"RSS grew {grown >> 20} MiB over 150k events"
