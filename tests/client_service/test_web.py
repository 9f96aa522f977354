"""The HTTP API end to end: our own SMSC and the client process over
loopback (port 0 for SMPP and HTTP), treq as the HTTP client."""

from __future__ import annotations

import json
from typing import Any

import pytest
import pytest_twisted
import treq
from twisted.internet import reactor
from twisted.internet.defer import Deferred, succeed

from smppd.client.client import SendError
from smppd.client.settings import HttpSettings, parse_client_config
from smppd.client.web import HttpApiService, MessageApi
from smppd.pdu import CommandStatus
from smppd.tap.client import ClientProcess

from .support import TIMEOUT, UNDELIV_PREFIX, http_client, start_smsc, wait_until


def settings_for(smsc_port: int, **extra: Any) -> Any:
    data = {
        "port": smsc_port,
        "system_id": "test",
        "password": "test",
        "enquire_link_interval": 5,
        "reconnect": {"initial": 0.1, "maximum": 0.5},
        "http": {"listen": "tcp:0:interface=127.0.0.1", "max_body": 4096},
        **extra,
    }
    return parse_client_config(data, "test")


class Api:
    """treq calls against one base URL, with JSON in and out."""

    def __init__(self, port: int, headers: dict[str, str] | None = None) -> None:
        self.base = f"http://127.0.0.1:{port}"
        self.http = http_client(reactor)
        self.headers = {"Content-Type": "application/json", **(headers or {})}

    async def call(
        self, method: str, path: str, body: Any = None, raw: bytes | None = None, headers: dict[str, str] | None = None
    ) -> tuple[int, Any]:
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        sent = {k: v for k, v in {**self.headers, **(headers or {})}.items() if v is not None}
        response = await self.http.request(method, self.base + path, data=data, headers=sent, timeout=TIMEOUT)
        content = await treq.content(response)
        assert response.headers.getRawHeaders(b"content-type") == [b"application/json; charset=utf-8"]
        return response.code, json.loads(content)

    def post(self, body: Any = None, raw: bytes | None = None, headers: dict[str, str] | None = None) -> Any:
        return self.call("POST", "/messages", body, raw, headers)

    def get(self, path: str, headers: dict[str, str] | None = None) -> Any:
        return self.call("GET", path, headers=headers)


async def started(settings: Any) -> tuple[ClientProcess, Api]:
    process = ClientProcess(settings, reactor)
    await process.startService()
    assert process.http is not None
    return process, Api(process.http.port.getHost().port)


@pytest_twisted.ensureDeferred
async def test_send_and_follow_a_message_to_its_receipt():
    smsc = await start_smsc(reactor)
    process, api = await started(settings_for(smsc.number))
    try:
        await wait_until(reactor, lambda: process.client.bound_count, what="a bind")
        assert await api.get("/readyz") == (200, {"ready": True, "binds": 1})
        assert await api.get("/healthz") == (200, {"status": "ok"})

        code, body = await api.post({"from": "Shop", "to": "447700900123", "text": "hello", "receipt": True})
        assert code == 202, body
        (message_id,) = body["message_ids"]
        assert body == {"message_id": message_id, "message_ids": [message_id], "state": "ENROUTE"}
        code, state = await api.get(f"/messages/{message_id}")
        assert code == 200 and state["state"] == "ENROUTE" and state["final"] is False

        async def final_state(mid: str) -> dict[str, Any]:
            async def check() -> Any:
                _, s = await api.get(f"/messages/{mid}")
                return s if s["final"] else None

            return await wait_until(reactor, lambda: Deferred.fromCoroutine(check()), what=f"{mid} final")

        done = await final_state(message_id)
        assert done["state"] == "DELIVRD" and done["delivered"] is True and done["states"] == ["DELIVRD"]

        # A long UCS-2 text (150 UTF-16 units) in three parts; any part's id finds the message.
        code, body = await api.post(
            {"to": "447700900123", "text": "é€👍 " * 30, "receipt": True, "encoding": "ucs2"}
        )
        assert code == 202 and len(body["message_ids"]) == 3
        done = await final_state(body["message_ids"][2])
        assert done["message_id"] == body["message_id"] and done["states"] == ["DELIVRD"] * 3

        code, body = await api.post({"to": UNDELIV_PREFIX + "123", "text": "lost", "receipt": True})
        assert code == 202
        done = await final_state(body["message_id"])
        assert done["state"] == "UNDELIV" and done["error_codes"] == [11] and done["delivered"] is False

        code, body = await api.post({"to": "447700900123", "data_hex": "0001ff", "concatenation": "sar"})
        assert code == 202
        assert (await api.get(f"/messages/{body['message_id']}"))[1]["receipt"] is False

        # The SMSC refuses a non-numeric international destination.
        code, body = await api.post({"to": "not-a-number", "text": "x"})
        assert code == 502
        assert body["status"] == "ESME_RINVDSTADR" and "ESME_RINVDSTADR" in body["error"]

        # The SMSC goes away: not ready, and sending is refused at once.
        await smsc.stop()
        await wait_until(reactor, lambda: not process.client.bound_count, what="the bind to drop")
        assert await api.get("/readyz") == (503, {"ready": False, "binds": 0})
        code, body = await api.post({"to": "447700900123", "text": "hello"})
        assert code == 503 and body["error"] == "no SMPP bind is up"
        assert process.api.counters["accepted"] == 4
    finally:
        await process.stopService()
        await smsc.stop()


