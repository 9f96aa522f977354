"""JSON configuration files, validated once at start-up into typed objects.

Every mistake is a :class:`ConfigError` whose message is one line naming the
file and the key (``server.json: simulator.rules[1].state: must be one of
DELIVRD, ...``); the twistd plugins print it and exit non-zero.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import attrs

from smppd.auth.ranges import PatternError, compile_pattern
from smppd.configfile import ConfigError, _Reader, read_json, relative_to, resolve_log_file
from smppd.logs import LogSettings, parse_log_settings
from smppd.protocol import SessionConfig
from smppd.server.config import BindPenaltyConfig, RetryPolicy, Route, ServerConfig
from smppd.server.delivery import STATE_BY_NAME, SimulatorRule
from smppd.storage import StoreOptions

DEFAULT_LISTEN = "tcp:2775:interface=127.0.0.1"
DEFAULT_STORE_PATH = "smppd-data/smppd.sqlite3"
DEFAULT_STORE = f"sqlite:{DEFAULT_STORE_PATH}"
STORE_KINDS = ("memory", "sqlite", "file")
DEFAULT_SERVER_HTTP = "tcp:9090:interface=127.0.0.1"


EVENT_NAMES = (
    "connection.connected",
    "connection.disconnected",
    "connection.bound",
    "connection.unbound",
    "sms.submitted",
    "sms.delivered",
    "sms.failed",
    "delivery.report",
)


@attrs.frozen
class WebhookTarget:
    """One URL that receives events as JSON POSTs (see smppd.webhooks)."""

    url: str
    events: frozenset[str] = frozenset()  # empty: every event
    timeout: float = 5.0
    retries: int = 5
    backoff_initial: float = 1.0
    backoff_maximum: float = 60.0
    queue_size: int = 10_000
    concurrency: int = 4


@attrs.frozen
class ServerSettings:
    """Everything ``twistd smpp-server`` needs."""

    listen: tuple[str, ...] = (DEFAULT_LISTEN,)
    store: str = DEFAULT_STORE  # the spec: kind and path ("sqlite:PATH")
    store_options: StoreOptions = StoreOptions()  # for stores of store_options.kind
    users_file: str | None = None  # None: the demo users
    http: str | None = DEFAULT_SERVER_HTTP  # /metrics, /healthz, /readyz; None: no HTTP endpoint
    webhooks: tuple[WebhookTarget, ...] = ()
    log: LogSettings | None = None  # None: twistd's logging (--logfile, --syslog)
    server: ServerConfig = ServerConfig()
    source: str = "(defaults)"


def _route_pattern(r: _Reader, name: str) -> str:
    """A route's destination pattern: the linear-time subset of :mod:`smppd.auth.ranges`."""
    value = r.string(name, "")
    if not value:
        r.fail(name, "is required")
    try:
        compile_pattern(value)
    except PatternError as e:
        r.fail(name, f"not an accepted destination pattern: {e}")
    return value


def _store(r: _Reader) -> tuple[str, StoreOptions]:
    """``store``: a spec string (``"sqlite:PATH"``), or an object with the
    kind, the path and the options of that kind."""
    if not isinstance(r.get("store"), dict):
        spec = r.string("store", DEFAULT_STORE, pattern=r"memory|sqlite:.+|file:.+")
        return spec, StoreOptions(kind=spec.partition(":")[0])
    s = r.section("store")
    kind = s.string("kind", "sqlite", choices=STORE_KINDS)
    d = StoreOptions(kind=kind)
    if kind == "memory":
        if s.has("path"):
            s.fail("path", "the memory store has no path")
        spec = "memory"
    else:
        path = s.string("path", DEFAULT_STORE_PATH if kind == "sqlite" else "")
        if not path:
            s.fail("path", f"is required for a {kind} store")
        spec = f"{kind}:{path}"
    for name, kinds in (("sync", ("sqlite",)), ("fsync", ("file",)), ("max_segment_bytes", ("file",))):
        if s.has(name) and kind not in kinds:
            s.fail(name, f"is for a {' or '.join(kinds)} store, not {kind}")
    options = StoreOptions(
        kind=kind,
        # null or 0: keep every message
        retention=s.number("retention", d.retention, minimum=0, nullable=True),
        sync=s.string("sync", d.sync, choices=("normal", "full")),
        fsync=s.boolean("fsync", d.fsync),
        max_segment_bytes=s.number("max_segment_bytes", d.max_segment_bytes, minimum=4096, integer=True),
    )
    s.done()
    return spec, options


