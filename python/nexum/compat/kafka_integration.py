"""Drop-in replacement for the original backend's ``core_banking.kafka_integration``.

Change one import::

    # from core_banking.kafka_integration import InMemoryEventBus, NexumEventPublisher, ...
    from nexum.compat.kafka_integration import InMemoryEventBus, NexumEventPublisher, ...

and every published event is appended durably to a Nexum store before it
reaches the bus; on :class:`KafkaEventBus` the store's outbox relay then
carries it to Kafka (one long-lived idempotent producer, batched, at least
once). Names, constructors and method signatures are the original's
(doc/seed-compat.md); its documented bugs (§8) are fixed, and doc/python.md
lists every difference.

The store: each bus takes ``store=`` (a :class:`nexum.EventStore`);
without one, buses share the process's default store, opened on first use
in ``$NEXUM_DATA_DIR`` (default ``./nexum-data``) or where
:func:`configure` says.
"""

from __future__ import annotations

import enum
import logging
import os
import threading
import uuid
from abc import ABC, abstractmethod
from collections import deque
from decimal import Decimal
from typing import Any, Callable, Deque, Dict, List, Optional, Tuple

from .. import _nexum
from .._store import EventStore
from .._types import EventSchema
from ..errors import InvalidArgument

__all__ = [
    "EventSchema",
    "KafkaTopics",
    "EventBus",
    "InMemoryEventBus",
    "LogEventBus",
    "KafkaEventBus",
    "NexumEventPublisher",
    "NexumCommandHandler",
    "configure",
    "default_store",
]

logger = logging.getLogger(__name__)


class KafkaTopics(enum.Enum):
    """The original's 27 topics: 24 outbound event topics and 3 command topics."""

    TRANSACTION_CREATED = "nexum.transactions.created"
    TRANSACTION_POSTED = "nexum.transactions.posted"
    TRANSACTION_FAILED = "nexum.transactions.failed"
    ACCOUNT_CREATED = "nexum.accounts.created"
    ACCOUNT_UPDATED = "nexum.accounts.updated"
    CUSTOMER_CREATED = "nexum.customers.created"
    CUSTOMER_UPDATED = "nexum.customers.updated"
    CUSTOMER_KYC_CHANGED = "nexum.customers.kyc_changed"
    LOAN_ORIGINATED = "nexum.loans.originated"
    LOAN_DISBURSED = "nexum.loans.disbursed"
    LOAN_PAYMENT = "nexum.loans.payment"
    LOAN_PAID_OFF = "nexum.loans.paid_off"
    LOAN_DEFAULTED = "nexum.loans.defaulted"
    CREDIT_STATEMENT_GENERATED = "nexum.credit.statement_generated"
    CREDIT_PAYMENT = "nexum.credit.payment"
    COLLECTION_CASE_CREATED = "nexum.collections.case_created"
    COLLECTION_CASE_ESCALATED = "nexum.collections.case_escalated"
    COLLECTION_CASE_RESOLVED = "nexum.collections.case_resolved"
    COMPLIANCE_ALERT = "nexum.compliance.alert"
    SUSPICIOUS_ACTIVITY = "nexum.compliance.suspicious_activity"
    AUDIT_EVENT = "nexum.audit.events"
    WORKFLOW_STEP_COMPLETED = "nexum.workflows.step_completed"
    WORKFLOW_COMPLETED = "nexum.workflows.completed"
    WORKFLOW_REJECTED = "nexum.workflows.rejected"
    TRANSACTION_COMMANDS = "nexum.commands.transactions"
    CUSTOMER_COMMANDS = "nexum.commands.customers"
    LOAN_COMMANDS = "nexum.commands.loans"


#: Nexum's fourth command topic (account commands) and the dead-letter topic.
ACCOUNT_COMMANDS_TOPIC = "nexum.commands.accounts"
COMMANDS_DLQ_TOPIC = "nexum.commands.dlq"
COMMAND_TOPICS = (KafkaTopics.TRANSACTION_COMMANDS.value, KafkaTopics.CUSTOMER_COMMANDS.value,
                  KafkaTopics.LOAN_COMMANDS.value, ACCOUNT_COMMANDS_TOPIC)

