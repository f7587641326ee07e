"""nexum.compat against the behaviour doc/seed-compat.md documents (and its §8 bugs, fixed)."""

import enum
import json
import logging
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Dict, Optional

import pytest

import nexum
from nexum.compat import event_hooks as eh
from nexum.compat import kafka_integration as ki


# ---- the original system's domain objects, as doc/seed-compat.md §1 and §7 describe them
class Currency(enum.Enum):
    USD = ("USD", 2)
    EUR = ("EUR", 2)
    JPY = ("JPY", 0)

    @property
    def code(self):
        return self.value[0]

    @property
    def precision(self):
        return self.value[1]


@dataclass(frozen=True)
class Money:
    amount: Decimal
    currency: Currency

    def __post_init__(self):
        q = Decimal(1).scaleb(-self.currency.precision)
        object.__setattr__(self, "amount", Decimal(self.amount).quantize(q, rounding=ROUND_HALF_UP))


class TransactionType(enum.Enum):
    DEPOSIT = "deposit"
    TRANSFER_INTERNAL = "transfer_internal"


class TransactionState(enum.Enum):
    PENDING = "pending"
    COMPLETED = "completed"
    FAILED = "failed"


class KYCStatus(enum.Enum):
    PENDING = "pending"
    VERIFIED = "verified"


class KYCTier(enum.Enum):
    TIER_1 = "tier_1"
    TIER_2 = "tier_2"


class PaymentFrequency(enum.Enum):
    MONTHLY = "monthly"


class AuditEventType(enum.Enum):
    CUSTOMER_CREATED = "customer_created"


@dataclass
class Transaction:
    id: str
    transaction_type: TransactionType
    amount: Money
    from_account_id: Optional[str] = None
    to_account_id: Optional[str] = None
    description: str = ""
    reference: str = ""
    state: TransactionState = TransactionState.PENDING
    journal_entry_id: Optional[str] = None
    error_message: Optional[str] = None
    metadata: Dict[str, Any] = field(default_factory=dict)


@dataclass
class Customer:
    id: str
    first_name: str
    last_name: str
    email: str
    phone: Optional[str] = None
    kyc_status: KYCStatus = KYCStatus.PENDING
    kyc_tier: KYCTier = KYCTier.TIER_1


@dataclass
class LoanTerms:
    principal_amount: Money
    annual_interest_rate: Decimal
    term_months: int
    payment_frequency: PaymentFrequency = PaymentFrequency.MONTHLY


@dataclass
class Loan:
    id: str
    customer_id: str
    account_id: str
    terms: LoanTerms
    current_balance: Money


@dataclass
class AuditEvent:
    id: str
    event_type: AuditEventType
    entity_type: str
    entity_id: str
    user_id: Optional[str] = None
    metadata: Dict[str, Any] = field(default_factory=dict)


@pytest.fixture
def bus(tmp_path):
    with nexum.EventStore.open(tmp_path / "store", durability="buffered") as store:
        b = ki.InMemoryEventBus(store=store)
        b.start()
        yield b
        b.stop()


def usd(x):
    return Money(Decimal(x), Currency.USD)


def test_every_public_name_of_the_original_modules_exists():
    for name in ["EventSchema", "KafkaTopics", "EventBus", "InMemoryEventBus", "LogEventBus", "KafkaEventBus",
                 "NexumEventPublisher", "NexumCommandHandler"]:
        assert hasattr(ki, name), name
    for name in ["EventHookManager", "EventEnabledMixin", "create_event_enabled_banking_system"]:
        assert hasattr(eh, name), name
    assert len(ki.KafkaTopics) == 27  # 24 outbound + 3 command topics (doc/seed-compat.md §2)
    assert ki.KafkaTopics.CUSTOMER_KYC_CHANGED.value == "nexum.customers.kyc_changed"
    assert ki.EventSchema is nexum.EventSchema


def test_publish_appends_durably_before_subscribers_see_it(bus):
    seen = []

    def handler(e):
        # By the time a subscriber runs, the event is in the store.
        seen.append(bus.store.find_event(e.event_id))

    bus.subscribe("nexum.customers.created", handler)
    p = ki.NexumEventPublisher(bus)
    p.on_customer_created(Customer("cust_1", "Zoë", "Doe", "z@example.com"))
    assert seen == [1]
    [(topic, event, key)] = bus.get_events("nexum.customers.created")
    assert (topic, key, event.entity_id) == ("nexum.customers.created", "cust_1", "cust_1")
    stored = bus.store.read_stream("customer-cust_1")[0]
    assert stored.topic == "nexum.customers.created"
    assert stored.event == event