@pytest_twisted.ensureDeferred
async def test_bad_requests_get_clear_errors():
    smsc = await start_smsc(reactor)
    process, api = await started(settings_for(smsc.number))
    try:
        await wait_until(reactor, lambda: process.client.bound_count, what="a bind")
        cases = [
            (b"{not json", 400, "not valid JSON"),
            (b"\xff\xfe", 400, "not valid JSON"),
            (b"[1, 2]", 400, "must be a JSON object"),
            (b'{"text": "hi"}', 400, "'to' is required"),
            (b'{"to": "1", "text": "hi", "extra": 1}', 400, "unknown field 'extra'"),
            (b'{"to": "1"}', 400, "exactly one of 'text' and 'data_hex'"),
            (b'{"to": "1", "text": "a", "data_hex": "00"}', 400, "exactly one of"),
            (b'{"to": "1", "data_hex": "zz"}', 400, "hex digits"),
            (b'{"to": "1", "text": 5}', 400, "'text' must be a string"),
            (b'{"to": "1", "text": "a", "receipt": "yes"}', 400, "'receipt' must be true or false"),
            (b'{"to": "1", "text": "a", "encoding": "ebcdic"}', 400, "'encoding' must be one of"),
            (b'{"to": "1", "text": "a", "encoding": ["x"]}', 400, "'encoding' must be one of"),
            (b"[" * 2000 + b"]" * 2000, 400, "nested too deeply"),
            (b'{"to": "1", "text": "a", "concatenation": "glue"}', 400, "'concatenation' must be one of"),
            (b'{"to": "123456789012345678901", "text": "a"}', 400, "at most 20 printable"),
            ('{"to": "1", "text": "€", "encoding": "latin1"}'.encode(), 400, "€"),
            (b'{"to": "1", "text": "' + b"x" * 5000 + b'"}', 413, "larger than 4096 bytes"),
        ]
        for raw, code, reason in cases:
            got, body = await api.post(raw=raw)
            assert (got, reason in body.get("error", "")) == (code, True), (raw[:60], got, body)
        assert await api.get("/messages/nope") == (404, {"error": "no message 'nope' is known"})
        assert (await api.get("/nowhere"))[0] == 404
        assert (await api.get("/messages/a/b"))[0] == 404
        assert (await api.call("PUT", "/messages", {}))[0] == 405
        assert (await api.call("DELETE", "/messages/x"))[0] == 405
        assert (await api.call("POST", "/readyz", {}))[0] == 405
        # Still serving after all that.
        assert (await api.post({"to": "447700900123", "text": "ok"}))[0] == 202
    finally:
        await process.stopService()
        await smsc.stop()


class FakeClient:
    """Enough of SmppClient for the API: bound, and send_message answering
    from ``result``."""

    def __init__(self, result: Any) -> None:
        self.reactor = reactor
        self.bound_count = 1
        self.result = result

    def send_message(self, *args: Any, **kwargs: Any) -> Deferred[Any]:
        if isinstance(self.result, Exception):
            d: Deferred[Any] = Deferred()
            d.errback(self.result)
            return d
        return self.result

    def outcome(self, ids: Any) -> Deferred[Any]:
        return Deferred()


async def serve(client: Any, **settings: Any) -> tuple[HttpApiService, Api]:
    api = MessageApi(client, HttpSettings(listen="tcp:0:interface=127.0.0.1", **settings), reactor)
    service = HttpApiService(api, "tcp:0:interface=127.0.0.1")
    await service.start_listening()
    service.startService()
    return service, Api(service.port.getHost().port)


@pytest_twisted.ensureDeferred
async def test_no_answer_in_time_is_504_and_queue_full_is_503():
    never: Deferred[Any] = Deferred()
    service, api = await serve(FakeClient(never), request_timeout=0.2)
    try:
        code, body = await api.post({"to": "1", "text": "a"})
        assert code == 504 and "may still be sent" in body["error"]
        # The answer comes after all: the message is remembered anyway.
        never.callback(["late-id"])
        assert (await api.get("/messages/late-id"))[1]["state"] == "ENROUTE"
    finally:
        await service.stopService()
    full = SendError("send queue is full", CommandStatus.ESME_RMSGQFUL)
    service, api = await serve(FakeClient(full))
    try:
        code, body = await api.post({"to": "1", "text": "a"})
        assert (code, body["error"]) == (503, "the send queue is full")
    finally:
        await service.stopService()