# ---------------------------------------------------------------- the store

_default_lock = threading.Lock()
_default_store: Optional[EventStore] = None
_default_path: Optional[str] = None
_default_durability = "sync"


def configure(path: Optional[str] = None, *, store: Optional[EventStore] = None, durability: str = "sync") -> None:
    """Sets the store that buses created without ``store=`` use.

    Either an open ``store`` or a directory ``path`` (opened on first use
    with ``durability``). Buses already created keep theirs.
    """
    global _default_store, _default_path, _default_durability
    with _default_lock:
        _default_store = store
        _default_path = path
        _default_durability = durability


def default_store() -> EventStore:
    """The process's default store (see the module doc)."""
    global _default_store
    with _default_lock:
        if _default_store is None or _default_store.closed:
            path = _default_path or os.environ.get("NEXUM_DATA_DIR", "nexum-data")
            _default_store = EventStore.open(path, durability=_default_durability)
        return _default_store


def _topic_name(topic: Any) -> str:
    if isinstance(topic, KafkaTopics):
        return topic.value
    if not isinstance(topic, str) or not topic:
        raise InvalidArgument("topic: must be a non-empty str or a KafkaTopics member", "topic")
    return topic


def _stream_of(event: EventSchema) -> str:
    """The entity's stream, "{entity_type}-{entity_id}"; events without an entity get their own stream."""
    if event.entity_type and event.entity_id:
        return f"{event.entity_type}-{event.entity_id}"
    return f"{event.entity_type or 'event'}-{event.event_id}"


# ---------------------------------------------------------------- buses


class EventBus(ABC):
    """The original's abstract bus: publish, publish_batch, subscribe, start, stop, is_running."""

    @abstractmethod
    def publish(self, topic: str, event: EventSchema, key: Optional[str] = None) -> None: ...

    @abstractmethod
    def publish_batch(self, topic: str, events: List[EventSchema], keys: Optional[List[str]] = None) -> None: ...

    @abstractmethod
    def subscribe(self, topic: str, handler: Callable[[EventSchema], None]) -> None: ...

    @abstractmethod
    def start(self) -> None: ...

    @abstractmethod
    def stop(self) -> None: ...

    @abstractmethod
    def is_running(self) -> bool: ...


def _check_keys(events: List[EventSchema], keys: Optional[List[str]]) -> List[Optional[str]]:
    if keys is None or len(keys) == 0:
        return [None] * len(events)
    if len(keys) != len(events):
        # The original zip()ped and silently dropped the events beyond len(keys).
        raise InvalidArgument(f"keys: {len(keys)} keys for {len(events)} events; give one per event or none",
                              "keys")
    return [k or None for k in keys]


class _DurableBus(EventBus):
    """What every compat bus shares: publishing is a durable append first."""

    def __init__(self, store: Optional[EventStore]) -> None:
        self._store = store
        self.running = False

    @property
    def store(self) -> EventStore:
        """The Nexum store the bus appends to."""
        if self._store is None:
            self._store = default_store()
        return self._store

    def _append(self, topic: str, events: List[EventSchema]) -> None:
        """Appends atomically: one append, the events grouped by stream."""
        for e in events:
            if not isinstance(e, EventSchema):
                raise InvalidArgument(f"event: expected an EventSchema, got {type(e).__name__}", "event")
        if len(events) == 1:
            self.store.append(_stream_of(events[0]), events, topic=topic)
            return
        by_stream: Dict[str, List[EventSchema]] = {}
        for e in events:
            by_stream.setdefault(_stream_of(e), []).append(e)
        self.store.append_multi([(s, evs, "any", topic) for s, evs in by_stream.items()])

    def is_running(self) -> bool:
        return self.running


