"""Drop-in replacement for the original backend's ``core_banking.event_hooks``.

:class:`EventHookManager` wraps the banking components' methods (as the
original did) so each completed operation publishes its event through
:class:`~nexum.compat.kafka_integration.NexumEventPublisher`, i.e. is
appended durably to the Nexum store. Fixed against the original
(doc/seed-compat.md §5, §8): a hook never raises into the banking operation
and never masks its error (failures are logged and counted in
:attr:`EventHookManager.failures`); ``process_transaction`` publishes
posted/failed from the transaction as processing left it, whatever the
caller passed; the KYC hook accepts keyword calls; the loan hooks read the
real Loan; enabling twice does not stack wrappers.
"""

from __future__ import annotations

import functools
import logging
import threading
from typing import Any, Callable, Dict, List, Optional, Tuple

from .kafka_integration import EventBus, NexumEventPublisher

__all__ = ["EventEnabledMixin", "EventHookManager", "create_event_enabled_banking_system"]

logger = logging.getLogger(__name__)


class EventEnabledMixin:
    """The original's mixin: a component that publishes through an injected publisher."""

    _event_publisher: Optional[NexumEventPublisher] = None

    def set_event_publisher(self, publisher: NexumEventPublisher) -> None:
        self._event_publisher = publisher


def _state(x: Any) -> Any:
    s = getattr(x, "state", None)
    return getattr(s, "value", s)


