"""The ESME client's HTTP API (twisted.web), on loopback by default.

``POST /messages``
    ``{"from": "Shop", "to": "447700900123", "text": "hi"}`` (or
    ``"data_hex": "0102"`` instead of ``text``; optional ``"receipt": true``,
    ``"encoding"``: one of gsm7, gsm7-packed, ascii, latin1, ucs2, binary;
    ``"concatenation"``: udh8, udh16, sar or payload). Answers once the SMSC
    accepted every segment: 202 ``{"message_id": "...", "message_ids":
    [...], "state": "ENROUTE"}``. 400/413 for bad input (``{"error": ...}``),
    503 when no bind is up or the send queue is full, 502 when the SMSC
    refused (``"status": "ESME_RINVDSTADR"``), 504 when it did not answer
    within ``http.request_timeout`` (the message may still go out later).
``GET /messages/{id}``
    ``{"message_id", "message_ids", "state", "final", "receipt", ...}``: the
    state is ENROUTE until the receipt(s) came (then DELIVRD, UNDELIV,
    EXPIRED, ...). Messages sent without ``receipt`` stay ENROUTE with
    ``"final": false``: nothing will tell us more. Any segment's id works.
    The last ``http.max_tracked`` messages are remembered; older ones 404.
``GET /healthz``
    200 while the process runs.
``GET /readyz``
    200 while at least one bind is up, else 503.

Who may call it:

* with ``http.token`` set, ``/messages`` (POST and GET) needs
  ``Authorization: Bearer <token>`` (compared in constant time): 401
  otherwise. The token is required when ``http.listen`` is not a loopback
  address; ``/healthz``, ``/readyz`` and ``/metrics`` (read-only) stay open.
* a POST must say ``Content-Type: application/json`` (415 otherwise): a web
  page can make a browser send a cross-site "simple" POST (text/plain, a
  form), never a JSON one without CORS, which this API does not grant.
* a request with an ``Origin`` header (a browser's, from a web page) is
  refused (403) unless it is the API's own origin or in
  ``http.allowed_origins``.

Nothing here blocks: bodies are limited to ``http.max_body`` bytes as they
arrive (the excess is discarded and answered 413) and parsed in one go.
"""

from __future__ import annotations

import hmac
import json
from collections import OrderedDict
from io import BytesIO
from typing import Any
from urllib.parse import quote, unquote

import attrs
from prometheus_client import CollectorRegistry
from twisted.internet.defer import Deferred
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web import http, resource, server
from twisted.web.server import NOT_DONE_YET

from smppd.client.client import SendError, SmppClient
from smppd.client.receipts import MessageOutcome
from smppd.client.settings import HttpSettings
from smppd.metrics import FunctionCollector
from smppd.pdu import CommandStatus, status_name
from smppd.runtime import EndpointListener
from smppd.text.encoding import ENCODINGS
from smppd.text.receipt import stat_for_state
from smppd.text.split import METHODS
from smppd.web import MetricsResource

log = Logger()
S = CommandStatus
_FIELDS = frozenset({"from", "to", "text", "data_hex", "receipt", "encoding", "concatenation"})
_MAX_ADDRESS = 20  # C-Octet String of 21 with its NUL


class BadRequest(Exception):
    """A request the API refuses: ``code`` and a one-line reason."""

    def __init__(self, reason: str, code: int = 400) -> None:
        super().__init__(reason)
        self.code = code


# -- what was sent ---------------------------------------------------------------------


@attrs.define
class SentMessage:
    message_ids: tuple[str, ...]
    receipt: bool
    submitted_at: float
    outcome: MessageOutcome | None = None

    def as_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "message_id": self.message_ids[0],
            "message_ids": list(self.message_ids),
            "receipt": self.receipt,
            "submitted_at": self.submitted_at,
        }
        outcome = self.outcome
        if outcome is None:
            body.update(state="ENROUTE", final=False)
        else:
            body.update(
                state=outcome.stat,
                final=True,
                delivered=outcome.delivered,
                states=[stat_for_state(s) for s in outcome.states],
                error_codes=list(outcome.error_codes),
                timed_out=outcome.timed_out,
            )
        return body