class _LocalBus(_DurableBus):
    """What InMemoryEventBus and LogEventBus share: durable append, then inline dispatch."""

    def __init__(self, store: Optional[EventStore]) -> None:
        super().__init__(store)
        self.subscribers: Dict[str, List[Callable[[EventSchema], None]]] = {}
        self._lock = threading.RLock()

    def publish(self, topic: str, event: EventSchema, key: Optional[str] = None) -> None:
        self.publish_batch(topic, [event], [key] if key is not None else None)

    def publish_batch(self, topic: str, events: List[EventSchema], keys: Optional[List[str]] = None) -> None:
        topic = _topic_name(topic)
        keys_ = _check_keys(events, keys)
        if not events:
            return
        self._append(topic, events)  # durable before anyone sees it
        for e, k in zip(events, keys_):
            self._deliver(topic, e, k)

    def _deliver(self, topic: str, event: EventSchema, key: Optional[str]) -> None:
        with self._lock:
            handlers = list(self.subscribers.get(topic, ()))
        for h in handlers:
            try:
                h(event)
            except Exception:  # the original logged and swallowed handler errors
                logger.exception("event handler for %s failed", topic)

    def subscribe(self, topic: str, handler: Callable[[EventSchema], None]) -> None:
        with self._lock:
            self.subscribers.setdefault(_topic_name(topic), []).append(handler)

    def start(self) -> None:
        self.running = True

    def stop(self) -> None:
        self.running = False


class InMemoryEventBus(_LocalBus):
    """The original's in-memory bus, durable: each event is appended to the store, then kept and dispatched.

    Subscribers are called synchronously, in publish order, on the
    publishing thread (as the original); a handler's exception is logged and
    swallowed. The kept list is bounded (``max_events``, oldest dropped; the
    original grew without bound). Publishing works whether or not started.
    """

    def __init__(self, store: Optional[EventStore] = None, *, max_events: int = 10000) -> None:
        super().__init__(store)
        self.events: Deque[Tuple[str, EventSchema, Optional[str]]] = deque(maxlen=max_events)

    def _deliver(self, topic: str, event: EventSchema, key: Optional[str]) -> None:
        with self._lock:
            self.events.append((topic, event, key))
        super()._deliver(topic, event, key)

    def get_events(self, topic: Optional[str] = None) -> List[Tuple[str, EventSchema, Optional[str]]]:
        """Kept ``(topic, event, key)`` tuples, oldest first; a falsy topic means all."""
        with self._lock:
            if not topic:
                return list(self.events)
            t = _topic_name(topic)
            return [e for e in self.events if e[0] == t]

    def clear_events(self) -> None:
        with self._lock:
            self.events.clear()


class LogEventBus(_LocalBus):
    """The original's logging bus, durable: logs ``EVENT: {topic} - {event_type} - {entity_type}:{entity_id}``.

    Keeps nothing in memory (the store has every event) and, as the
    original, has no ``get_events``; each event of a batch keeps its own key
    (the original reused keys[0]).
    """

    def __init__(self, logger: Optional[logging.Logger] = None, store: Optional[EventStore] = None) -> None:
        super().__init__(store)
        self.logger = logger or logging.getLogger("nexum.events")

    def _deliver(self, topic: str, event: EventSchema, key: Optional[str]) -> None:
        self.logger.info("EVENT: %s - %s - %s:%s", topic, event.event_type, event.entity_type, event.entity_id)
        super()._deliver(topic, event, key)


def _kafka_properties(config: Dict[str, Any]) -> Dict[str, str]:
    """The original merged **config into confluent-kafka's dict; accept both spellings (batch_size, batch.size)."""
    out = {}
    for k, v in config.items():
        if isinstance(v, bool):
            v = "true" if v else "false"
        out[k.replace("_", ".")] = str(v)
    return out


