"""The ESME client's JSON configuration (``twistd smpp-client --config``).

Validated once, at start-up, into :class:`ClientSettings`: the
:class:`~smppd.client.config.ClientConfig` of the SMPP side plus the HTTP API
and webhook settings. Every mistake is a :class:`~smppd.config.ConfigError`
naming the file and the key (``client.json: reconnect.factor: must be at
least 1``). ``etc/client.json`` shows every key; the SMPP ones are flat::

    {"host": "127.0.0.1", "port": 2775, "system_id": "test", "password": "test",
     "bind_type": "transceiver", "window": 10, "reconnect": {"initial": 1},
     "http": {"listen": "tcp:9091:interface=127.0.0.1"},
     "webhook": {"url": "http://127.0.0.1:8080/sms", "mo_ack": "queued"}}

``host``/``port`` (with ``tls: true`` for a TLS connection) and
``endpoints`` (Twisted client endpoint strings, tried in order on failure)
are two ways of saying where the SMSC is; give one of them.
``max_reconnect_attempts`` is accepted as an alias of
``reconnect.max_attempts``. ``outbind_listen`` (a Twisted server endpoint
string, default null) is where the process listens for SMSCs that connect
and send outbind.
"""

from __future__ import annotations

import ipaddress
import warnings
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import attrs
from twisted.internet.endpoints import clientFromString, quoteStringArgument, serverFromString

from smppd.client.config import ClientConfig, ReconnectPolicy
from smppd.configfile import ConfigError, _Reader, read_json, resolve_log_file
from smppd.logs import LogSettings, parse_log_settings
from smppd.protocol import SessionConfig
from smppd.text.national import LANGUAGE_NAMES
from smppd.text.split import METHODS

__all__ = [
    "DEFAULT_HTTP_LISTEN",
    "ClientSettings",
    "ConfigError",
    "HttpSettings",
    "WebhookSettings",
    "load_client_config",
    "parse_client_config",
]

DEFAULT_HTTP_LISTEN = "tcp:9091:interface=127.0.0.1"
BIND_TYPES = {
    "transceiver": "transceiver",
    "trx": "transceiver",
    "transmitter": "transmitter",
    "tx": "transmitter",
    "receiver": "receiver",
    "rx": "receiver",
}
MO_ACKS = ("queued", "delivered")
_LANGUAGE_IDS = {name.lower(): number for number, name in LANGUAGE_NAMES.items()}


@attrs.frozen
class HttpSettings:
    """The HTTP API: where it listens and how much it accepts."""

    listen: str | None = DEFAULT_HTTP_LISTEN  # None: no HTTP API
    max_body: int = 64 * 1024  # bytes of one request body
    request_timeout: float = 30.0  # waiting for the SMSC's submit_sm_resp(s)
    max_tracked: int = 100_000  # sent messages remembered for GET /messages/{id}
    # /messages needs "Authorization: Bearer <token>" (required off loopback); None: no token
    token: str | None = attrs.field(default=None, repr=False)
    allowed_origins: tuple[str, ...] = ()  # browser Origins accepted besides the API's own


@attrs.frozen
class WebhookSettings:
    """Where incoming messages and delivery reports are POSTed."""

    url: str | None = None  # None: no webhook (MO messages are acknowledged and dropped)
    timeout: float = 10.0  # one attempt, connect to response body
    retries: int = 5  # attempts after the first one
    backoff_initial: float = 1.0  # seconds before the first retry, doubling
    backoff_maximum: float = 60.0
    queue_size: int = 10_000  # items waiting to be posted; more are dropped (and counted)
    concurrency: int = 4  # requests in flight at once
    mo_ack: str = "queued"  # "queued" or "delivered" (see smppd.client.webhook)
    receipt_ack: str = "queued"  # the same for delivery receipts (a restart applies a change)


