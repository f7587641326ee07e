#!/usr/bin/env python3
"""A Kafka client that is not ours reads Nexum's events and sends it a command.

    python_client_test.py NEXUM_BINARY

Runs `nexum serve --bus kafka` on the real Apache Kafka cluster of the test
run (NEXUM_KAFKA_BOOTSTRAP from ./dev test; run alone, it starts its own with
kafka_cluster.py). With confluent-kafka from PyPI (the venv ./dev setup
makes) it produces commands, then reads EVERY event that serve put on the
nexum.* event topics during the test and parses each the way the original
Python system did: json.loads, then EventSchema.from_dict, which is
`cls(**d)` on a dataclass (any key but the nine raises TypeError) after
`datetime.fromisoformat` of the timestamp (doc/seed-compat.md, section 1).

Every event must parse, carry its entity_id as the Kafka key and its
event_id in the ce_id header, and the commands' outcomes (customer_created,
account_created, transaction_posted with the deposited amount) must be
among them. Prints a closing "N passed, N failed" line.
"""

import os
import sys

VENV_HINT = "run ./dev setup (it creates the venv with confluent-kafka)"


def reexec_in_venv():
    """Runs this script again under the venv's interpreter if confluent_kafka
    is not importable here."""
    try:
        import confluent_kafka  # noqa: F401
        return
    except ImportError:
        pass
    cache = os.environ.get("NEXUM_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "nexum")
    venv = os.path.join(cache, "venv")
    python = os.path.join(venv, "bin", "python")
    # (The venv's python is a symlink to the base interpreter: compare prefixes.)
    if os.path.exists(python) and os.path.realpath(sys.prefix) != os.path.realpath(venv):
        os.execv(python, [python] + sys.argv)
    print(f"python_client_test: confluent_kafka is not installed ({VENV_HINT})", file=sys.stderr)
    sys.exit(1)


reexec_in_venv()

import json  # noqa: E402
import re  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import urllib.request  # noqa: E402
import uuid  # noqa: E402
from datetime import datetime, timezone  # noqa: E402

from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition  # noqa: E402
from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "fixtures", "seed"))
from seed_schema import FIELD_NAMES, EventSchema  # noqa: E402  (the original system's envelope)
COMMAND_TOPICS = ["nexum.commands.transactions", "nexum.commands.accounts", "nexum.commands.customers",
                  "nexum.commands.loans"]


class Checks:
    def __init__(self):
        self.passed = 0
        self.failed = 0

    def check(self, ok, what):
        if ok:
            self.passed += 1
        else:
            self.failed += 1
            print(f"FAILED: {what}", file=sys.stderr)
        return ok


def start_own_cluster(tmp):
    directory = os.path.join(tmp, "kafka")
    out = subprocess.run([sys.executable, os.path.join(HERE, "kafka_cluster.py"), "start", "--dir", directory,
                          "--owner-pid", str(os.getpid())], stdout=subprocess.PIPE, text=True)
    if out.returncode != 0:
        sys.exit("python_client_test: could not start a Kafka cluster")
    return out.stdout.strip(), directory


def http_get(port, path):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()
    except OSError:
        return 0, ""


