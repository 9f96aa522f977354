"""One ESME connection: bind, incoming deliver_sm / data_sm / outbind."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger

from smppd.events import EventBus
from smppd.pdu import (
    AlertNotification,
    BindReceiver,
    BindTransceiver,
    BindTransmitter,
    CommandId,
    Outbind,
    Pdu,
)
from smppd.protocol import SessionConfig, SmppProtocol
from smppd.session import BindType, Role

log = Logger()
C = CommandId

_BIND_CLASS = {
    BindType.TRANSMITTER: BindTransmitter,
    BindType.RECEIVER: BindReceiver,
    BindType.TRANSCEIVER: BindTransceiver,
}

# handler(protocol, pdu) -> command_status for the response (or a Deferred of it)
DeliverHandler = Callable[["EsmeProtocol", Pdu], "int | Deferred[int]"]


class EsmeProtocol(SmppProtocol):
    """The ESME side of one connection.

    ``on_deliver`` receives every deliver_sm and data_sm and decides the
    response status; ``on_outbind`` is called when the SMSC sends outbind
    (the usual answer is ``protocol.bind(BindType.RECEIVER, ...)``).
    """

    role = Role.ESME

    def __init__(
        self,
        clock: IReactorTime,
        config: SessionConfig | None = None,
        events: EventBus | None = None,
        *,
        on_deliver: DeliverHandler | None = None,
        on_outbind: Callable[[EsmeProtocol, Outbind], Any] | None = None,
    ) -> None:
        super().__init__(clock, config, events)
        self.on_deliver = on_deliver
        self.on_outbind = on_outbind
        self.on_alert: Callable[[EsmeProtocol, AlertNotification], Any] | None = None
        self.bind_response: Pdu | None = None

    def request_handlers(self) -> dict[int, Any]:
        return {
            C.deliver_sm: self._on_deliver,
            C.data_sm: self._on_deliver,
            C.alert_notification: self._on_alert_notification,
            C.outbind: self._on_outbind,
        }

    def bind(
        self,
        bind_type: BindType,
        system_id: str,
        password: str,
        system_type: str = "",
        addr_ton: int = 0,
        addr_npi: int = 0,
        address_range: str = "",
    ) -> Deferred[Pdu]:
        """Bind; fires with the bind_resp once bound, fails with SmppError."""
        request = _BIND_CLASS[bind_type](
            system_id=system_id,
            password=password,
            system_type=system_type,
            addr_ton=addr_ton,
            addr_npi=addr_npi,
            address_range=address_range,
        )
        d = self.send_request(request)

        def bound(response: Pdu) -> Pdu:
            self.bind_response = response
            self.mark_bound(bind_type, system_id)
            log.info(
                "{peer}: bound as {bind_type} {system_id} to {smsc}",
                peer=self.peer,
                bind_type=bind_type.value,
                system_id=system_id,
                smsc=getattr(response, "system_id", ""),
            )
            return response

        d.addCallback(bound)
        return d

    def _on_deliver(self, pdu: Any) -> Pdu | Deferred[Pdu]:
        handler = self.on_deliver
        if handler is None:
            return pdu.response()
        result = handler(self, pdu)
        if isinstance(result, Deferred):
            result.addCallback(lambda status: pdu.response(command_status=status))
            return result  # type: ignore[return-value]
        return pdu.response(command_status=result)

    def _on_alert_notification(self, pdu: AlertNotification) -> None:
        if self.on_alert is not None:
            self.on_alert(self, pdu)

    def _on_outbind(self, pdu: Outbind) -> None:
        self.session.outbound()
        log.info("{peer}: outbind from {system_id}", peer=self.peer, system_id=pdu.system_id)
        if self.on_outbind is None:
            self.close()
            return
        self.on_outbind(self, pdu)