class SentMessages:
    """The last ``limit`` messages sent through the API, by any segment's id."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._records: OrderedDict[str, SentMessage] = OrderedDict()  # by first id
        self._by_id: dict[str, str] = {}  # every segment id -> first id

    def __len__(self) -> int:
        return len(self._records)

    def add(self, record: SentMessage) -> None:
        key = record.message_ids[0]
        self._records[key] = record
        for message_id in record.message_ids:
            self._by_id[message_id] = key
        while len(self._records) > self.limit:
            _, old = self._records.popitem(last=False)
            for message_id in old.message_ids:
                if self._by_id.get(message_id) == old.message_ids[0]:
                    del self._by_id[message_id]

    def get(self, message_id: str) -> SentMessage | None:
        key = self._by_id.get(message_id)
        return None if key is None else self._records.get(key)


# -- requests with a bounded body ------------------------------------------------------


class LimitedRequest(server.Request):
    """Keeps at most ``site.max_body`` bytes of a body; the rest is dropped
    as it arrives and the request is answered 413."""

    too_large = False

    def _limit(self) -> int:
        return int(getattr(self.channel.site, "max_body", 64 * 1024))  # type: ignore[attr-defined]

    def gotLength(self, length: int | None) -> None:
        if length is not None and length > self._limit():
            self.too_large = True
            self.content = BytesIO()
            return
        super().gotLength(length)

    def handleContentChunk(self, data: bytes) -> None:
        if self.too_large:
            return
        content = self.content
        if content is not None and content.tell() + len(data) > self._limit():
            self.too_large = True
            self.content = BytesIO()
            return
        super().handleContentChunk(data)


class ApiSite(server.Site):
    requestFactory = LimitedRequest
    noisy = False

    def __init__(
        self, root: resource.Resource, max_body: int, timeout: float = 60.0, allowed_origins: tuple[str, ...] = ()
    ) -> None:
        super().__init__(root, timeout=timeout)
        self.max_body = max_body
        self.allowed_origins = allowed_origins
        self.displayTracebacks = False

    def getResourceFor(self, request: server.Request) -> resource.IResource:
        origin = request.getHeader(b"origin")
        if origin is not None and not _same_origin(request, origin.decode("latin-1"), self.allowed_origins):
            return _Refused(403, "cross-origin requests are not allowed")
        return super().getResourceFor(request)

    def log(self, request: http.Request) -> None:
        """No access log: a line per request is a line per message (see
        ``counters`` instead)."""


# -- responses -------------------------------------------------------------------------


def _json_body(request: server.Request, code: int, body: dict[str, Any]) -> bytes:
    request.setResponseCode(code)
    request.setHeader(b"content-type", b"application/json; charset=utf-8")
    request.setHeader(b"cache-control", b"no-store")
    return json.dumps(body, ensure_ascii=False).encode("utf-8") + b"\n"


def _error(request: server.Request, code: int, reason: str, **extra: Any) -> bytes:
    return _json_body(request, code, {"error": reason, **extra})


class _Json(resource.Resource):
    """A resource answering JSON, unknown methods and paths included."""

    isLeaf = True
    methods: tuple[bytes, ...] = (b"GET", b"HEAD")

    def render(self, request: server.Request) -> bytes | int:
        if request.postpath not in ([], [b""]):
            return _error(request, 404, "no such resource")
        if request.method not in self.methods:
            request.setHeader(b"allow", b", ".join(self.methods))
            return _error(request, 405, f"method {request.method.decode('latin-1')} not allowed")
        return self.answer(request)

    def answer(self, request: server.Request) -> bytes | int:
        raise NotImplementedError


def _same_origin(request: server.Request, origin: str, allowed: tuple[str, ...]) -> bool:
    """Whether a browser's ``Origin`` is the API's own (scheme and Host of
    this request) or one of ``allowed``."""
    origin = origin.strip().lower()
    host = request.getHeader(b"host")
    scheme = "https" if request.isSecure() else "http"
    own = None if host is None else f"{scheme}://{host.decode('latin-1').strip().lower()}"
    return origin == own or origin in allowed


class _Refused(resource.Resource):
    isLeaf = True

    def __init__(self, code: int, reason: str) -> None:
        super().__init__()
        self.code = code
        self.reason = reason

    def render(self, request: server.Request) -> bytes:
        return _error(request, self.code, self.reason)


def _authorized(request: server.Request, token: str | None) -> bool:
    if token is None:
        return True
    given = request.getHeader(b"authorization") or b""
    scheme, _, value = given.partition(b" ")
    return scheme.lower() == b"bearer" and hmac.compare_digest(value.strip(), token.encode("ascii"))


class _Health(_Json):
    def answer(self, request: server.Request) -> bytes:
        return _json_body(request, 200, {"status": "ok"})


class _Ready(_Json):
    def __init__(self, client: SmppClient) -> None:
        super().__init__()
        self.client = client

    def answer(self, request: server.Request) -> bytes:
        binds = self.client.bound_count
        return _json_body(request, 200 if binds else 503, {"ready": bool(binds), "binds": binds})


class _NotFound(_Json):
    def render(self, request: server.Request) -> bytes:
        return _error(request, 404, "no such resource")


class _Root(resource.Resource):
    def __init__(self, api: MessageApi) -> None:
        super().__init__()
        self.putChild(b"messages", _Messages(api))
        self.putChild(b"healthz", _Health())
        self.putChild(b"readyz", _Ready(api.client))
        registry = CollectorRegistry(auto_describe=False)
        registry.register(FunctionCollector(client_metrics(api.client)))
        self.putChild(b"metrics", MetricsResource(registry))

    def getChild(self, path: bytes, request: server.Request) -> resource.Resource:
        return _NotFound()

    def render(self, request: server.Request) -> bytes:
        return _error(request, 404, "no such resource")


class _Messages(_Json):
    """``/messages`` (POST) and ``/messages/{id}`` (GET)."""

    isLeaf = True

    def __init__(self, api: MessageApi) -> None:
        super().__init__()
        self.api = api

    def render(self, request: server.Request) -> bytes | int:
        if not _authorized(request, self.api.settings.token):
            self.api.counters["unauthorized"] += 1
            request.setHeader(b"www-authenticate", b'Bearer realm="smppd"')
            return _error(request, 401, "a valid bearer token is required")
        path = [p for p in request.postpath or () if p]
        method = request.method
        if not path:
            if method != b"POST":
                request.setHeader(b"allow", b"POST")
                return _error(request, 405, "use POST to send a message")
            content_type = (request.getHeader(b"content-type") or b"").partition(b";")[0].strip().lower()
            if content_type != b"application/json":
                self.api.counters["invalid"] += 1
                return _error(request, 415, "the body must be application/json")
            return self.api.post_message(request)
        if len(path) != 1:
            return _error(request, 404, "no such resource")
        if method not in (b"GET", b"HEAD"):
            request.setHeader(b"allow", b"GET, HEAD")
            return _error(request, 405, "use GET to read a message's state")
        return self.api.get_message(request, unquote(path[0].decode("latin-1")))


# -- the API ---------------------------------------------------------------------------


def _parse_message(body: bytes) -> dict[str, Any]:
    """The send options from a request body, or BadRequest."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as e:
        raise BadRequest(f"body is not valid JSON: {e}") from None
    except RecursionError:
        raise BadRequest("body is nested too deeply") from None
    if not isinstance(data, dict):
        raise BadRequest("body must be a JSON object")
    unknown = sorted(set(data) - _FIELDS)
    if unknown:
        raise BadRequest(f"unknown field {unknown[0]!r}")
    to = data.get("to")
    if not isinstance(to, str) or not to:
        raise BadRequest("'to' is required: the destination address")
    source = data.get("from", "")
    if not isinstance(source, str):
        raise BadRequest("'from' must be a string")
    for name, value in (("to", to), ("from", source)):
        if len(value) > _MAX_ADDRESS or not value.isprintable() or not value.isascii():
            raise BadRequest(f"{name!r} must be at most {_MAX_ADDRESS} printable ASCII characters")
    has_text, has_hex = "text" in data, "data_hex" in data
    if has_text == has_hex:
        raise BadRequest("give exactly one of 'text' and 'data_hex'")
    content: str | bytes
    if has_text:
        content = data["text"]
        if not isinstance(content, str):
            raise BadRequest("'text' must be a string")
    else:
        raw = data["data_hex"]
        if not isinstance(raw, str):
            raise BadRequest("'data_hex' must be a string of hex digits")
        try:
            content = bytes.fromhex(raw)
        except ValueError:
            raise BadRequest("'data_hex' must be a string of hex digits") from None
    receipt = data.get("receipt", False)
    if not isinstance(receipt, bool):
        raise BadRequest("'receipt' must be true or false")
    options: dict[str, Any] = {}
    encoding = data.get("encoding")
    if encoding is not None:
        if not has_text:
            raise BadRequest("'encoding' applies to 'text' only")
        if not isinstance(encoding, str) or encoding not in ENCODINGS:
            raise BadRequest(f"'encoding' must be one of {', '.join(sorted(ENCODINGS))}")
        options["encoding"] = encoding
    concatenation = data.get("concatenation")
    if concatenation is not None:
        if not isinstance(concatenation, str) or concatenation not in METHODS:
            raise BadRequest(f"'concatenation' must be one of {', '.join(METHODS)}")
        options["concatenation"] = concatenation
    return {"source": source, "destination": to, "content": content, "receipt": receipt, **options}


