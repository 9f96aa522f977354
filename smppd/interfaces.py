"""The contracts every layer shares (zope.interface).

Each interface ships an in-memory implementation that passes ``verifyObject``
(see :mod:`smppd.storage.memory`, :mod:`smppd.auth`, :mod:`smppd.events`).
Methods that may do I/O return Deferreds; a Deferred from an implementation
that finished synchronously (``succeed(...)``) is expected and cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from zope.interface import Attribute, Interface

if TYPE_CHECKING:
    from collections.abc import Sequence

    from twisted.internet.defer import Deferred

    from smppd.model import Message, OutboxItem, StoreStats


class IAuthenticator(Interface):
    """Checks an ESME's bind credentials."""

    def authenticate(
        system_id: str, password: str, system_type: str, bind_type: str, peer_host: str
    ) -> Deferred[Any]:
        """Fire with the :class:`smppd.auth.Account` of a valid bind, or fail
        with :class:`smppd.auth.AuthenticationError` carrying a reason for
        the log (the SMSC answers every refusal ESME_RBINDFAIL, so that the
        status tells nothing). ``bind_type`` is "transmitter", "receiver" or
        "transceiver". Password hashing must not run on the reactor thread."""


class IMessageStore(Interface):
    """Where messages and the outbox live.

    Batch-friendly: every write takes a sequence. When the store is durable,
    a write's Deferred fires only once the data would survive the process
    being killed; implementations group concurrent writes into one commit.
    """

    durable = Attribute("True when an acknowledged write survives a crash.")

    def open() -> Deferred[None]:
        """Create or open the underlying files and recover (idempotent)."""

    def add_messages(messages: Sequence[Message]) -> Deferred[None]:
        """Persist new messages (ids are unique; adding an existing id fails)."""

    def update_message(message: Message, outbox: Sequence[OutboxItem] = ()) -> Deferred[None]:
        """Replace a stored message by id and add ``outbox`` items, atomically
        (a final state and the receipt it causes are written together)."""

    def update_messages(updates: Sequence[tuple[Message, Sequence[OutboxItem]]]) -> Deferred[None]:
        """Many ``update_message`` calls as one (all or none): the SMSC finishes
        messages in batches and needs one answer for the batch."""

    def finish_messages(updates: Sequence[tuple[Message, Sequence[OutboxItem]]]) -> Deferred[None]:
        """``update_messages`` for messages of which only ``state``,
        ``final_at`` and ``error_code`` changed since they were stored (what
        the SMSC does when messages reach their final state): a store may write
        just those three fields, and the outbox items, all or none."""

    def get_message(message_id: str) -> Deferred[Message | None]:
        """The message with this id, or None."""

    def unfinished_messages() -> Deferred[list[Message]]:
        """Every message not yet in a final state (recovery at start)."""

    def outbox_put(items: Sequence[OutboxItem]) -> Deferred[None]:
        """Add items to the outbox."""

    def outbox_update(items: Sequence[OutboxItem]) -> Deferred[None]:
        """Replace outbox items by item_id (attempts, next_attempt_at)."""

    def outbox_remove(item_ids: Sequence[str]) -> Deferred[None]:
        """Remove items: delivered (deliver_sm_resp ESME_ROK) or expired."""

    def outbox_pending() -> Deferred[list[OutboxItem]]:
        """Every item in the outbox, oldest first (recovery at start)."""

    def stats() -> Deferred[StoreStats]:
        """Counts of messages, unfinished messages and outbox items."""

    def check() -> Deferred[None]:
        """Fail when the store cannot currently accept writes (readiness)."""

    def close() -> Deferred[None]:
        """Flush everything pending and release resources."""


class IEventObserver(Interface):
    """Receives events (:mod:`smppd.events`)."""

    def observe(event: Any) -> Deferred[None] | None:
        """Handle one event. May return a Deferred; a slow or failing observer
        only delays or loses its own events, never the SMPP path."""


class IDeliveryBackend(Interface):
    """Delivers messages that no bound ESME route takes (the "network")."""

    def deliver(message: Message) -> Deferred[Any]:
        """Fire with a :class:`smppd.server.delivery.DeliveryOutcome` once the
        message reached a final state (or an intermediate one to report)."""