@attrs.frozen
class ClientSettings:
    """Everything ``twistd smpp-client`` needs."""

    client: ClientConfig
    http: HttpSettings = HttpSettings()
    webhook: WebhookSettings = WebhookSettings()
    log: LogSettings | None = None  # None: twistd's logging (--logfile, --syslog)
    outbind_listen: str | None = None  # server endpoint for SMSCs sending outbind; None: none
    source: str = "(config)"


def _c_octets(r: _Reader, name: str, default: str, size: int, *, required: bool = False) -> str:
    """A C-Octet String field of a bind: Latin-1, at most ``size`` characters."""
    value = r.string(name, default)
    if required and not value:
        r.fail(name, "is required")
    if len(value) > size:
        r.fail(name, f"at most {size} characters (SMPP v3.4)")
    try:
        value.encode("latin-1")
    except UnicodeEncodeError:
        r.fail(name, "must be Latin-1 text")
    return value


def _positive(r: _Reader, name: str, default: float | None, *, nullable: bool = False) -> Any:
    value = r.number(name, default, nullable=nullable)
    if value is not None and value <= 0:
        r.fail(name, "must be greater than 0")
    return value


def _check_endpoint(r: _Reader, key: str, spec: str, *, server: bool = False) -> None:
    # Parsing an endpoint string only stores the reactor: a placeholder will do
    # (HostnameEndpoint warns that it cannot resolve names with it: it won't need to).
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            (serverFromString if server else clientFromString)(object(), spec)
    except Exception as e:
        raise ConfigError(r.source, key, f"{spec!r} is not a valid endpoint: {e}") from None


def _endpoints(r: _Reader) -> tuple[str, ...]:
    given = [name for name in ("host", "port", "tls") if r.has(name)]
    if r.has("endpoints"):
        if given:
            r.fail(given[0], "give either endpoints or host/port, not both")
        specs = r.string_list("endpoints", ())
        if not specs:
            r.fail("endpoints", "must name at least one endpoint")
        for i, spec in enumerate(specs):
            _check_endpoint(r, f"{r.key('endpoints')}[{i}]", spec)
        return specs
    host = r.string("host", "127.0.0.1")
    if not host:
        r.fail("host", "must not be empty")
    port = r.number("port", 2775, minimum=1, integer=True)
    if port > 65535:
        r.fail("port", "must be at most 65535")
    kind = "tls" if r.boolean("tls", False) else "tcp"
    spec = f"{kind}:host={quoteStringArgument(host)}:port={port}"
    _check_endpoint(r, r.key("host"), spec)
    return (spec,)


def _languages(r: _Reader) -> tuple[int, ...]:
    value = r.get("languages")
    if value is None:
        return ()
    if not isinstance(value, list):
        r.fail("languages", "must be a list of language names or ids")
    result = []
    for i, item in enumerate(value):
        key = f"{r.key('languages')}[{i}]"
        if isinstance(item, str) and item.lower() in _LANGUAGE_IDS:
            result.append(_LANGUAGE_IDS[item.lower()])
        elif isinstance(item, int) and not isinstance(item, bool) and item in LANGUAGE_NAMES:
            result.append(item)
        else:
            names = ", ".join(sorted(_LANGUAGE_IDS))
            raise ConfigError(r.source, key, f"{item!r} is not a national language ({names})")
    return tuple(result)


def _reconnect(r: _Reader) -> ReconnectPolicy:
    d = ReconnectPolicy()
    rr = r.section("reconnect")
    alias = r.number("max_reconnect_attempts", None, minimum=1, nullable=True, integer=True)
    if alias is not None and rr.has("max_attempts"):
        r.fail("max_reconnect_attempts", "give either this or reconnect.max_attempts, not both")
    policy = ReconnectPolicy(
        initial=rr.number("initial", d.initial, minimum=0.01),
        factor=rr.number("factor", d.factor, minimum=1),
        maximum=rr.number("maximum", d.maximum, minimum=0.01),
        jitter=rr.number("jitter", d.jitter, minimum=0),
        max_attempts=rr.number("max_attempts", alias, minimum=1, nullable=True, integer=True),
    )
    if policy.jitter >= 1:
        rr.fail("jitter", "must be less than 1 (a fraction of each delay)")
    if policy.maximum < policy.initial:
        rr.fail("maximum", "must be at least reconnect.initial")
    rr.done()
    return policy


