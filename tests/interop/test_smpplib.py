"""Interop with python-smpplib (PyPI ``smpplib``), a blocking ESME library.

smpplib runs in a thread (``deferToThread``) so that the reactor thread keeps
serving it; every socket read has a timeout and every loop a deadline.
smpplib 2.2 has no cancel_sm: the test defines the two commands the way
smpplib defines query_sm and hands them to its command factory.
"""

from __future__ import annotations

import re
import time
from typing import Any

import attrs
import pytest
import pytest_twisted
from twisted.internet import reactor, threads
from twisted.internet.defer import Deferred

from smppd.pdu import MessageState
from tests.e2e.support import HOLD_PREFIX, TIMEOUT, server_config, within

try:
    import smpplib.client
    import smpplib.command
    import smpplib.consts
    import smpplib.exceptions
    import smpplib.gsm
    import smpplib.smpp
except ImportError as e:  # pragma: no cover - a missing test dependency must fail, not skip
    raise ImportError("smpplib is missing: install the test extra, pip install -e '.[test]'") from e

SOURCE = "smpplib"
DESTINATION = "447700900001"
HELD = HOLD_PREFIX + "12345"
GSM_TEXT = "Hello from smpplib: @ £ $ ¥ è é ù ì ò Ç Ø ø Å å Δ _ Φ"
UCS2_TEXT = "Привет, мир 👋 — 你好"
LONG_TEXT = " ".join(f"part{i:03d} of a long GSM message" for i in range(14))  # ~430 septets
RECEIPT_ID = re.compile(rb"\bid:(\S+)")
DEADLINE = 20.0  # seconds for the whole smpplib conversation


class CancelSM(smpplib.command.Command):
    """cancel_sm (SMPP v3.4 §4.9), missing from smpplib."""

    params = {
        "service_type": smpplib.command.Param(type=str, max=6),
        "message_id": smpplib.command.Param(type=str, max=65),
        "source_addr_ton": smpplib.command.Param(type=int, size=1),
        "source_addr_npi": smpplib.command.Param(type=int, size=1),
        "source_addr": smpplib.command.Param(type=str, max=21),
        "dest_addr_ton": smpplib.command.Param(type=int, size=1),
        "dest_addr_npi": smpplib.command.Param(type=int, size=1),
        "destination_addr": smpplib.command.Param(type=str, max=21),
    }
    params_order = tuple(params)

    def __init__(self, command: str, **kwargs: Any) -> None:
        super().__init__(command, **kwargs)
        self._set_vars(**dict.fromkeys(self.params))


class CancelSMResp(smpplib.command.Command):
    params: dict[str, Any] = {}
    params_order = ()

    def __init__(self, command: str, **kwargs: Any) -> None:
        super().__init__(command, need_sequence=False, **kwargs)


@pytest.fixture
def cancel_sm_in_smpplib(monkeypatch: pytest.MonkeyPatch) -> None:
    original = smpplib.command.factory
    extra = {"cancel_sm": CancelSM, "cancel_sm_resp": CancelSMResp}

    def factory(command_name: str, **kwargs: Any) -> Any:
        if command_name in extra:
            return extra[command_name](command_name, **kwargs)
        return original(command_name, **kwargs)

    monkeypatch.setattr(smpplib.command, "factory", factory)