def _session(r: _Reader, base: SessionConfig) -> SessionConfig:
    s = SessionConfig(
        enquire_link_interval=r.number("enquire_link_interval", base.enquire_link_interval, minimum=1, nullable=True),
        response_timeout=r.number("response_timeout", base.response_timeout, minimum=0.1),
        session_init_timeout=r.number("session_init_timeout", base.session_init_timeout, minimum=1, nullable=True),
        inactivity_timeout=r.number("inactivity_timeout", base.inactivity_timeout, minimum=1, nullable=True),
        unbind_timeout=r.number("unbind_timeout", base.unbind_timeout, minimum=0.1),
        window=r.number("window", base.window, minimum=1, integer=True),
        max_command_length=r.number("max_command_length", base.max_command_length, minimum=1024, integer=True),
        partial_pdu_timeout=r.number("partial_pdu_timeout", base.partial_pdu_timeout, minimum=0.1, nullable=True),
    )
    r.done()
    return s


def parse_server_config(data: Mapping[str, Any], source: str = "(config)") -> ServerSettings:
    """Validate a server configuration object (see ``etc/server.json``)."""
    r = _Reader(source, data)
    d = ServerConfig()
    listen = r.string_list("listen", (DEFAULT_LISTEN,))
    if not listen:
        r.fail("listen", "must name at least one endpoint")
    store, store_options = _store(r)
    users_file = r.optional_string("users_file")
    system_id = r.string("system_id", d.system_id, pattern=r"[\x21-\x7e]{1,15}")
    http_section = r.section("http")
    http: str | None = http_section.string("listen", DEFAULT_SERVER_HTTP)
    if http_section.has("enabled") and not http_section.boolean("enabled", True):
        http = None
    http_section.done()
    session = _session(r.section("session"), d.session)

    limits = r.section("limits")
    max_connections = limits.number("max_connections", d.max_connections, minimum=1, integer=True)
    default_max_binds = limits.number("default_max_binds", d.default_max_binds, minimum=1, nullable=True, integer=True)
    default_window = limits.number("default_window", d.default_window, minimum=1, integer=True)
    outbox_high_water = limits.number("outbox_high_water", d.outbox_high_water, minimum=1, integer=True)
    max_unbound_per_host = limits.number("max_unbound_per_host", d.max_unbound_per_host, minimum=1, integer=True)
    max_bind_failures = limits.number("max_bind_failures", d.max_bind_failures, minimum=1, integer=True)
    max_verifications = limits.number("max_verifications", d.max_verifications, minimum=1, integer=True)
    max_verifications_per_host = limits.number(
        "max_verifications_per_host", d.max_verifications_per_host, minimum=1, integer=True
    )
    limits.done()
    pen = r.section("bind_penalty")
    p0 = d.bind_penalty
    bind_penalty = BindPenaltyConfig(
        free_failures=pen.number("free_failures", p0.free_failures, minimum=0, integer=True),
        base_delay=pen.number("base_delay", p0.base_delay, minimum=0),
        max_delay=pen.number("max_delay", p0.max_delay, minimum=0),
        forget_after=pen.number("forget_after", p0.forget_after, minimum=1),
        max_hosts=pen.number("max_hosts", p0.max_hosts, minimum=1, integer=True),
    )
    pen.done()

    messages = r.section("messages")
    id_format = messages.string("id_format", d.message_id_format, choices=("hex", "decimal"))
    default_validity = messages.number("default_validity", d.default_validity, minimum=1)
    max_validity = messages.number("max_validity", d.max_validity, minimum=1)
    receipt_validity = messages.number("receipt_validity", d.receipt_validity, minimum=1)
    strict_addresses = messages.boolean("strict_addresses", d.strict_addresses)
    messages.done()

    routes = []
    for rr in r.object_list("routes"):
        routes.append(Route(_route_pattern(rr, "pattern"), rr.string("system_id", "") or rr.fail("system_id", "is required")))
        rr.done()

    lists: dict[str, tuple[str, ...]] = {}
    raw_lists = r.get("distribution_lists") or {}
    if not isinstance(raw_lists, dict):
        r.fail("distribution_lists", "must be an object of name: [addresses]")
    for name, members in raw_lists.items():
        key = f"distribution_lists.{name}"
        if len(name) > 20:
            raise ConfigError(source, key, "a list name has at most 20 characters")
        if not isinstance(members, list) or not members or not all(isinstance(m, str) and m for m in members):
            raise ConfigError(source, key, "must be a non-empty list of addresses")
        lists[name] = tuple(members)

    sim = r.section("simulator")
    sim_delay = sim.number("default_delay", d.simulator_default_delay, minimum=0)
    rules = []
    states = tuple(STATE_BY_NAME)
    for sr in sim.object_list("rules"):
        prefix = sr.string("prefix", "")
        state = sr.string("state", "DELIVRD", choices=states)
        rules.append(
            SimulatorRule(
                prefix,
                STATE_BY_NAME[state],
                sr.number("delay", sim_delay, minimum=0),
                sr.number("error_code", 0, minimum=0, integer=True),
            )
        )
        sr.done()
    sim.done()

    retry = r.section("retry")
    retry_policy = RetryPolicy(
        initial=retry.number("initial", d.retry.initial, minimum=0.01),
        factor=retry.number("factor", d.retry.factor, minimum=1),
        maximum=retry.number("maximum", d.retry.maximum, minimum=0.01),
        throttled_pause=retry.number("throttled_pause", d.retry.throttled_pause, minimum=0.01),
    )
    retry.done()
    grace = r.number("grace_period", d.grace_period, minimum=0)
    log_settings = parse_log_settings(r.section("log")) if r.has("log") else None
    webhooks = []
    w0 = WebhookTarget("")
    for wr in r.object_list("webhooks"):
        url = wr.string("url", "")
        if not re.fullmatch(r"https?://\S+", url):
            wr.fail("url", "must be an http:// or https:// URL")
        events = wr.string_list("events", ())
        unknown = sorted(set(events) - set(EVENT_NAMES))
        if unknown:
            wr.fail("events", f"unknown event {unknown[0]!r}; known: {', '.join(EVENT_NAMES)}")
        webhooks.append(
            WebhookTarget(
                url,
                frozenset(events),
                wr.number("timeout", w0.timeout, minimum=0.1),
                wr.number("retries", w0.retries, minimum=0, integer=True),
                wr.number("backoff_initial", w0.backoff_initial, minimum=0.01),
                wr.number("backoff_maximum", w0.backoff_maximum, minimum=0.01),
                wr.number("queue_size", w0.queue_size, minimum=1, integer=True),
                wr.number("concurrency", w0.concurrency, minimum=1, integer=True),
            )
        )
        wr.done()
    r.done()
    config = ServerConfig(
        system_id=system_id,
        session=session,
        max_connections=max_connections,
        default_max_binds=default_max_binds,
        default_window=default_window,
        outbox_high_water=outbox_high_water,
        max_unbound_per_host=max_unbound_per_host,
        max_bind_failures=max_bind_failures,
        max_verifications=max_verifications,
        max_verifications_per_host=max_verifications_per_host,
        bind_penalty=bind_penalty,
        message_id_format=id_format,
        default_validity=default_validity,
        max_validity=max_validity,
        receipt_validity=receipt_validity,
        routes=tuple(routes),
        distribution_lists=lists,
        simulator_rules=tuple(rules),
        simulator_default_delay=sim_delay,
        retry=retry_policy,
        strict_addresses=strict_addresses,
        grace_period=grace,
    )
    return ServerSettings(
        listen=listen,
        store=store,
        store_options=store_options,
        users_file=users_file,
        http=http,
        webhooks=tuple(webhooks),
        log=log_settings,
        server=config,
        source=source,
    )


def load_server_config(path: str) -> ServerSettings:
    """Read and validate ``path``. Relative paths in it (``store``, its
    default included, ``users_file``, ``log.file``) are relative to the
    file's directory, whatever the working directory; only the embedded
    defaults (no file at all) keep ``smppd-data/`` under the working directory."""
    settings = parse_server_config(resolve_log_file(path, read_json(path)), path)
    if settings.users_file is not None:
        settings = attrs.evolve(settings, users_file=relative_to(path, settings.users_file))
    kind, colon, store_path = settings.store.partition(":")
    if colon and store_path:
        settings = attrs.evolve(settings, store=f"{kind}:{relative_to(path, store_path)}")
    return settings
