"""An SMSC connects to the client and sends outbind; the client binds as receiver."""

from __future__ import annotations

from smppd.client import ClientConfig, SmppClient
from smppd.pdu import (
    BindReceiver,
    BindReceiverResp,
    CommandStatus,
    DeliverSm,
    DeliverSmResp,
    Outbind,
)
from smppd.testing import TestReactor, connect, send


def receipt(seq: int) -> DeliverSm:
    return DeliverSm(
        sequence_number=seq,
        esm_class=0x04,
        short_message=b"id:abc stat:DELIVRD",
        tlvs={"receipted_message_id": "abc", "message_state": 2},
    )


def test_outbind_then_bind_receiver_then_deliveries():
    clock = TestReactor()
    client = SmppClient(ClientConfig(system_id="esme", password="pw"), clock)
    proto = client.outbind_factory().buildProtocol(None)
    transport = connect(proto)
    send(proto, Outbind(sequence_number=1, system_id="smsc", password="x"))
    (bind,) = transport.pdus()
    assert isinstance(bind, BindReceiver) and (bind.system_id, bind.password) == ("esme", "pw")
    send(proto, BindReceiverResp(sequence_number=bind.sequence_number, system_id="smsc"))
    assert proto.session.is_bound and proto in client._outbound
    send(proto, receipt(7))
    assert transport.pdus() == [DeliverSmResp(sequence_number=7)]
    assert client.counters["receipts"] == 1
    stopped = client.stopService()
    (unbind,) = transport.pdus()
    assert unbind.command_id == 0x00000006
    proto.connectionLost()
    assert stopped.called
    client.tracker.stop()
    assert [c for c in clock.getDelayedCalls() if c.active()] == []


def test_refused_bind_after_outbind_closes_the_connection():
    clock = TestReactor()
    client = SmppClient(ClientConfig(system_id="esme", password="pw"), clock)
    proto = client.outbind_factory().buildProtocol(None)
    transport = connect(proto)
    send(proto, Outbind(sequence_number=1, system_id="smsc"))
    (bind,) = transport.pdus()
    send(proto, BindReceiverResp(sequence_number=bind.sequence_number, command_status=CommandStatus.ESME_RINVPASWD))
    assert transport.disconnecting and proto not in client._outbound
    proto.connectionLost()
    client.tracker.stop()


def test_an_outbind_with_other_credentials_gets_no_bind():
    """With the expected SMSC credentials configured, an outbind that does not
    carry them is not answered: the client's password is not handed out."""
    clock = TestReactor()
    config = ClientConfig(system_id="esme", password="pw", outbind_system_id="smsc", outbind_password="smscpw")
    client = SmppClient(config, clock)
    for system_id, password in (("smsc", "guess"), ("other", "smscpw")):
        proto = client.outbind_factory().buildProtocol(None)
        transport = connect(proto)
        send(proto, Outbind(sequence_number=1, system_id=system_id, password=password))
        assert transport.pdus() == [] and transport.disconnecting
        proto.connectionLost()
    proto = client.outbind_factory().buildProtocol(None)
    transport = connect(proto)
    send(proto, Outbind(sequence_number=1, system_id="smsc", password="smscpw"))
    (bind,) = transport.pdus()
    assert isinstance(bind, BindReceiver)
    proto.connectionLost()
    client.tracker.stop()


def test_an_outbind_connection_that_stays_silent_is_closed():
    clock = TestReactor()
    client = SmppClient(ClientConfig(system_id="esme", password="pw", bind_timeout=5.0), clock)
    proto = client.outbind_factory().buildProtocol(None)
    transport = connect(proto)
    clock.advance(4.9)
    assert not transport.disconnecting
    clock.advance(0.2)
    assert transport.disconnecting and transport.pdus() == []
    proto.connectionLost()
    client.tracker.stop()
    assert [c for c in clock.getDelayedCalls() if c.active()] == []