class KafkaEventBus(_DurableBus):
    """The original's Kafka bus on Nexum: durable append, then the outbox relay produces.

    One long-lived idempotent producer (acks=all) shared by every publish,
    batched; the original built a new producer per call (about 1 s each).
    ``publish()`` returns once the event is durable in the store; the relay
    delivers it at least once, in order per stream. :meth:`flush` waits until
    everything published so far is acknowledged by the brokers.
    Subscribers get one consumer per topic (group ``{client_id}_{topic}``),
    offsets committed after the handler returns; a message whose handler
    keeps failing goes to ``nexum.commands.dlq``.
    """

    def __init__(self, bootstrap_servers: str, client_id: str = "nexum", store: Optional[EventStore] = None,
                 **config: Any) -> None:
        super().__init__(store)
        if not bootstrap_servers:
            raise InvalidArgument("bootstrap_servers: required for the Kafka event bus", "bootstrap_servers")
        self.bootstrap_servers = bootstrap_servers
        self.client_id = client_id
        self.config = config
        self.native = _nexum.NativeBus.kafka(bootstrap_servers, client_id, _kafka_properties(config))
        self._relay: Optional[_nexum.OutboxRelay] = None
        self._lock = threading.Lock()

    def publish(self, topic: str, event: EventSchema, key: Optional[str] = None) -> None:
        self.publish_batch(topic, [event], [key] if key is not None else None)

    def publish_batch(self, topic: str, events: List[EventSchema], keys: Optional[List[str]] = None) -> None:
        topic = _topic_name(topic)
        _check_keys(events, keys)
        if events:
            self._append(topic, events)

    def subscribe(self, topic: str, handler: Callable[[EventSchema], None]) -> None:
        self.native.subscribe(_topic_name(topic), handler)

    def start(self) -> None:
        with self._lock:
            self.native.start()
            if self._relay is None:
                self._relay = _nexum.OutboxRelay(self.store, self.native, f"outbox_relay_{self.client_id}")
            self._relay.start()
            self.running = True

    def stop(self) -> None:
        with self._lock:
            if self._relay is not None:
                self._relay.stop()
            self.native.stop()
            self.running = False

    def flush(self, timeout: float = 30.0) -> bool:
        """Waits until every event stored so far has been acknowledged by Kafka; False on timeout."""
        if self._relay is None:
            return False
        return self._relay.wait_until_relayed(self.store.last_position, timeout)

    def wait_until_assigned(self, timeout: float = 30.0) -> None:
        """Waits until every subscriber's consumer has its partitions."""
        self.native.wait_until_assigned(timeout)

    def relay_stats(self) -> Dict[str, Any]:
        return self._relay.stats() if self._relay is not None else {"running": False}


# ---------------------------------------------------------------- publisher


def _value(x: Any) -> Any:
    """An enum by .value (the seed's Currency by its code), anything else unchanged."""
    if isinstance(x, enum.Enum):
        return getattr(x, "code", None) or x.value
    return x


def _currency_code(c: Any) -> Optional[str]:
    if c is None:
        return None
    if isinstance(c, str):
        return c
    code = getattr(c, "code", None)
    if code is not None:
        return str(code)
    name = getattr(c, "name", None)
    return str(name) if name is not None else str(_value(c))


def _amount(m: Any) -> Optional[str]:
    """A Money's amount as the original wrote it (str of the Decimal); a bare Decimal as str; None stays None."""
    if m is None:
        return None
    if hasattr(m, "amount"):
        m = m.amount
    if isinstance(m, float):
        raise InvalidArgument("amount: a float is not money; use decimal.Decimal", "amount")
    return str(m)


def _money_currency(m: Any, fallback: Any = None) -> Optional[str]:
    return _currency_code(getattr(m, "currency", None) if m is not None and hasattr(m, "currency") else fallback)


def _opt(x: Any) -> Any:
    x = _value(x)
    return None if x is None or x == "" else (str(x) if not isinstance(x, (int, bool)) else x)


def _first(obj: Any, *names: str) -> Any:
    for n in names:
        v = getattr(obj, n, None)
        if v is not None:
            return v
    return None