def _listen(r: _Reader, name: str, default: str | None, null_means: str) -> str | None:
    """A server endpoint string, or null (``null_means`` says what that is)."""
    listen = r.get(name) if r.has(name) else default
    if listen is not None:
        if not isinstance(listen, str) or not listen:
            r.fail(name, f"must be an endpoint string (or null: {null_means})")
        _check_endpoint(r, r.key(name), listen, server=True)
    return listen


def _endpoint_words(spec: str) -> tuple[str, list[str], dict[str, str]]:
    """An endpoint string's kind, positional arguments and keywords (Twisted's
    grammar: ``:`` separates, ``\\`` escapes)."""
    words, word, escaped = [], [], False
    for ch in spec:
        if escaped:
            word.append(ch)
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == ":":
            words.append("".join(word))
            word = []
        else:
            word.append(ch)
    words.append("".join(word))
    positional = [w for w in words[1:] if "=" not in w]
    keywords = dict(w.split("=", 1) for w in words[1:] if "=" in w)
    return words[0].lower(), positional, keywords


def local_only(spec: str) -> bool:
    """Whether a server endpoint string listens on loopback only (or on a
    UNIX socket); anything else (all interfaces, a public address, an
    endpoint kind this does not know) counts as reachable from the network."""
    kind, _, keywords = _endpoint_words(spec)
    if kind == "unix":
        return True
    if kind not in ("tcp", "tcp6", "ssl"):
        return False
    interface = keywords.get("interface", "")
    if interface == "localhost":
        return True
    try:
        return ipaddress.ip_address(interface).is_loopback
    except ValueError:
        return False  # "" (every interface) or a name


def _origin(r: _Reader, key: str, origin: str) -> str:
    parts = urlsplit(origin)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.path or parts.query or parts.fragment:
        raise ConfigError(r.source, key, f"{origin!r} is not an origin (scheme://host[:port], no path)")
    return f"{parts.scheme}://{parts.netloc}".lower()


def _http(r: _Reader) -> HttpSettings:
    d = HttpSettings()
    h = r.section("http")
    listen = _listen(h, "listen", d.listen, "no HTTP API")
    token = h.optional_string("token")
    if token is not None and (len(token) < 16 or not token.isascii() or not token.isprintable() or " " in token):
        h.fail("token", "must be at least 16 printable ASCII characters without spaces")
    if token is None and listen is not None and not local_only(listen):
        h.fail("token", "is required when http.listen is not a loopback address (the API sends messages)")
    origins = h.string_list("allowed_origins", ())
    settings = HttpSettings(
        listen=listen,
        max_body=h.number("max_body", d.max_body, minimum=256, integer=True),
        request_timeout=_positive(h, "request_timeout", d.request_timeout),
        max_tracked=h.number("max_tracked", d.max_tracked, minimum=1, integer=True),
        token=token,
        allowed_origins=tuple(_origin(h, f"{h.key('allowed_origins')}[{i}]", o) for i, o in enumerate(origins)),
    )
    h.done()
    return settings