def test_transaction_created_fields_in_the_catalogues_order_with_money_as_flat_strings(bus):
    p = ki.NexumEventPublisher(bus)
    t = Transaction("txn_12345678abc", TransactionType.DEPOSIT, usd("1.005"), to_account_id="acc_1",
                    description="Cash", metadata={"correlation_id": "corr_1", "user_id": "u_1"})
    p.on_transaction_created(t)
    e = bus.store.read_stream("transaction-txn_12345678abc")[0].event
    assert list(e.data) == ["transaction_type", "amount", "currency", "from_account_id", "to_account_id",
                            "description", "reference"]
    assert e.data["amount"] == "1.01"  # Money quantized ROUND_HALF_UP by the original's Money
    assert e.data["currency"] == "USD" and e.data["transaction_type"] == "deposit"
    assert e.data["from_account_id"] is None
    assert e.data["reference"] == "DEPOSIT-txn_1234"
    assert e.metadata == {"correlation_id": "corr_1", "user_id": "u_1"}  # the original always sent null
    wire = json.loads(e.to_json())
    assert list(wire) == ["event_id", "event_type", "timestamp", "source", "version", "entity_type", "entity_id",
                          "data", "metadata"]


def test_fixed_fields_loan_terms_outstanding_balance_and_audit_ids(bus):
    p = ki.NexumEventPublisher(bus)
    loan = Loan("loan_1", "cust_1", "acc_1", LoanTerms(usd("10000"), Decimal("0.075"), 60), usd("9500.00"))
    p.on_loan_originated(loan)  # the original raised AttributeError: 'Loan' has no attribute 'principal'
    p.on_loan_payment(loan, usd("500"))  # the original sent outstanding_balance "0"
    originated, payment = [e.event.data for e in bus.store.read_stream("loan-loan_1")]
    assert originated == {"customer_id": "cust_1", "principal": "10000.00", "currency": "USD",
                          "interest_rate": "0.075", "term_months": 60, "payment_frequency": "monthly"}
    assert payment == {"payment_amount": "500.00", "currency": "USD", "outstanding_balance": "9500.00"}
    p.on_audit_event(AuditEvent("aud_1", AuditEventType.CUSTOMER_CREATED, "customer", "cust_1", "u_1", {"a": 1}))
    [(_, audit, key)] = bus.get_events("nexum.audit.events")
    assert audit.data == {"event_type": "customer_created", "table_name": "customer", "record_id": "cust_1",
                          "user_id": "u_1", "changes": {"a": 1}}  # the original: table_name/record_id null
    assert key is None  # audit events have no key (as the original)


def test_compliance_alert_from_a_dict_without_id_gets_a_uuid_and_no_key(bus):
    ki.NexumEventPublisher(bus).on_compliance_alert({"type": "large_transaction", "severity": "high",
                                                     "customer_id": "c", "account_id": None,
                                                     "description": "over 10k"})
    [(topic, e, key)] = bus.get_events("nexum.compliance.alert")
    assert key is None and e.entity_type == "alert" and len(e.entity_id) == 36
    assert e.data["alert_type"] == "large_transaction"


def test_publish_batch_with_too_few_keys_is_refused_not_truncated(bus):
    events = [nexum.EventSchema(event_type="customer_created", entity_type="customer", entity_id=f"c{i}")
              for i in range(3)]
    with pytest.raises(nexum.InvalidArgument) as info:
        bus.publish_batch("nexum.customers.created", events, ["c0"])
    assert info.value.field == "keys"
    assert bus.store.last_position == 0
    bus.publish_batch("nexum.customers.created", events, ["c0", "c1", "c2"])
    assert [k for _, _, k in bus.get_events()] == ["c0", "c1", "c2"]
    assert bus.store.last_position == 3


def test_log_bus_logs_each_event_with_its_own_key(tmp_path, caplog):
    with nexum.EventStore.open(tmp_path / "s", durability="buffered") as store:
        b = ki.LogEventBus(logging.getLogger("nexum.events"), store=store)
        got = []
        b.subscribe("nexum.accounts.created", got.append)
        with caplog.at_level(logging.INFO, logger="nexum.events"):
            b.publish_batch("nexum.accounts.created",
                            [nexum.EventSchema(event_type="account_created", entity_type="account", entity_id="a1"),
                             nexum.EventSchema(event_type="account_created", entity_type="account", entity_id="a2")],
                            ["a1", "a2"])
        assert "EVENT: nexum.accounts.created - account_created - account:a1" in caplog.text
        assert "account:a2" in caplog.text
        assert [e.entity_id for e in got] == ["a1", "a2"]
        assert store.last_position == 2