class Conversation:
    """One smpplib client session, every PDU it read kept in order."""

    def __init__(self, host: str, port: int) -> None:
        self.deadline = time.monotonic() + DEADLINE
        self.client = smpplib.client.Client(host, port, timeout=2, allow_unknown_opt_params=False)
        self.read: list[Any] = []
        self.sent: list[Any] = []  # (what, submit_sm PDU)
        self.responses: list[Any] = []  # submit_sm_resp
        self.deliveries: list[Any] = []  # deliver_sm
        self.queries: list[Any] = []
        real_read = self.client.read_pdu

        def read_pdu() -> Any:
            pdu = real_read()
            self.read.append(pdu)
            return pdu

        self.client.read_pdu = read_pdu  # type: ignore[method-assign]
        self.client.set_message_sent_handler(lambda pdu, **_: self.responses.append(pdu))
        self.client.set_message_received_handler(lambda pdu, **_: self.deliveries.append(pdu))
        self.client.set_query_resp_handler(lambda pdu, **_: self.queries.append(pdu))

    def until(self, done: Any, what: str) -> None:
        while not done():
            if time.monotonic() > self.deadline:
                raise TimeoutError(f"smpplib: {what} did not happen; read {[p.command for p in self.read]}")
            self.client.read_once()  # answers deliver_sm itself; on a read timeout sends enquire_link

    def submit(self, label: str, text: str, destination: str = DESTINATION) -> None:
        parts, encoding, esm_class = smpplib.gsm.make_parts(text)
        for part in parts:
            pdu = self.client.send_message(
                source_addr_ton=smpplib.consts.SMPP_TON_ALNUM,
                source_addr_npi=smpplib.consts.SMPP_NPI_UNK,
                source_addr=SOURCE,
                dest_addr_ton=smpplib.consts.SMPP_TON_INTL,
                dest_addr_npi=smpplib.consts.SMPP_NPI_ISDN,
                destination_addr=destination,
                short_message=part,
                data_coding=encoding,
                esm_class=esm_class,
                registered_delivery=True,
            )
            self.sent.append((label, pdu))


def query_held(talk: Conversation, message_id: str) -> None:
    n = len(talk.queries)
    talk.client.query_message(
        message_id=message_id,
        source_addr_ton=smpplib.consts.SMPP_TON_ALNUM,
        source_addr_npi=smpplib.consts.SMPP_NPI_UNK,
        source_addr=SOURCE,
    )
    talk.until(lambda: len(talk.queries) > n, "query_sm_resp")


def converse(host: str, port: int) -> dict[str, Any]:
    """The whole smpplib session (runs in a thread)."""
    talk = Conversation(host, port)
    client = talk.client
    client.connect()
    try:
        bind = client.bind_transceiver(system_id="test", password="test")
        talk.submit("gsm", GSM_TEXT)
        talk.submit("ucs2", UCS2_TEXT)
        talk.submit("long", LONG_TEXT)
        n = len(talk.sent)
        talk.until(lambda: len(talk.responses) == n and len(talk.deliveries) == n, f"{n} responses + receipts")

        first_id = talk.responses[0].message_id.decode()
        client.query_message(
            message_id=first_id,
            source_addr_ton=smpplib.consts.SMPP_TON_ALNUM,
            source_addr_npi=smpplib.consts.SMPP_NPI_UNK,
            source_addr=SOURCE,
        )
        talk.until(lambda: talk.queries, "query_sm_resp")

        talk.submit("held", "hold me", destination=HELD)
        talk.until(lambda: len(talk.responses) == n + 1, "submit_sm_resp of the held message")
        held_id = talk.responses[-1].message_id.decode()
        query_held(talk, held_id)
        client.send_pdu(
            smpplib.smpp.make_pdu(
                "cancel_sm",
                client=client,
                message_id=held_id,
                source_addr_ton=smpplib.consts.SMPP_TON_ALNUM,
                source_addr_npi=smpplib.consts.SMPP_NPI_UNK,
                source_addr=SOURCE,
            )
        )
        talk.until(
            lambda: any(p.command == "cancel_sm_resp" for p in talk.read) and len(talk.deliveries) == n + 1,
            "cancel_sm_resp and the DELETED receipt",
        )
        query_held(talk, held_id)
        unbind = client.unbind()
    finally:
        client.disconnect()
    return {
        "bind": bind,
        "sent": talk.sent,
        "responses": talk.responses,
        "deliveries": talk.deliveries,
        "queries": talk.queries,
        "cancel": next(p for p in talk.read if p.command == "cancel_sm_resp"),
        "held_id": held_id,
        "unbind": unbind,
        "read": [p.command for p in talk.read],
    }