def _webhook(r: _Reader) -> WebhookSettings:
    d = WebhookSettings()
    w = r.section("webhook")
    url = w.optional_string("url")
    if url is not None and not url.startswith(("http://", "https://")):
        w.fail("url", "must be an http:// or https:// URL")
    settings = WebhookSettings(
        url=url,
        timeout=_positive(w, "timeout", d.timeout),
        retries=w.number("retries", d.retries, minimum=0, integer=True),
        backoff_initial=_positive(w, "backoff_initial", d.backoff_initial),
        backoff_maximum=_positive(w, "backoff_maximum", d.backoff_maximum),
        queue_size=w.number("queue_size", d.queue_size, minimum=1, integer=True),
        concurrency=w.number("concurrency", d.concurrency, minimum=1, integer=True),
        mo_ack=w.string("mo_ack", d.mo_ack, choices=MO_ACKS),
        receipt_ack=w.string("receipt_ack", d.receipt_ack, choices=MO_ACKS),
    )
    w.done()
    return settings


def parse_client_config(data: Mapping[str, Any], source: str = "(config)") -> ClientSettings:
    """Validate a client configuration object (see ``etc/client.json``)."""
    r = _Reader(source, data)
    d = ClientConfig()
    endpoints = _endpoints(r)
    system_id = _c_octets(r, "system_id", "", 15, required=True)
    password = _c_octets(r, "password", "", 8)
    system_type = _c_octets(r, "system_type", "", 12)
    bind_type = r.string("bind_type", d.bind_type, choices=tuple(BIND_TYPES))
    address_range = _c_octets(r, "address_range", "", 40)
    addr_ton = r.number("addr_ton", d.addr_ton, integer=True)
    addr_npi = r.number("addr_npi", d.addr_npi, integer=True)
    if addr_ton > 255 or addr_npi > 255:
        r.fail("addr_ton" if addr_ton > 255 else "addr_npi", "must be at most 255")
    binds = r.number("binds", d.binds, minimum=1, integer=True)
    session = SessionConfig(
        enquire_link_interval=r.number(
            "enquire_link_interval", d.session.enquire_link_interval, minimum=1, nullable=True
        ),
        response_timeout=r.number("response_timeout", d.session.response_timeout, minimum=0.1),
        unbind_timeout=r.number("unbind_timeout", d.session.unbind_timeout, minimum=0.1),
        window=r.number("window", d.session.window, minimum=1, integer=True),
    )
    config = ClientConfig(
        endpoints=endpoints,
        system_id=system_id,
        password=password,
        system_type=system_type,
        bind_type=BIND_TYPES[bind_type],
        addr_ton=addr_ton,
        addr_npi=addr_npi,
        address_range=address_range,
        binds=binds,
        session=session,
        bind_timeout=_positive(r, "bind_timeout", d.bind_timeout),
        reconnect=_reconnect(r),
        rate=_positive(r, "rate", d.rate, nullable=True),
        max_queue=r.number("max_queue", d.max_queue, minimum=1, integer=True),
        receipt_timeout=_positive(r, "receipt_timeout", d.receipt_timeout),
        concatenation=r.string("concatenation", d.concatenation, choices=METHODS),
        languages=_languages(r),
    )
    outbind_listen = _listen(r, "outbind_listen", None, "no outbind")
    outbind_system_id = _c_octets(r, "outbind_system_id", "", 15) or None
    outbind_password = _c_octets(r, "outbind_password", "", 8) or None
    if outbind_listen is not None and outbind_password is None:
        r.fail(
            "outbind_password",
            "is required with outbind_listen: the password the SMSC sends in outbind"
            " (without it anyone reaching the port would be sent this client's password)",
        )
    config = attrs.evolve(config, outbind_system_id=outbind_system_id, outbind_password=outbind_password)
    http = _http(r)
    webhook = _webhook(r)
    log = parse_log_settings(r.section("log")) if r.has("log") else None
    r.done()
    return ClientSettings(
        client=config, http=http, webhook=webhook, log=log, outbind_listen=outbind_listen, source=source
    )


def load_client_config(path: str) -> ClientSettings:
    """Read and validate ``path``; ConfigError (file and key) on any mistake.
    A relative ``log.file`` is relative to the file's directory."""
    return parse_client_config(resolve_log_file(path, read_json(path)), path)
