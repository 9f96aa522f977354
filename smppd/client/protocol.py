"""One ESME connection: bind, incoming deliver_sm / data_sm / outbind.

The two PDUs an ESME receives most, submit_sm_resp and the deliver_sm of a
delivery receipt, are read straight from their frames (:mod:`smppd.client.wire`)
without building PDU objects; whatever those readers do not take (an error
status, TLVs on a response, an MO message, an odd layout) is decoded and goes
the general way.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger

from smppd.client.wire import (
    ReceiptFields,
    read_deliver_sm_receipt,
    read_submit_sm_resp,
)
from smppd.events import EventBus
from smppd.pdu import (
    AlertNotification,
    BindReceiver,
    BindTransceiver,
    BindTransmitter,
    CommandId,
    Outbind,
    Pdu,
    SubmitSmResp,
    empty_id_response,
)
from smppd.protocol import FrameHandler, SessionConfig, SmppProtocol
from smppd.session import BindType, Role

log = Logger()
C = CommandId
_DELIVER_SM_RESP = int(C.deliver_sm_resp)
_DELIVER_SM_RESP_OK = (_DELIVER_SM_RESP, 0)  # (command_id, command_status) for write_one's count
_SUBMIT_SM_RESP = int(C.submit_sm_resp)

_BIND_CLASS = {
    BindType.TRANSMITTER: BindTransmitter,
    BindType.RECEIVER: BindReceiver,
    BindType.TRANSCEIVER: BindTransceiver,
}

# handler(protocol, pdu) -> command_status for the response (or a Deferred of it)
DeliverHandler = Callable[["EsmeProtocol", Pdu], "int | Deferred[int]"]
# handler(protocol, fields) for a receipt read from the frame; answered ESME_ROK
ReceiptHandler = Callable[["EsmeProtocol", ReceiptFields], None]


class SubmitWaiter:
    """Base of a waiter (see :class:`smppd.protocol.Waiter`) for a submit_sm
    that can take just the message_id: a plain submit_sm_resp read from the
    frame goes to :meth:`accepted` and no SubmitSmResp is built. Everything
    else (error statuses included) still comes through the ``callback`` and
    ``errback`` that a subclass defines too."""

    __slots__ = ()

    def accepted(self, message_id: str, sequence_number: int) -> None:
        raise NotImplementedError


class EsmeProtocol(SmppProtocol):
    """The ESME side of one connection.

    ``on_deliver`` receives every deliver_sm and data_sm and decides the
    response status; ``on_outbind`` is called when the SMSC sends outbind
    (the usual answer is ``protocol.bind(BindType.RECEIVER, ...)``). With
    ``on_receipt`` set, a deliver_sm that is a delivery receipt in the usual
    shape goes to it instead, as :class:`~smppd.client.wire.ReceiptFields`
    read from the frame, and is answered ESME_ROK (an exception answers
    ESME_RSYSERR); every other deliver_sm still reaches ``on_deliver``.
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
        on_receipt: ReceiptHandler | None = None,
    ) -> None:
        super().__init__(clock, config, events)
        self.on_deliver = on_deliver
        self.on_receipt = on_receipt
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

    def frame_handlers(self) -> dict[int, FrameHandler]:
        return {
            C.submit_sm_resp: self._on_submit_sm_resp_frame,
            C.deliver_sm: self._on_deliver_sm_frame,
        }

    def _on_submit_sm_resp_frame(self, frame: bytes, status: int, seq: int) -> None:
        # SmppProtocol._on_response for the plain case: a pending submit_sm, ESME_ROK,
        # no TLVs. A missing request, another request's response or an error
        # status go the general way (its log line, its SmppError with the PDU).
        message_id = None if status else read_submit_sm_resp(frame)
        waiter = None if message_id is None else self.take_answered(status, seq, _SUBMIT_SM_RESP)
        if waiter is None or message_id is None:
            self.dispatch_frame(frame)
            return
        if isinstance(waiter, SubmitWaiter):
            waiter.accepted(message_id, seq)
        else:
            waiter.callback(SubmitSmResp(sequence_number=seq, message_id=message_id))
        self.refill_window()

    def _on_deliver_sm_frame(self, frame: bytes, status: int, seq: int) -> None:
        handler = self.on_receipt
        fields = None if handler is None else read_deliver_sm_receipt(frame)
        if fields is None:
            self.dispatch_frame(frame)
            return
        handler(self, fields)  # type: ignore[misc]
        self.write_one(empty_id_response(_DELIVER_SM_RESP, seq), _DELIVER_SM_RESP_OK)

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