class MessageApi:
    """The resources over one :class:`SmppClient`; :attr:`site` serves them."""

    def __init__(self, client: SmppClient, settings: HttpSettings | None = None, reactor: Any = None) -> None:
        self.client = client
        self.settings = settings or HttpSettings()
        self.reactor = reactor if reactor is not None else client.reactor
        self.sent = SentMessages(self.settings.max_tracked)
        self.resource = _Root(self)
        self.site = ApiSite(self.resource, self.settings.max_body, allowed_origins=self.settings.allowed_origins)
        self.counters = {
            "accepted": 0, "refused": 0, "invalid": 0, "unavailable": 0, "timed_out": 0, "unauthorized": 0,
        }  # fmt: skip

    # -- POST /messages ----------------------------------------------------------------

    def post_message(self, request: server.Request) -> bytes | int:
        if getattr(request, "too_large", False):
            self.counters["invalid"] += 1
            return _error(request, 413, f"body larger than {self.settings.max_body} bytes")
        assert request.content is not None
        request.content.seek(0)
        try:
            message = _parse_message(request.content.read())
        except BadRequest as e:
            self.counters["invalid"] += 1
            return _error(request, e.code, str(e))
        if not self.client.bound_count:
            self.counters["unavailable"] += 1
            request.setHeader(b"retry-after", b"5")
            return _error(request, 503, "no SMPP bind is up")
        gone: list[bool] = []
        request.notifyFinish().addErrback(lambda _: gone.append(True))
        receipt = message["receipt"]
        d = self.client.send_message(
            message.pop("source"), message.pop("destination"), message.pop("content"), **message
        )
        answer = _Once(self.reactor, self.settings.request_timeout)

        def sent(ids: list[str]) -> list[str]:
            self._record(ids, receipt)
            answer.fire(202, self._accepted(ids))
            return ids

        def failed(failure: Failure) -> None:
            code, body = self._refusal(failure)
            answer.fire(code, body)

        d.addCallbacks(sent, failed)
        d.addErrback(lambda f: log.failure("sending a message for the HTTP API failed", f))

        def timed_out() -> None:
            self.counters["timed_out"] += 1
            answer.fire(
                504,
                {"error": f"no answer from the SMSC within {self.settings.request_timeout:g}s;"
                 " the message may still be sent"},
            )

        answer.on_timeout = timed_out
        answer.d.addCallback(self._respond, request, gone)
        answer.d.addErrback(lambda f: log.failure("answering an HTTP request failed", f))
        return NOT_DONE_YET

    def _accepted(self, ids: list[str]) -> dict[str, Any]:
        self.counters["accepted"] += 1
        return {"message_id": ids[0], "message_ids": ids, "state": "ENROUTE"}

    def _record(self, ids: list[str], receipt: bool) -> None:
        record = SentMessage(tuple(ids), receipt, self.reactor.seconds())
        self.sent.add(record)
        if not receipt:
            return

        def final(outcome: MessageOutcome) -> None:
            record.outcome = outcome

        def unknown(failure: Failure) -> None:
            log.debug("no outcome for {id}: {why}", id=ids[0], why=failure.getErrorMessage())

        self.client.outcome(ids).addCallbacks(final, unknown)

    def _refusal(self, failure: Failure) -> tuple[int, dict[str, Any]]:
        error = failure.value
        if isinstance(error, SendError):
            done = list(error.message_ids)
            if error.status == S.ESME_RMSGQFUL:
                self.counters["unavailable"] += 1
                return 503, {"error": "the send queue is full", "message_ids": done}
            if error.status is not None:
                self.counters["refused"] += 1
                name = status_name(error.status)
                return 502, {
                    "error": f"the SMSC refused the message: {name}",
                    "status": name,
                    "command_status": error.status,
                    "message_ids": done,
                }
            self.counters["unavailable"] += 1
            return 503, {"error": str(error), "message_ids": done}
        if isinstance(error, ValueError):  # the text cannot be encoded or split
            self.counters["invalid"] += 1
            return 400, {"error": str(error)}
        log.failure("unexpected error sending a message", failure)
        return 500, {"error": "internal error"}

    def _respond(self, result: tuple[int, dict[str, Any]], request: server.Request, gone: list[bool]) -> None:
        if gone:
            return
        code, body = result
        if code == 202:
            request.setHeader(b"location", b"/messages/" + quote(body["message_id"], safe="").encode("ascii"))
        request.write(_json_body(request, code, body))
        request.finish()

    # -- GET /messages/{id} ------------------------------------------------------------

    def get_message(self, request: server.Request, message_id: str) -> bytes:
        record = self.sent.get(message_id)
        if record is None:
            return _error(request, 404, f"no message {message_id!r} is known")
        return _json_body(request, 200, record.as_dict())