class EventHookManager:
    """Hooks banking components so their operations publish events (see the module doc).

    ``banking_components``: the original's dict (``transaction_processor``,
    ``account_manager``, ``customer_manager``, ``loan_manager``,
    ``compliance_engine``, ``collections_manager``, ``workflow_engine``,
    ``audit_trail``); missing or None entries are skipped, and so are
    methods a component does not have.
    """

    def __init__(self, event_publisher: NexumEventPublisher, banking_components: Optional[Dict[str, Any]] = None):
        self.event_publisher = event_publisher
        self.banking_components = dict(banking_components or {})
        self.enabled = False
        self.published = 0
        self.failures = 0
        self.last_error: Optional[str] = None
        # (component, method name, the instance's own attribute we replaced or None)
        self._originals: List[Tuple[Any, str, Any]] = []
        self._lock = threading.Lock()

    # ---------------------------------------------------------- plumbing
    def _emit(self, what: str, fn: Callable[[], Any]) -> None:
        """Runs a publisher call; its failure is logged and counted, never raised."""
        try:
            fn()
            self.published += 1
        except Exception as e:
            self.failures += 1
            self.last_error = f"{what}: {type(e).__name__}: {e}"
            logger.error("event hook %s failed (the operation itself succeeded): %s", what, e, exc_info=True)

    def _wrap(self, component: Any, name: str, after: Callable[..., None],
              on_error: Optional[Callable[..., None]] = None, before: Optional[Callable[..., Any]] = None) -> None:
        original = getattr(component, name, None)
        if original is None or not callable(original):
            return

        @functools.wraps(original)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            ctx = None
            if before is not None:
                try:
                    ctx = before(*args, **kwargs)
                except Exception:
                    ctx = None
            try:
                result = original(*args, **kwargs)
            except Exception as e:
                if on_error is not None:
                    self._emit(f"{name} (error)", lambda: on_error(e, *args, **kwargs))
                raise  # the original exception, unchanged
            self._emit(name, lambda: after(result, ctx, *args, **kwargs))
            return result

        own = name in getattr(component, "__dict__", {})
        setattr(component, name, wrapper)
        self._originals.append((component, name, original if own else None))

    @staticmethod
    def _arg(args: Tuple[Any, ...], kwargs: Dict[str, Any], index: int, *names: str) -> Any:
        for n in names:
            if n in kwargs:
                return kwargs[n]
        return args[index] if len(args) > index else None

    # ---------------------------------------------------------- components
    def hook_transaction_processor(self, tp: Any) -> None:
        p = self.event_publisher

        def lookup(t: Any) -> Any:
            if isinstance(t, str) and hasattr(tp, "get_transaction"):
                return tp.get_transaction(t)
            return t

        def processed(result: Any, ctx: Any, *args: Any, **kwargs: Any) -> None:
            t = result if getattr(result, "transaction_type", None) is not None else None
            if t is None:
                t = lookup(self._arg(args, kwargs, 0, "transaction_id", "transaction"))
            state = _state(t)
            if state == "completed":
                p.on_transaction_posted(t)
            elif state == "failed":
                p.on_transaction_failed(t, getattr(t, "error_message", None) or "Transaction failed")

        def failed(e: Exception, *args: Any, **kwargs: Any) -> None:
            t = lookup(self._arg(args, kwargs, 0, "transaction_id", "transaction"))
            if t is not None and not isinstance(t, str):
                p.on_transaction_failed(t, str(e))

        self._wrap(tp, "create_transaction", lambda r, c, *a, **k: p.on_transaction_created(r))
        self._wrap(tp, "process_transaction", processed, on_error=failed)

    def hook_account_manager(self, am: Any) -> None:
        p = self.event_publisher

        def account_of(result: Any, args: Tuple[Any, ...], kwargs: Dict[str, Any]) -> Any:
            if getattr(result, "account_number", None) is not None:
                return result
            account_id = self._arg(args, kwargs, 0, "account_id")
            return am.get_account(account_id) if hasattr(am, "get_account") else None

        self._wrap(am, "create_account", lambda r, c, *a, **k: p.on_account_created(account_of(r, a, k)))
        self._wrap(am, "update_account_state", lambda r, c, *a, **k: p.on_account_updated(account_of(r, a, k)))

    def hook_customer_manager(self, cm: Any) -> None:
        p = self.event_publisher

        def customer_of(result: Any, args: Tuple[Any, ...], kwargs: Dict[str, Any]) -> Any:
            if getattr(result, "first_name", None) is not None:
                return result
            return cm.get_customer(self._arg(args, kwargs, 0, "customer_id"))

        def before_kyc(*args: Any, **kwargs: Any) -> Tuple[Any, Any]:
            c = cm.get_customer(self._arg(args, kwargs, 0, "customer_id"))
            return getattr(c, "kyc_status", None), getattr(c, "kyc_tier", None)

        def kyc_changed(result: Any, ctx: Any, *args: Any, **kwargs: Any) -> None:
            old_status, old_tier = ctx if ctx else (None, None)
            p.on_customer_kyc_changed(customer_of(result, args, kwargs), old_status, old_tier)

        self._wrap(cm, "create_customer", lambda r, c, *a, **k: p.on_customer_created(r))
        self._wrap(cm, "update_customer_info", lambda r, c, *a, **k: p.on_customer_updated(customer_of(r, a, k)))
        self._wrap(cm, "update_kyc_status", kyc_changed, before=before_kyc)

    def hook_loan_manager(self, lm: Any) -> None:
        p = self.event_publisher

        def loan_of(result: Any, args: Tuple[Any, ...], kwargs: Dict[str, Any]) -> Any:
            if getattr(result, "customer_id", None) is not None and hasattr(result, "id"):
                return result
            return lm.get_loan(self._arg(args, kwargs, 0, "loan_id"))

        self._wrap(lm, "originate_loan", lambda r, c, *a, **k: p.on_loan_originated(loan_of(r, a, k)))
        self._wrap(lm, "disburse_loan", lambda r, c, *a, **k: p.on_loan_disbursed(loan_of(None, a, k)))
        self._wrap(lm, "make_payment", lambda r, c, *a, **k: p.on_loan_payment(
            loan_of(None, a, k), self._arg(a, k, 1, "payment_amount", "amount")))

    def hook_compliance_engine(self, ce: Any) -> None:
        p = self.event_publisher

        def alerts(result: Any, ctx: Any, *args: Any, **kwargs: Any) -> None:
            found: List[Any] = []
            if isinstance(result, dict) and result.get("alert"):
                found.append(result["alert"] if isinstance(result["alert"], dict) else result)
            for a in (getattr(result, "alerts", None) or []):
                found.append(a)
            for a in found:
                p.on_compliance_alert(a if isinstance(a, dict) else vars(a))

        for name in ("check_transaction_compliance", "check_transaction", "check_customer"):
            self._wrap(ce, name, alerts)

    def hook_collections_manager(self, cm: Any) -> None:
        p = self.event_publisher
        self._wrap(cm, "create_collection_case", lambda r, c, *a, **k: p.on_collection_case_created(r))
        self._wrap(cm, "escalate_case", lambda r, c, *a, **k: p.on_collection_case_escalated(r))
        self._wrap(cm, "resolve_case", lambda r, c, *a, **k: p.on_collection_case_resolved(r))

    def hook_workflow_engine(self, we: Any) -> None:
        p = self.event_publisher
        self._wrap(we, "complete_workflow", lambda r, c, *a, **k: p.on_workflow_completed(r))

    def hook_audit_trail(self, at: Any) -> None:
        p = self.event_publisher
        self._wrap(at, "log_event", lambda r, c, *a, **k: p.on_audit_event(r))

    # ---------------------------------------------------------- switching
    def enable_all_events(self) -> None:
        """Hooks every component given. A second call does nothing (the original stacked wrappers)."""
        with self._lock:
            if self.enabled:
                return
            hooks = {
                "transaction_processor": self.hook_transaction_processor,
                "account_manager": self.hook_account_manager,
                "customer_manager": self.hook_customer_manager,
                "loan_manager": self.hook_loan_manager,
                "compliance_engine": self.hook_compliance_engine,
                "collections_manager": self.hook_collections_manager,
                "workflow_engine": self.hook_workflow_engine,
                "audit_trail": self.hook_audit_trail,
            }
            for name, hook in hooks.items():
                component = self.banking_components.get(name)
                if component is not None:
                    hook(component)
            self.enabled = True

    def disable_all_events(self) -> None:
        """Restores every wrapped method."""
        with self._lock:
            for component, name, original in reversed(self._originals):
                if original is None:  # the method came from the class: drop our instance attribute
                    delattr(component, name)
                else:
                    setattr(component, name, original)
            self._originals.clear()
            self.enabled = False


def create_event_enabled_banking_system(event_bus: EventBus, banking_components: Dict[str, Any]) -> EventHookManager:
    """The original's entry point: a publisher on ``event_bus`` and an enabled manager for the components."""
    manager = EventHookManager(NexumEventPublisher(event_bus), banking_components)
    manager.enable_all_events()
    return manager