def test_handler_exception_is_logged_and_swallowed_and_the_event_kept(bus, caplog):
    bus.subscribe("nexum.customers.created", lambda e: 1 / 0)
    ki.NexumEventPublisher(bus).on_customer_created(Customer("c1", "A", "B", "a@b.co"))
    assert bus.store.last_position == 1
    assert "ZeroDivisionError" in caplog.text


def command(action, **data):
    return nexum.EventSchema(event_type="command", data={"action": action, **data})


def test_command_handler_runs_real_idempotent_commands(bus):
    handler = ki.NexumCommandHandler(bus, banking_system=None)
    handler.start()
    posted = []
    bus.subscribe("nexum.transactions.posted", posted.append)
    bus.publish(ki.KafkaTopics.CUSTOMER_COMMANDS.value,
                command("create", customer_id="cust_1", first_name="A", last_name="B", email="a@b.co",
                        kyc_status="verified", kyc_tier="tier_2"))
    bus.publish("nexum.commands.accounts", command("open", customer_id="cust_1", account_id="acc_1",
                                                   product_type="checking", currency="USD"))
    deposit = command("deposit", account_id="acc_1", amount="100.50", currency="USD")
    bus.publish(ki.KafkaTopics.TRANSACTION_COMMANDS.value, deposit)
    bus.publish(ki.KafkaTopics.TRANSACTION_COMMANDS.value, deposit)  # redelivered: answered, not re-applied
    withdraw = command("withdraw", account_id="acc_1", amount="1000.00")
    bus.publish(ki.KafkaTopics.TRANSACTION_COMMANDS.value, withdraw)
    assert handler.errors == []
    outcomes = handler.outcomes
    assert [o["accepted"] for o in outcomes] == [True, True, True, True, False]
    assert outcomes[3]["duplicate"] and outcomes[3]["positions"] == outcomes[2]["positions"]
    assert outcomes[4]["reason"] == "insufficient_funds"
    assert len(posted) == 1 and posted[0].data["amount"] == "100.50"
    balances = [e.event.data.get("balance") for e in bus.store.read_stream("account-acc_1")]
    assert balances[-1] == "100.50"
    assert bus.get_events("nexum.transactions.failed")  # the rejection is an event too


def test_malformed_command_is_refused_naming_the_field_and_appends_no_outcome(bus):
    handler = ki.NexumCommandHandler(bus)
    with pytest.raises(nexum.InvalidArgument) as info:
        handler.handle_command("nexum.commands.transactions", command("deposit", account_id="a", amount=5))
    assert info.value.field == "amount"
    handler.start()
    before = bus.store.last_position
    bus.publish("nexum.commands.transactions", command("deposit", account_id="a", ammount="5"))
    assert bus.store.last_position == before + 1  # the command itself, nothing more
    # The typo is an unknown field (accepted and counted under the default
    # commands.unknown_fields = warn); the amount it was meant to be is missing.
    assert handler.errors and "amount: required" in handler.errors[0]


# ---- event hooks (doc/seed-compat.md §5)
class TransactionProcessor:
    def __init__(self):
        self.txns = {}

    def create_transaction(self, txn_id, amount):
        t = Transaction(txn_id, TransactionType.DEPOSIT, usd(amount), to_account_id="acc_1")
        self.txns[txn_id] = t
        return t

    def get_transaction(self, txn_id):
        return self.txns[txn_id]

    def process_transaction(self, txn_id):
        t = self.txns[txn_id]
        if t.amount.amount > 1000:
            t.state = TransactionState.FAILED
            raise ValueError("insufficient funds")
        t.state = TransactionState.COMPLETED
        return True


class CustomerManager:
    def __init__(self):
        self.customers = {"c1": Customer("c1", "A", "B", "a@b.co")}

    def get_customer(self, customer_id):
        return self.customers[customer_id]

    def update_kyc_status(self, customer_id, status, tier=None, **kw):
        c = self.customers[customer_id]
        c.kyc_status = status
        if tier is not None:
            c.kyc_tier = tier
        return c