@pytest_twisted.inlineCallbacks
def test_smpplib_transceiver_session(smsc_server, cancel_sm_in_smpplib):
    result = yield within(
        threads.deferToThread(converse, smsc_server.host, smsc_server.port),
        DEADLINE + TIMEOUT,
        "the smpplib thread",
    )
    assert result["bind"].status == 0 and result["bind"].system_id == b"smppd"

    sent = result["sent"]
    labels = [label for label, _ in sent]
    assert labels[:2] == ["gsm", "ucs2"] and labels.count("long") == 3 and labels[-1] == "held"
    responses = result["responses"]
    assert [r.status for r in responses] == [0] * len(sent)
    ids = [r.message_id.decode() for r in responses]
    assert len(set(ids)) == len(ids)
    by_id = dict(zip(ids, sent, strict=True))

    # What smpplib sent is what the SMSC stored, octet for octet.
    for message_id, (label, pdu) in by_id.items():
        message = yield smsc_server.smsc.lookup(message_id)
        assert message is not None, label
        assert message.short_message == pdu.short_message, label
        assert message.data_coding == pdu.data_coding, label
        assert message.esm_class == pdu.esm_class, label
    ucs2 = by_id[ids[1]][1]
    assert ucs2.data_coding == 8 and ucs2.short_message.decode("utf-16-be") == UCS2_TEXT
    long_parts = [pdu for label, pdu in sent if label == "long"]
    assert all(p.esm_class & 0x40 and p.short_message[:3] == b"\x05\x00\x03" for p in long_parts)

    # One receipt per submit_sm; receipted_message_id and the text's id: agree.
    deliveries = result["deliveries"]
    assert len(deliveries) == len(sent)
    receipted = {}
    for d in deliveries:
        assert d.esm_class & 0x3C == 0x04
        text_id = RECEIPT_ID.search(d.short_message).group(1).decode()
        assert d.receipted_message_id.decode() == text_id
        receipted[text_id] = d
    assert set(receipted) == set(ids)
    for message_id in ids[:-1]:
        assert receipted[message_id].message_state == MessageState.DELIVERED
        assert b"stat:DELIVRD" in receipted[message_id].short_message
    deleted = receipted[result["held_id"]]
    assert deleted.message_state == MessageState.DELETED and b"stat:DELETED" in deleted.short_message

    query, held_before, held_after = result["queries"]
    assert query.status == 0 and query.message_id.decode() == ids[0]
    assert query.message_state == MessageState.DELIVERED and len(query.final_date) == 16
    assert held_before.message_id.decode() == result["held_id"]
    assert held_before.message_state == MessageState.ENROUTE and held_before.final_date == b""
    assert held_after.message_state == MessageState.DELETED and len(held_after.final_date) == 16
    assert result["cancel"].status == 0
    assert result["unbind"].command == "unbind_resp" and result["unbind"].status == 0


def bound_until_closed(host: str, port: int, bound: Any) -> list[str]:
    """Bind, tell the reactor (``bound``), then read until the SMSC closes (runs in a thread)."""
    talk = Conversation(host, port)
    talk.client.connect()
    try:
        talk.client.bind_transmitter(system_id="esme", password="esme123")
        reactor.callFromThread(bound.callback, None)
        with pytest.raises(smpplib.exceptions.ConnectionError):
            talk.until(lambda: False, "the SMSC closing the connection")
    finally:
        talk.client.disconnect()
    return [p.command for p in talk.read]


@pytest_twisted.inlineCallbacks
def test_smpplib_never_answers_unbind_so_the_smsc_closes_after_its_unbind_timeout(live):
    # smpplib's read_once() takes an unbind from the SMSC without answering it.
    config = server_config()
    config = attrs.evolve(config, session=attrs.evolve(config.session, unbind_timeout=0.3))
    server = yield live.start(config)
    bound: Deferred[None] = Deferred()
    talk = threads.deferToThread(bound_until_closed, server.host, server.port, bound)
    yield within(bound, what="smpplib to bind")
    (session,) = server.sessions()
    assert session.session.is_bound and session.session.system_id == "esme"
    yield server.stop()
    read = yield within(talk, DEADLINE + TIMEOUT, "the smpplib thread")
    assert read == ["bind_transmitter_resp", "unbind"]
    assert [e for e in live.log if "no unbind_resp in time" in (e.get("log_format") or "")]
