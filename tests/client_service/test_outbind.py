"""``outbind_listen``: an SMSC connects to the client process and sends
outbind; the process binds to it as a receiver, and what that SMSC then
delivers (a receipt, an MO message) goes where the normal binds' deliveries
go: the receipt tracker and the webhook. Real sockets on 127.0.0.1, port 0.

The normal bind is a transmitter to the project's own SMSC (it sends, and
gets no receipts); the SMSC that outbinds is a small scripted one.
"""

from __future__ import annotations

from typing import Any

import attrs
import pytest_twisted
from twisted.internet import reactor
from twisted.internet.defer import Deferred
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol
from twisted.internet.error import ConnectionRefusedError
from twisted.internet.protocol import Factory, Protocol, connectionDone
from twisted.logger import formatEvent, globalLogPublisher
from twisted.python.failure import Failure

from smppd.client.settings import parse_client_config
from smppd.pdu import (
    BindReceiver,
    BindReceiverResp,
    CommandStatus,
    DeliverSm,
    DeliverSmResp,
    Outbind,
    Pdu,
    PduReader,
    Unbind,
    UnbindResp,
    encode_pdu,
)
from smppd.tap.client import ClientProcess

from .support import TIMEOUT, Receiver, start_smsc, wait_until

S = CommandStatus


class OutbindingSmsc(Protocol):
    """Connects, sends outbind, answers bind_receiver (with ``bind_status``)
    and unbind; keeps every PDU it receives."""

    def __init__(self, bind_status: int = S.ESME_ROK) -> None:
        self.bind_status = bind_status
        self.reader = PduReader()
        self.received: list[Pdu] = []
        self.closed: Deferred[None] = Deferred()
        self.seq = 100

    def connectionMade(self) -> None:
        self.send(Outbind(sequence_number=1, system_id="smsc", password="smscpw"))

    def send(self, pdu: Pdu) -> None:
        assert self.transport is not None
        self.transport.write(encode_pdu(pdu))

    def deliver(self, pdu: DeliverSm) -> int:
        self.seq += 1
        self.send(attrs.evolve(pdu, sequence_number=self.seq))
        return self.seq

    def dataReceived(self, data: bytes) -> None:
        for pdu in self.reader.feed(data):
            assert not isinstance(pdu, Exception), pdu
            self.received.append(pdu)
            if isinstance(pdu, BindReceiver):
                self.send(BindReceiverResp(sequence_number=pdu.sequence_number, command_status=self.bind_status, system_id="smsc"))
            elif isinstance(pdu, Unbind):
                self.send(UnbindResp(sequence_number=pdu.sequence_number))

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        self.closed.callback(None)

    def answer_to(self, seq: int) -> DeliverSmResp | None:
        return next((p for p in self.received if isinstance(p, DeliverSmResp) and p.sequence_number == seq), None)


async def connect_to(port: int, smsc: OutbindingSmsc) -> OutbindingSmsc:
    endpoint = TCP4ClientEndpoint(reactor, "127.0.0.1", port, timeout=TIMEOUT)
    await connectProtocol(endpoint, smsc)
    return smsc


async def start_process(smsc_number: int, hook_port: int | None = None) -> ClientProcess:
    config: dict[str, Any] = {
        "port": smsc_number,
        "system_id": "test",
        "password": "test",
        "bind_type": "transmitter",
        "http": {"listen": None},
        "outbind_listen": "tcp:0:interface=127.0.0.1",
        "outbind_system_id": "smsc",
        "outbind_password": "smscpw",
        "unbind_timeout": 2,
    }
    if hook_port is not None:
        config["webhook"] = {"url": f"http://127.0.0.1:{hook_port}/sms"}
    process = ClientProcess(parse_client_config(config), reactor)
    await process.startService()
    return process