@pytest_twisted.ensureDeferred
async def test_not_ready_before_any_bind():
    client = FakeClient(succeed(["x"]))
    client.bound_count = 0
    service, api = await serve(client)
    try:
        assert await api.get("/readyz") == (503, {"ready": False, "binds": 0})
        assert (await api.post({"to": "1", "text": "a"}))[0] == 503
        client.bound_count = 2
        assert await api.get("/readyz") == (200, {"ready": True, "binds": 2})
        assert (await api.post({"to": "1", "text": "a"}))[0] == 202
    finally:
        await service.stopService()


HELLO = {"from": "Shop", "to": "447700900123", "text": "hello"}


@pytest_twisted.ensureDeferred
async def test_a_token_is_needed_for_messages_over_real_http():
    smsc = await start_smsc(reactor)
    token = "t0ken-of-16-chars-or-more"
    process, api = await started(settings_for(smsc.number, http={"listen": "tcp:0:interface=127.0.0.1", "token": token}))
    try:
        await wait_until(reactor, lambda: process.client.bound_count, what="a bind")
        assert (await api.post(HELLO))[0] == 401
        assert (await api.post(HELLO, headers={"Authorization": "Bearer wrong-token-of-16-chars"}))[0] == 401
        assert (await api.post(HELLO, headers={"Authorization": f"Basic {token}"}))[0] == 401
        assert (await api.get("/messages/x"))[0] == 401
        assert process.client.counters["submitted"] == 0
        assert (await api.get("/healthz"))[0] == 200  # probes stay open
        code, body = await api.post(HELLO, headers={"Authorization": f"Bearer {token}"})
        assert code == 202, body
        code, _ = await api.get(f"/messages/{body['message_id']}", headers={"Authorization": f"bearer {token}"})
        assert code == 200
        assert process.api.counters["unauthorized"] == 4
        assert token not in repr(process.settings)
    finally:
        await process.stopService()
        await smsc.stop()


@pytest_twisted.ensureDeferred
async def test_cross_site_simple_posts_and_foreign_origins_are_refused():
    """What a web page can make a browser send: a text/plain or form POST
    (415), or anything with its own Origin (403); nothing is sent."""
    smsc = await start_smsc(reactor)
    process, api = await started(settings_for(smsc.number, http={"listen": "tcp:0:interface=127.0.0.1",
                                                                 "allowed_origins": ["https://ops.example"]}))
    try:
        await wait_until(reactor, lambda: process.client.bound_count, what="a bind")
        for content_type in ("text/plain", "application/x-www-form-urlencoded", "application/jsonp", None):
            code, body = await api.post(HELLO, headers={"Content-Type": content_type})
            assert code == 415, (content_type, body)
        code, _ = await api.post(HELLO, headers={"Origin": "https://evil.example"})
        assert code == 403
        assert (await api.get("/metrics", headers={"Origin": "http://evil.example"}))[0] == 403
        assert process.client.counters["submitted"] == 0
        own = api.base  # the API's own origin (what a page served by it would send)
        assert (await api.post(HELLO, headers={"Origin": own}))[0] == 202
        assert (await api.post(HELLO, headers={"Origin": "https://ops.example", "Content-Type": "application/json; charset=utf-8"}))[0] == 202
        assert process.client.counters["submitted"] == 2
    finally:
        await process.stopService()
        await smsc.stop()


@pytest.mark.parametrize(
    ("listen", "needs_token"),
    [
        ("tcp:9091:interface=127.0.0.1", False),
        ("tcp6:9091:interface=\\:\\:1", False),
        ("unix:/run/smppd/api.sock", False),
        ("tcp:9091", True),
        ("tcp:9091:interface=0.0.0.0", True),
        ("tcp:9091:interface=192.0.2.7", True),
        ("tcp6:9091", True),
    ],
)
def test_a_token_is_required_off_loopback(listen, needs_token):
    from smppd.configfile import ConfigError

    data = {"system_id": "a", "http": {"listen": listen}}
    if needs_token:
        with pytest.raises(ConfigError) as e:
            parse_client_config(data, "client.json")
        assert str(e.value).startswith("client.json: http.token: is required when http.listen is not a loopback")
        assert "\n" not in str(e.value)
        data["http"]["token"] = "x" * 16
    assert parse_client_config(data, "client.json").http.listen == listen
    with pytest.raises(ConfigError, match="http.token"):
        parse_client_config({"system_id": "a", "http": {"token": "short"}}, "client.json")
    with pytest.raises(ConfigError, match=r"http.allowed_origins\[0\]"):
        parse_client_config({"system_id": "a", "http": {"allowed_origins": ["https://a.example/path"]}}, "c.json")