def test_process_transaction_hook_publishes_posted_and_failed_for_id_callers_without_masking(bus):
    tp = TransactionProcessor()
    manager = eh.create_event_enabled_banking_system(bus, {"transaction_processor": tp})
    tp.create_transaction("t1", "10")
    assert tp.process_transaction("t1") is True  # real callers pass an id string
    tp.create_transaction("t2", "5000")
    with pytest.raises(ValueError, match="insufficient funds"):  # the original raised AttributeError instead
        tp.process_transaction("t2")
    types = [e.event_type for _, e, _ in bus.get_events()]
    assert types == ["transaction_created", "transaction_posted", "transaction_created", "transaction_failed"]
    failed = bus.get_events("nexum.transactions.failed")[0][1]
    assert failed.data["error"] == "insufficient funds"
    assert manager.failures == 0


def test_kyc_hook_accepts_keyword_calls_and_reports_old_values(bus):
    cm = CustomerManager()
    eh.create_event_enabled_banking_system(bus, {"customer_manager": cm})
    cm.update_kyc_status("c1", status=KYCStatus.VERIFIED, tier=KYCTier.TIER_2)
    [(_, e, _)] = bus.get_events("nexum.customers.kyc_changed")
    assert e.event_type == "kyc_status_changed"
    assert e.data == {"old_status": "pending", "new_status": "verified", "old_tier": "tier_1", "new_tier": "tier_2"}


def test_a_failing_hook_never_breaks_the_operation_and_enable_does_not_stack(bus):
    tp = TransactionProcessor()
    manager = eh.EventHookManager(ki.NexumEventPublisher(bus), {"transaction_processor": tp})
    manager.enable_all_events()
    manager.enable_all_events()
    tp.create_transaction("t1", "1")
    assert len(bus.get_events()) == 1  # one wrapper, one event
    bus.store.close()  # publishing now fails
    t = tp.create_transaction("t2", "1")
    assert t.id == "t2"
    assert manager.failures == 1 and "closed" in manager.last_error
    manager.disable_all_events()
    assert "create_transaction" not in vars(tp)


def test_kafka_bus_rejects_missing_bootstrap_servers():
    with pytest.raises(nexum.InvalidArgument):
        ki.KafkaEventBus("")


def test_read_models_follow_commands_with_money_as_decimal(bus):
    handler = ki.NexumCommandHandler(bus)
    handler.start()
    with bus.store.read_models() as models:
        bus.publish("nexum.commands.customers", command("create", customer_id="c1", first_name="A", last_name="B",
                                                        email="a@b.co", kyc_status="verified", kyc_tier="tier_2"))
        bus.publish("nexum.commands.accounts", command("open", customer_id="c1", account_id="acc_1",
                                                       product_type="checking", currency="USD"))
        bus.publish("nexum.commands.transactions", command("deposit", account_id="acc_1", amount="250.75"))
        bus.publish("nexum.commands.transactions", command("withdraw", account_id="acc_1", amount="0.25"))
        assert models.wait_for(timeout=30)
        account = models.get("account_balances", "acc_1")
        assert account["balance"] == Decimal("250.50") and type(account["balance"]) is Decimal
        assert account["currency"] == "USD"
        assert models.get("customer_directory", "c1")["kyc_status"] == "verified"
        assert models.get("account_balances", "nope") is None
        keys = [k for k, _ in models.scan("topic_stats", "topic/")]
        assert "topic/nexum.transactions.posted" in keys


def test_closing_the_store_releases_relay_handler_and_read_models(tmp_path):
    path = tmp_path / "s"
    store = nexum.EventStore.open(path)
    bus = ki.InMemoryEventBus(store=store)
    handler = ki.NexumCommandHandler(bus)
    models = store.read_models()
    store.close()
    with pytest.raises(nexum.InvalidArgument):
        models.get("account_balances", "x")
    with pytest.raises(nexum.InvalidArgument):
        handler.handle_command("nexum.commands.customers", command("update", customer_id="c"))
    with nexum.EventStore.open(path) as again:  # the directory is free again while they still exist
        assert again.last_position == 0


def test_log_bus_has_no_event_listing_like_the_original(tmp_path):
    with nexum.EventStore.open(tmp_path / "s", durability="buffered") as store:
        assert not hasattr(ki.LogEventBus(store=store), "get_events")  # the REST route tests hasattr()
        assert hasattr(ki.InMemoryEventBus(store=store), "get_events")