class NexumEventPublisher:
    """The original's publisher: one method per banking event, each one ``bus.publish`` of one event.

    Takes the original domain objects by attribute (Money(amount,
    currency), enums by .value). Fields and their order are the original's
    (doc/seed-compat.md §2), with the documented mismatches fixed: real
    balances and loan terms are read where the object has them (see
    doc/python.md), unknown figures are null instead of "0".
    """

    def __init__(self, event_bus: EventBus) -> None:
        self.event_bus = event_bus

    # -- helpers
    def _publish(self, topic: KafkaTopics, event_type: str, entity_type: str, entity_id: Any, data: Dict[str, Any],
                 metadata: Optional[Dict[str, Any]] = None, key: Any = True) -> EventSchema:
        entity_id = None if entity_id is None else str(entity_id)
        if entity_id is None:
            raise InvalidArgument(f"{entity_type}.id: the entity has no id", f"{entity_type}.id")
        event = EventSchema(event_type=event_type, entity_type=entity_type, entity_id=entity_id, data=data,
                            metadata=metadata or {})
        self.event_bus.publish(topic.value, event, entity_id if key is True else key)
        return event

    # -- transactions
    def on_transaction_created(self, transaction: Any) -> EventSchema:
        t = transaction
        md = getattr(t, "metadata", None) or {}
        return self._publish(KafkaTopics.TRANSACTION_CREATED, "transaction_created", "transaction", t.id, {
            "transaction_type": _value(t.transaction_type),
            "amount": _amount(t.amount),
            "currency": _money_currency(t.amount, getattr(t, "currency", None)),
            "from_account_id": _opt(getattr(t, "from_account_id", None)),
            "to_account_id": _opt(getattr(t, "to_account_id", None)),
            "description": getattr(t, "description", None),
            "reference": getattr(t, "reference", None) or f"{str(_value(t.transaction_type)).upper()}-{str(t.id)[:8]}",
        }, {"correlation_id": md.get("correlation_id"), "user_id": md.get("user_id")})

    def on_transaction_posted(self, transaction: Any) -> EventSchema:
        t = transaction
        return self._publish(KafkaTopics.TRANSACTION_POSTED, "transaction_posted", "transaction", t.id, {
            "transaction_type": _value(t.transaction_type),
            "amount": _amount(t.amount),
            "currency": _money_currency(t.amount, getattr(t, "currency", None)),
            "from_account_id": _opt(getattr(t, "from_account_id", None)),
            "to_account_id": _opt(getattr(t, "to_account_id", None)),
            "final_balance": _amount(getattr(t, "final_balance", None)),
            "journal_entry_id": _opt(getattr(t, "journal_entry_id", None)),
        })

    def on_transaction_failed(self, transaction: Any, error: str) -> EventSchema:
        t = transaction
        return self._publish(KafkaTopics.TRANSACTION_FAILED, "transaction_failed", "transaction", t.id, {
            "transaction_type": _value(t.transaction_type),
            "error": str(error),
            "from_account_id": _opt(getattr(t, "from_account_id", None)),
            "to_account_id": _opt(getattr(t, "to_account_id", None)),
        })

    # -- accounts
    def on_account_created(self, account: Any) -> EventSchema:
        a = account
        return self._publish(KafkaTopics.ACCOUNT_CREATED, "account_created", "account", a.id, {
            "account_number": getattr(a, "account_number", None),
            "product_type": _value(getattr(a, "product_type", None)),
            "customer_id": _opt(getattr(a, "customer_id", None)),
            "currency": _currency_code(getattr(a, "currency", None)),
            "name": getattr(a, "name", None),
            "balance": _amount(_first(a, "balance", "current_balance")),
        })

    def on_account_updated(self, account: Any) -> EventSchema:
        a = account
        return self._publish(KafkaTopics.ACCOUNT_UPDATED, "account_updated", "account", a.id, {
            "account_number": getattr(a, "account_number", None),
            "balance": _amount(_first(a, "balance", "current_balance")),
            "state": _value(getattr(a, "state", None)),
        })

    # -- customers
    def on_customer_created(self, customer: Any) -> EventSchema:
        c = customer
        return self._publish(KafkaTopics.CUSTOMER_CREATED, "customer_created", "customer", c.id, {
            "first_name": c.first_name, "last_name": c.last_name, "email": c.email,
            "phone": _opt(getattr(c, "phone", None)),
            "kyc_status": _value(getattr(c, "kyc_status", None)), "kyc_tier": _value(getattr(c, "kyc_tier", None)),
        })

    def on_customer_updated(self, customer: Any) -> EventSchema:
        c = customer
        return self._publish(KafkaTopics.CUSTOMER_UPDATED, "customer_updated", "customer", c.id, {
            "first_name": c.first_name, "last_name": c.last_name, "email": c.email,
            "phone": _opt(getattr(c, "phone", None)),
        })

    def on_customer_kyc_changed(self, customer: Any, old_status: Any = None, old_tier: Any = None) -> EventSchema:
        c = customer
        return self._publish(KafkaTopics.CUSTOMER_KYC_CHANGED, "kyc_status_changed", "customer", c.id, {
            "old_status": _value(old_status), "new_status": _value(c.kyc_status),
            "old_tier": _value(old_tier), "new_tier": _value(c.kyc_tier),
        })

    # -- loans (terms live in loan.terms on the real Loan; the original read them from the loan itself)
    @staticmethod
    def _terms(loan: Any) -> Tuple[Any, Any, Any, Any]:
        terms = getattr(loan, "terms", None) or loan
        principal = _first(terms, "principal_amount", "principal")
        rate = _first(terms, "annual_interest_rate", "interest_rate")
        return principal, rate, getattr(terms, "term_months", None), getattr(terms, "payment_frequency", None)

    def on_loan_originated(self, loan: Any) -> EventSchema:
        principal, rate, months, freq = self._terms(loan)
        return self._publish(KafkaTopics.LOAN_ORIGINATED, "loan_originated", "loan", loan.id, {
            "customer_id": _opt(loan.customer_id), "principal": _amount(principal),
            "currency": _money_currency(principal, getattr(loan, "currency", None)),
            "interest_rate": _amount(rate), "term_months": months, "payment_frequency": _value(freq),
        })

    def on_loan_disbursed(self, loan: Any) -> EventSchema:
        principal, _, _, _ = self._terms(loan)
        return self._publish(KafkaTopics.LOAN_DISBURSED, "loan_disbursed", "loan", loan.id, {
            "customer_id": _opt(loan.customer_id), "principal": _amount(principal),
            "account_id": _opt(getattr(loan, "account_id", None)),
        })

    def on_loan_payment(self, loan: Any, payment_amount: Any) -> EventSchema:
        return self._publish(KafkaTopics.LOAN_PAYMENT, "loan_payment", "loan", loan.id, {
            "payment_amount": _amount(payment_amount), "currency": _money_currency(payment_amount),
            "outstanding_balance": _amount(_first(loan, "current_balance", "outstanding_balance")),
        })

    def on_loan_paid_off(self, loan: Any) -> EventSchema:
        principal, _, _, _ = self._terms(loan)
        return self._publish(KafkaTopics.LOAN_PAID_OFF, "loan_paid_off", "loan", loan.id, {
            "customer_id": _opt(loan.customer_id), "principal": _amount(principal),
            "currency": _money_currency(principal, getattr(loan, "currency", None)),
            "total_paid": _amount(getattr(loan, "total_paid", None)),
            "outstanding_balance": _amount(_first(loan, "current_balance", "outstanding_balance")),
        })

    def on_loan_defaulted(self, loan: Any, days_past_due: int) -> EventSchema:
        principal, _, _, _ = self._terms(loan)
        return self._publish(KafkaTopics.LOAN_DEFAULTED, "loan_defaulted", "loan", loan.id, {
            "customer_id": _opt(loan.customer_id), "principal": _amount(principal),
            "currency": _money_currency(principal, getattr(loan, "currency", None)),
            "outstanding_balance": _amount(_first(loan, "current_balance", "outstanding_balance")),
            "days_past_due": int(days_past_due),
        })

    # -- compliance (the original takes a dict alert)
    def on_compliance_alert(self, alert: Dict[str, Any]) -> EventSchema:
        get = alert.get if isinstance(alert, dict) else (lambda k, d=None: getattr(alert, k, d))
        alert_id = get("id") or str(uuid.uuid4())
        return self._publish(KafkaTopics.COMPLIANCE_ALERT, "compliance_alert", "alert", alert_id, {
            "alert_type": _opt(get("type") or get("alert_type")), "severity": _opt(get("severity")),
            "customer_id": _opt(get("customer_id")), "account_id": _opt(get("account_id")),
            "description": _opt(get("description")),
        }, key=None)

    def on_suspicious_activity(self, activity: Any) -> EventSchema:
        get = activity.get if isinstance(activity, dict) else (lambda k, d=None: getattr(activity, k, d))
        return self._publish(KafkaTopics.SUSPICIOUS_ACTIVITY, "suspicious_activity", "alert",
                             get("id") or str(uuid.uuid4()), {
                                 "activity_type": _value(get("activity_type") or get("type")),
                                 "severity": _opt(get("severity")), "customer_id": _opt(get("customer_id")),
                                 "account_id": _opt(get("account_id")),
                                 "transaction_id": _opt(get("transaction_id")),
                                 "description": _opt(get("description")),
                             }, key=None)

    # -- collections (the real CollectionCase has status / amount_overdue)
    @staticmethod
    def _case(c: Any) -> Dict[str, Any]:
        due = _first(c, "amount_overdue", "amount_due")
        return {
            "customer_id": _opt(getattr(c, "customer_id", None)), "loan_id": _opt(getattr(c, "loan_id", None)),
            "delinquency_status": _value(_first(c, "status", "delinquency_status")),
            "amount_due": _amount(due), "currency": _money_currency(due, getattr(c, "currency", None)),
            "days_past_due": getattr(c, "days_past_due", None),
        }

    def on_collection_case_created(self, case: Any) -> EventSchema:
        return self._publish(KafkaTopics.COLLECTION_CASE_CREATED, "collection_case_created", "collection_case",
                             case.id, self._case(case))

    def on_collection_case_escalated(self, case: Any) -> EventSchema:
        d = self._case(case)
        d["previous_status"] = _value(getattr(case, "previous_status", None))
        d["priority"] = getattr(case, "priority", None)
        return self._publish(KafkaTopics.COLLECTION_CASE_ESCALATED, "collection_case_escalated", "collection_case",
                             case.id, d)

    def on_collection_case_resolved(self, case: Any) -> EventSchema:
        d = self._case(case)
        d["resolution"] = _opt(getattr(case, "resolution", None))
        return self._publish(KafkaTopics.COLLECTION_CASE_RESOLVED, "collection_case_resolved", "collection_case",
                             case.id, d)

    # -- credit lines
    def on_credit_statement_generated(self, statement: Any) -> EventSchema:
        s = statement
        closing = getattr(s, "closing_balance", None)
        return self._publish(KafkaTopics.CREDIT_STATEMENT_GENERATED, "credit_statement_generated", "credit_line",
                             s.credit_line_id, {
                                 "customer_id": _opt(getattr(s, "customer_id", None)),
                                 "statement_date": _opt(getattr(s, "statement_date", None)),
                                 "due_date": _opt(getattr(s, "due_date", None)),
                                 "opening_balance": _amount(getattr(s, "opening_balance", None)),
                                 "closing_balance": _amount(closing),
                                 "minimum_payment": _amount(getattr(s, "minimum_payment", None)),
                                 "currency": _money_currency(closing),
                             })

    def on_credit_payment(self, payment: Any) -> EventSchema:
        p = payment
        amount = getattr(p, "payment_amount", None)
        return self._publish(KafkaTopics.CREDIT_PAYMENT, "credit_payment", "credit_line", p.credit_line_id, {
            "customer_id": _opt(getattr(p, "customer_id", None)),
            "transaction_id": _opt(getattr(p, "transaction_id", None)),
            "payment_amount": _amount(amount), "currency": _money_currency(amount),
            "outstanding_balance": _amount(getattr(p, "outstanding_balance", None)),
        })

    # -- workflows (the real WorkflowInstance has .status, not .state)
    @staticmethod
    def _workflow_customer(w: Any) -> Any:
        cid = getattr(w, "customer_id", None)
        if cid is None and _value(getattr(w, "entity_type", None)) == "customer":
            cid = getattr(w, "entity_id", None)
        return _opt(cid)

    def on_workflow_step_completed(self, workflow: Any, step: str) -> EventSchema:
        w = workflow
        return self._publish(KafkaTopics.WORKFLOW_STEP_COMPLETED, "workflow_step_completed", "workflow", w.id, {
            "workflow_type": _value(w.workflow_type), "customer_id": self._workflow_customer(w), "step": str(step),
            "status": _value(_first(w, "status", "state")),
        })

    def on_workflow_completed(self, workflow: Any) -> EventSchema:
        w = workflow
        return self._publish(KafkaTopics.WORKFLOW_COMPLETED, "workflow_completed", "workflow", w.id, {
            "workflow_type": _value(w.workflow_type), "customer_id": self._workflow_customer(w),
            "final_state": _value(_first(w, "status", "state")),
        })

    def on_workflow_rejected(self, workflow: Any, reason: str) -> EventSchema:
        w = workflow
        return self._publish(KafkaTopics.WORKFLOW_REJECTED, "workflow_rejected", "workflow", w.id, {
            "workflow_type": _value(w.workflow_type), "customer_id": self._workflow_customer(w),
            "final_state": "rejected", "reason": str(reason),
        })

    # -- audit (AuditEvent has entity_type / entity_id; the original read table_name / record_id: always null)
    def on_audit_event(self, audit_event: Any) -> EventSchema:
        a = audit_event
        return self._publish(KafkaTopics.AUDIT_EVENT, "audit_event", "audit", a.id, {
            "event_type": _value(a.event_type),
            "table_name": _opt(_first(a, "entity_type", "table_name")),
            "record_id": _opt(_first(a, "entity_id", "record_id")),
            "user_id": _opt(getattr(a, "user_id", None)),
            "changes": getattr(a, "metadata", None) or {},
        }, key=None)