@pytest_twisted.ensureDeferred
async def test_an_smsc_outbinds_and_its_receipt_and_mo_reach_the_handlers():
    smsc = await start_smsc(reactor)
    receiver = Receiver()
    hook = receiver.listen(reactor)
    logged: list[str] = []

    def keep(event: dict[str, Any]) -> None:
        logged.append(formatEvent(event) or "")

    globalLogPublisher.addObserver(keep)
    process = await start_process(smsc.number, hook.getHost().port)
    outbinding: OutbindingSmsc | None = None
    try:
        client = process.client
        assert process.outbind is not None and process.outbind.running
        port = process.outbind.port.getHost().port
        assert f"smpp-client listening for outbind on 127.0.0.1:{port}" in logged

        await client.when_bound()  # the transmitter to our SMSC
        ids = await client.send_message("Shop", "447700900123", "receipt comes by outbind", receipt=True)
        outcome = client.outcome(ids)

        outbinding = await connect_to(port, OutbindingSmsc())
        await wait_until(reactor, lambda: client._outbound, what="a receiver bound after the outbind")
        (bind,) = [p for p in outbinding.received if isinstance(p, BindReceiver)]
        assert (bind.system_id, bind.password) == ("test", "test")  # the configured credentials

        receipt = outbinding.deliver(
            DeliverSm(
                source_addr="447700900123",
                destination_addr="Shop",
                esm_class=0x04,
                short_message=f"id:{ids[0]} sub:001 dlvrd:001 stat:DELIVRD err:000 text:".encode(),
                tlvs={"receipted_message_id": ids[0], "message_state": 2},
            )
        )
        mo = outbinding.deliver(
            DeliverSm(source_addr="447700900999", destination_addr="Shop", short_message=b"hello by outbind")
        )
        await wait_until(reactor, lambda: outbinding.answer_to(receipt) and outbinding.answer_to(mo), what="deliver_sm_resp")
        assert outbinding.answer_to(receipt).command_status == S.ESME_ROK
        assert outbinding.answer_to(mo).command_status == S.ESME_ROK

        done = await outcome  # the tracker matched the receipt that came over the outbind
        assert done.stat == "DELIVRD"
        await wait_until(reactor, lambda: len(receiver.bodies) == 2, what="two webhook documents")
        (message,) = receiver.of_type("message")
        assert (message["from"], message["to"], message["text"]) == ("447700900999", "Shop", "hello by outbind")
        (dlr,) = receiver.of_type("delivery_report")
        assert (dlr["message_id"], dlr["state"]) == (ids[0], "DELIVRD")
        assert client.counters["mo"] == 1 and client.counters["receipts"] == 1
    finally:
        globalLogPublisher.removeObserver(keep)
        await process.stopService()
        await smsc.stop()
        await hook.stopListening()
    # Stopping unbound the outbind receiver and stopped listening.
    assert outbinding is not None
    await outbinding.closed
    assert any(isinstance(p, Unbind) for p in outbinding.received)
    assert not client._outbound and process.outbind.port is None and not process.outbind.running
    try:
        await connect_to(port, OutbindingSmsc())
    except ConnectionRefusedError:
        pass
    else:
        raise AssertionError("the outbind port still accepts connections after stop")


@pytest_twisted.ensureDeferred
async def test_a_refused_bind_receiver_closes_the_outbind_connection():
    smsc = await start_smsc(reactor)
    process = await start_process(smsc.number)
    try:
        assert process.outbind is not None
        port = process.outbind.port.getHost().port
        outbinding = await connect_to(port, OutbindingSmsc(bind_status=S.ESME_RINVPASWD))
        await outbinding.closed  # the client hung up
        assert [type(p) for p in outbinding.received] == [BindReceiver]
        assert not process.client._outbound
    finally:
        await process.stopService()
        await smsc.stop()


@pytest_twisted.ensureDeferred
async def test_an_outbind_port_that_cannot_listen_fails_the_start():
    smsc = await start_smsc(reactor)
    taken = reactor.listenTCP(0, Factory.forProtocol(Protocol), interface="127.0.0.1")
    config = {
        "port": smsc.number,
        "system_id": "test",
        "password": "test",
        "http": {"listen": None},
        "outbind_listen": f"tcp:{taken.getHost().port}:interface=127.0.0.1",
        "outbind_password": "smscpw",
    }
    process = ClientProcess(parse_client_config(config), reactor)
    try:
        try:
            await process.startService()
        except Exception as e:
            assert "Couldn't listen" in str(e) or "Address already in use" in str(e), e
        else:
            raise AssertionError("the start did not fail")
    finally:
        await process.stopService()
        await smsc.stop()
        await taken.stopListening()
