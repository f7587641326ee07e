"""The compat KafkaEventBus and command handler against a real Kafka cluster.

./dev test (and ./dev pytest) start the cluster and export
NEXUM_KAFKA_BOOTSTRAP; ./dev kafka start gives one to run this by hand.
"""

import os
import time
import uuid

import pytest

import nexum
from nexum.compat import kafka_integration as ki


TOPICS = [ki.KafkaTopics.CUSTOMER_CREATED.value, *ki.COMMAND_TOPICS, ki.COMMANDS_DLQ_TOPIC]


@pytest.fixture(scope="module")
def bootstrap():
    servers = os.environ.get("NEXUM_KAFKA_BOOTSTRAP")
    if not servers:
        pytest.fail("NEXUM_KAFKA_BOOTSTRAP is not set: run through ./dev test or ./dev pytest (they start a "
                    "Kafka cluster), or export the list printed by ./dev kafka start")
    # Consumers of a topic that does not exist yet wait for a metadata refresh
    # (minutes): create the topics first, as the C++ suites' fixture does.
    from confluent_kafka.admin import AdminClient, NewTopic  # tests/kafka/requirements.txt

    admin = AdminClient({"bootstrap.servers": servers})
    brokers = len(admin.list_topics(timeout=30).brokers)
    futures = admin.create_topics([NewTopic(t, num_partitions=3, replication_factor=min(3, brokers))
                                   for t in TOPICS])
    for topic, f in futures.items():
        try:
            f.result(30)
        except Exception as e:  # already there from an earlier test run on the same cluster
            if "TOPIC_ALREADY_EXISTS" not in str(e):
                raise
    return servers


def wait_for(predicate, timeout=60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


class Customer:
    def __init__(self, id):
        self.id, self.first_name, self.last_name, self.email = id, "Zoë", "Doe", f"{id}@example.com"
        self.phone, self.kyc_status, self.kyc_tier = None, "verified", "tier_2"


def test_published_events_are_stored_then_relayed_to_kafka_and_consumed(tmp_path, bootstrap):
    run = uuid.uuid4().hex[:8]
    with nexum.EventStore.open(tmp_path / "s") as store:
        bus = ki.KafkaEventBus(bootstrap, client_id=f"pytest-{run}", store=store, linger_ms=5)
        got = {}
        bus.subscribe(ki.KafkaTopics.CUSTOMER_CREATED.value, lambda e: got.setdefault(e.event_id, e))
        bus.start()
        try:
            bus.wait_until_assigned(60)
            publisher = ki.NexumEventPublisher(bus)
            sent = [publisher.on_customer_created(Customer(f"cust_{run}_{i}")) for i in range(50)]
            # Durable first: every event is in the store when publish returns.
            assert [store.find_event(e.event_id) for e in sent] == list(range(1, 51))
            assert bus.flush(60), bus.relay_stats()
            assert bus.relay_stats()["delivered"] >= 50
            assert wait_for(lambda: all(e.event_id in got for e in sent)), f"consumed {len(got)} of 50"
            for e in sent:
                assert got[e.event_id].data == e.data
                assert got[e.event_id].entity_id == e.entity_id
        finally:
            bus.stop()


def test_command_on_kafka_is_handled_by_nexum_and_its_outcome_relayed(tmp_path, bootstrap):
    run = uuid.uuid4().hex[:8]
    with nexum.EventStore.open(tmp_path / "s") as store:
        bus = ki.KafkaEventBus(bootstrap, client_id=f"pytest-cmd-{run}", store=store)
        created = {}
        bus.subscribe(ki.KafkaTopics.CUSTOMER_CREATED.value, lambda e: created.setdefault(e.entity_id, e))
        handler = ki.NexumCommandHandler(bus, banking_system=None)
        handler.start()
        bus.start()
        try:
            bus.wait_until_assigned(60)
            command = nexum.EventSchema(event_type="customer_command", data={
                "action": "create", "customer_id": f"cust_{run}", "first_name": "Jane", "last_name": "Smith",
                "email": "jane@example.com"})
            bus.publish(ki.KafkaTopics.CUSTOMER_COMMANDS.value, command)
            assert wait_for(lambda: f"cust_{run}" in created), handler.stats()
            assert created[f"cust_{run}"].data["first_name"] == "Jane"
            assert created[f"cust_{run}"].metadata["causation_id"] == command.event_id
            assert handler.stats()["accepted"] >= 1  # a reused cluster may hold earlier runs' commands too
            assert store.stream_info(f"customer-cust_{run}").exists
        finally:
            bus.stop()