# ---------------------------------------------------------------- commands


class NexumCommandHandler:
    """The original's command handler, running Nexum's real, idempotent command handling (doc/commands.md).

    ``start()`` subscribes to the command topics of ``event_bus``. Each
    command is decided against event-sourced aggregates and its outcome
    (e.g. ``transaction_posted`` or ``transaction_failed`` with a reason) is
    appended durably; a redelivered command (same event_id) is answered with
    the stored outcome and appends nothing. On a local bus the outcome's
    events are then dispatched to that bus's subscribers; on
    :class:`KafkaEventBus` the C++ handler consumes the topics itself and
    the outbox relay publishes the outcomes. ``banking_system`` is accepted
    and unused (as in the original).
    """

    def __init__(self, event_bus: EventBus, banking_system: Any = None) -> None:
        self.event_bus = event_bus
        self.banking_system = banking_system
        self.running = False
        self.outcomes: List[Dict[str, Any]] = []
        self.errors: List[str] = []
        if isinstance(event_bus, KafkaEventBus):
            self._native_bus = event_bus.native
        else:
            self._native_bus = _nexum.NativeBus.memory(1)  # the handler's DLQ target; never read
        store = event_bus.store if isinstance(event_bus, _DurableBus) else default_store()
        self._store = store
        self._native = _nexum.CommandHandler(store, self._native_bus)

    def start(self) -> None:
        if self.running:
            return
        if isinstance(self.event_bus, KafkaEventBus):
            self._native.start()
        else:
            for topic in COMMAND_TOPICS:
                self.event_bus.subscribe(topic, lambda cmd, t=topic: self._on_command(t, cmd))
        self.running = True

    def handle_command(self, topic: str, command: EventSchema) -> Dict[str, Any]:
        """Decides one command and returns its outcome (accepted, reason, message, positions, duplicate).

        Raises :class:`nexum.InvalidArgument` naming the field for a malformed
        or unknown command (nothing is appended).
        """
        return self._native.handle(_topic_name(topic), command)

    def _on_command(self, topic: str, command: EventSchema) -> None:
        try:
            outcome = self.handle_command(topic, command)
        except Exception as e:  # logged and kept; the local bus would swallow it anyway
            logger.error("Error handling %s command %s: %s", topic, getattr(command, "event_id", "?"), e)
            self.errors.append(f"{type(e).__name__}: {e}")
            return
        self.outcomes.append(outcome)
        logger.info("Processed %s command: %s (%s)", topic, outcome["action"],
                    "accepted" if outcome["accepted"] else outcome["reason"])
        if outcome["duplicate"] or not isinstance(self.event_bus, _LocalBus):
            return
        # Hand the outcome's stored events to the local bus's subscribers.
        for pos in outcome["positions"]:
            for r in self._store.read_all(pos, 1):
                self.event_bus._deliver(r.topic, r.event, r.event.entity_id)

    def stats(self) -> Dict[str, Any]:
        return self._native.stats()