class _Once:
    """The first of an answer and a timeout; the other is ignored."""

    def __init__(self, reactor: Any, timeout: float) -> None:
        self.d: Deferred[tuple[int, dict[str, Any]]] = Deferred()
        self.on_timeout: Any = None
        self._timer = reactor.callLater(timeout, self._expire)

    def fire(self, code: int, body: dict[str, Any]) -> None:
        if self.d.called:
            return
        if self._timer.active():
            self._timer.cancel()
        self.d.callback((code, body))

    def _expire(self) -> None:
        if self.on_timeout is not None:
            self.on_timeout()


class HttpApiService(EndpointListener):
    """Listens on ``settings.listen`` with the API's site while running."""

    def __init__(self, api: MessageApi, listen: str, reactor: Any = None) -> None:
        super().__init__(
            listen, api.site, reactor if reactor is not None else api.reactor, "smpp-client HTTP API listening", log
        )
        self.api = api


def client_metrics(client: SmppClient) -> Any:
    """A collect() function over one client's state and counters."""
    from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

    from smppd.metrics import pdu_families

    def collect() -> Any:
        stats = client.stats
        yield from pdu_families("smppd_client", stats.pdus)
        yield CounterMetricFamily("smppd_client_messages_sent", "Messages accepted by the SMSC", value=client.counters["submitted"])
        yield CounterMetricFamily("smppd_client_messages_failed", "Messages refused or not sent", value=client.counters["failed"])
        yield CounterMetricFamily("smppd_client_receipts", "Delivery receipts received", value=client.counters["receipts"])
        yield CounterMetricFamily("smppd_client_mo_messages", "Incoming messages handed to the application", value=client.counters["mo"])
        yield CounterMetricFamily("smppd_client_throttled", "Submits answered ESME_RTHROTTLED or ESME_RMSGQFUL", value=client.counters["throttled"])
        yield stats.submit_latency.family("smppd_client_submit_latency_seconds", "send_message to its submit_sm_resp")
        yield stats.receipt_latency.family("smppd_client_receipt_latency_seconds", "submit_sm_resp to the final receipt")
        bound = GaugeMetricFamily("smppd_client_bound_sessions", "Bound sessions by bind type", labels=["bind_type"])
        bound.add_metric([client.config.bind_type], client.bound_count)
        yield bound
        outstanding = sum(p.outstanding for p in client.protocols())
        window = client.config.session.window * max(1, client.bound_count)
        yield GaugeMetricFamily("smppd_client_window_outstanding", "Requests sent and not yet answered", value=outstanding)
        yield GaugeMetricFamily("smppd_client_window_occupancy", "Outstanding requests over the binds' windows", value=outstanding / window)
        yield GaugeMetricFamily("smppd_client_queued", "Messages waiting for a bind or a window slot", value=client.queued)
        yield GaugeMetricFamily("smppd_client_receipts_awaited", "Messages whose receipt is still awaited", value=len(client.tracker))
        yield CounterMetricFamily("smppd_client_event_observer_dropped", "Events dropped by slow observers", value=client.events.dropped)

    return collect