def wait_until(predicate, timeout, interval=0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


def nexum_topics(admin):
    names = admin.list_topics(timeout=10).topics
    return sorted(t for t in names if t.startswith("nexum.") and not t.startswith("nexum.commands.")
                  and t != "nexum.cluster.ready")


def end_offsets(consumer, topics):
    """{(topic, partition): high watermark} for every partition of `topics`."""
    ends = {}
    md = consumer.list_topics(timeout=10)
    for t in topics:
        if t not in md.topics:
            continue
        for p in md.topics[t].partitions:
            _, high = consumer.get_watermark_offsets(TopicPartition(t, p), timeout=10)
            ends[(t, p)] = high
    return ends


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    nexum = sys.argv[1]
    checks = Checks()
    tmp = tempfile.mkdtemp(prefix="nexum-pyclient-")
    own_cluster = None
    serve = None
    try:
        bootstrap = os.environ.get("NEXUM_KAFKA_BOOTSTRAP")
        if not bootstrap:
            bootstrap, own_cluster = start_own_cluster(tmp)
        admin = AdminClient({"bootstrap.servers": bootstrap})
        futures = admin.create_topics([NewTopic(t, num_partitions=3, replication_factor=3) for t in COMMAND_TOPICS])
        for t, f in futures.items():
            try:
                f.result(30)
            except Exception as e:  # An existing topic is fine: the run's cluster is shared.
                if "TOPIC_ALREADY_EXISTS" not in str(e) and "already exists" not in str(e):
                    raise

        probe = Consumer({"bootstrap.servers": bootstrap, "group.id": "python-probe", "enable.auto.commit": False})
        start = end_offsets(probe, nexum_topics(admin))  # Where this test's events begin.

        run_id = uuid.uuid4().hex[:8]
        client_id = f"nexum-py-{run_id}"
        with open(os.path.join(tmp, "token"), "w") as f:
            f.write("py-token\n")
        with open(os.path.join(tmp, "config.json"), "w") as f:
            json.dump({"durability": "buffered", "client_id": client_id,
                       "kafka_consumer_properties": {"session.timeout.ms": "6000", "heartbeat.interval.ms": "500"}},
                      f)
        log_path = os.path.join(tmp, "serve.log")
        log = open(log_path, "w")
        serve = subprocess.Popen([nexum, "serve", "--data", os.path.join(tmp, "data"), "--http", "127.0.0.1:0",
                                  "--bus", "kafka", "--kafka", bootstrap, "--config", os.path.join(tmp, "config.json"),
                                  "--token-file", os.path.join(tmp, "token")],
                                 stdout=log, stderr=subprocess.STDOUT)
        port = 0

        def find_port():
            nonlocal port
            m = re.search(r"listening on http://[^:]+:([0-9]+)", open(log_path).read())
            port = int(m.group(1)) if m else 0
            return port != 0 or serve.poll() is not None

        wait_until(find_port, 60)
        if not checks.check(port != 0, "nexum serve printed its port"):
            print(open(log_path).read(), file=sys.stderr)
            return checks
        checks.check(wait_until(lambda: http_get(port, "/ready")[0] == 200, 120), "nexum serve became ready")

        # Commands, produced by confluent-kafka in the seed's envelope.
        customer, account = f"cust_{run_id}", f"acc_{run_id}"
        producer = Producer({"bootstrap.servers": bootstrap, "acks": "all", "enable.idempotence": True})
        delivered = []

        def command(topic, key, data):
            envelope = {"event_id": str(uuid.uuid4()), "event_type": "command",
                        "timestamp": datetime.now(timezone.utc).isoformat(), "source": "python-test", "version": "1.0",
                        "entity_type": None, "entity_id": None, "data": data, "metadata": {}}
            producer.produce(topic, json.dumps(envelope), key=key,
                             on_delivery=lambda err, msg: delivered.append(err))
            producer.flush(30)

        def accepted():
            status, body = http_get(port, "/metrics")
            m = re.search(r'^nexum_commands_total\{outcome="accepted"[^}]*\} (\S+)$', body, re.M)
            return float(m.group(1)) if m else 0.0

        command("nexum.commands.customers", customer,
                {"action": "create", "customer_id": customer, "first_name": "Grace", "last_name": "Hopper",
                 "email": f"{customer}@example.com", "kyc_status": "verified", "kyc_tier": "tier_1"})
        checks.check(wait_until(lambda: accepted() >= 1, 90), "the customer command was accepted")
        command("nexum.commands.accounts", account,
                {"action": "open", "account_id": account, "customer_id": customer, "product_type": "checking",
                 "currency": "USD"})
        checks.check(wait_until(lambda: accepted() >= 2, 90), "the account command was accepted")
        command("nexum.commands.transactions", account,
                {"action": "deposit", "account_id": account, "amount": "250.75", "currency": "USD"})
        checks.check(wait_until(lambda: accepted() >= 3, 90), "the deposit command was accepted")
        checks.check(delivered == [None, None, None], f"confluent-kafka delivered the commands: {delivered}")
        checks.check(wait_until(lambda: '"balance":"250.75"' in http_get(port, f"/projections/account_balances/{account}")[1]
                                .replace(" ", ""), 60), "the deposit reached the balance projection")
        # The relay has put everything on Kafka.
        checks.check(wait_until(lambda: re.search(r"^nexum_relay_lag_events(\{\})? 0$", http_get(port, "/metrics")[1], re.M)
                                is not None, 60), "the outbox relay caught up")

        # Read every event serve produced (from the start offsets to the end).
        topics = nexum_topics(admin)
        end = end_offsets(probe, topics)
        probe.close()
        consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"python-reader-{run_id}",
                             "enable.auto.commit": False, "enable.partition.eof": True})
        assignment = [TopicPartition(t, p, start.get((t, p), 0)) for (t, p) in end if end[(t, p)] > start.get((t, p), 0)]
        expected = sum(end[tp] - start.get(tp, 0) for tp in end)
        consumer.assign(assignment)
        events = []
        deadline = time.monotonic() + 60
        while len(events) < expected and time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is None or (msg.error() and msg.error().code() == KafkaError._PARTITION_EOF):
                continue
            if msg.error():
                raise RuntimeError(msg.error())
            if msg.offset() >= end[(msg.topic(), msg.partition())]:
                continue
            events.append(msg)
        consumer.close()
        checks.check(expected > 0 and len(events) == expected,
                     f"read every event produced during the test ({len(events)} of {expected})")

        ours = {}
        for msg in events:
            raw = msg.value().decode("utf-8")
            try:
                d = json.loads(raw)
                e = EventSchema.from_dict(d)
            except Exception as exc:  # noqa: BLE001 - any failure is the finding
                checks.check(False, f"{msg.topic()}@{msg.offset()} parses with from_dict: {exc}: {raw[:200]}")
                continue
            checks.check(list(d.keys()) == FIELD_NAMES,
                         f"{msg.topic()}@{msg.offset()} has exactly the nine keys in order: {list(d.keys())}")
            checks.check(e.timestamp.tzinfo is not None and e.timestamp.utcoffset().total_seconds() == 0,
                         f"{e.event_id}: timestamp {d['timestamp']} is UTC")
            checks.check(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00", d["timestamp"]) is not None,
                         f"{e.event_id}: timestamp {d['timestamp']} has six fraction digits and +00:00")
            checks.check(isinstance(e.data, dict) and isinstance(e.metadata, dict),
                         f"{e.event_id}: data and metadata are objects")
            checks.check(e.source == "nexum" and e.version == "1.0", f"{e.event_id}: source/version")
            checks.check(str(uuid.UUID(e.event_id)) == e.event_id, f"{e.event_id}: a canonical UUID")
            key = msg.key().decode() if msg.key() is not None else None
            checks.check(key == (e.entity_id or None), f"{e.event_id}: key {key} is the entity_id {e.entity_id}")
            headers = {k: v.decode() for k, v in (msg.headers() or [])}
            checks.check(headers.get("ce_id") == e.event_id and headers.get("ce_type") == e.event_type,
                         f"{e.event_id}: CloudEvents headers match the body: {headers}")
            if e.entity_id in (customer, account) or e.data.get("to_account_id") == account:
                ours.setdefault(e.event_type, []).append(e)

        checks.check("customer_created" in ours, f"customer_created for {customer} among them: {sorted(ours)}")
        checks.check("account_created" in ours, f"account_created for {account} among them")
        posted = ours.get("transaction_posted", [])
        checks.check(len(posted) == 1 and posted[0].data.get("amount") == "250.75",
                     f"one transaction_posted of 250.75: {[p.data for p in posted]}")
        serve.terminate()
        checks.check(serve.wait(60) == 0, "nexum serve exited 0 on SIGTERM")
        serve = None
        print(f"python_client_test: {len(events)} events from {len(topics)} topics parsed by EventSchema.from_dict")
        return checks
    finally:
        if serve is not None:
            serve.kill()
            serve.wait()
        if own_cluster:
            subprocess.run([sys.executable, os.path.join(HERE, "kafka_cluster.py"), "stop", "--dir", own_cluster])
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    result = main()
    print(f"{result.passed} passed, {result.failed} failed")
    sys.exit(1 if result.failed else 0)
