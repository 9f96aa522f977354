"""``twistd smpp-client``: options, configuration and the service tree.

    twistd -n smpp-client --config etc/client.json

One process holds the ESME client (its binds kept up), the HTTP API
(:mod:`smppd.client.web`, ``POST /messages``, ``GET /messages/{id}``,
``/healthz``, ``/readyz``) and, when ``webhook.url`` is set, the webhook
forwarder of incoming messages and delivery reports
(:mod:`smppd.client.webhook`). With ``outbind_listen`` set it also listens
for SMSCs that connect and send outbind, and binds to them as a receiver
(:meth:`smppd.client.client.SmppClient.outbind_factory`).

Start-up order: webhook, SMPP client, outbind listener, HTTP API. Stopping
(SIGTERM, ``twistd`` stop) goes the other way, one after the other: stop
listening for HTTP and for outbind, unbind every session (the outbind
receivers too; bounded by ``unbind_timeout``), then stop the webhook
(documents not yet accepted are given up and counted). A bad configuration
file is one line on stderr and exit status 2.

SIGHUP re-reads the configuration file (in a thread) and applies what can
change without dropping a bind: ``rate``, ``max_queue``, ``concatenation``,
``languages``, ``http.max_body``, ``http.request_timeout``,
``http.max_tracked``, every ``webhook`` key but turning it on or off, and
``log.level``. Other changed keys are named in a warning and keep their
running values until a restart. An invalid file keeps the current settings
and logs one line saying why.
"""

from __future__ import annotations

import sys
from typing import Any

import attrs
from twisted.application import service
from twisted.internet.defer import Deferred, inlineCallbacks
from twisted.logger import FilteringLogObserver, Logger, LogLevel, LogLevelFilterPredicate
from twisted.python import usage

from smppd.client.client import SmppClient
from smppd.client.settings import ClientSettings, ConfigError, load_client_config
from smppd.client.web import HttpApiService, MessageApi
from smppd.client.webhook import WebhookForwarder
from smppd.events import EventBus
from smppd.logs import attach_observer, make_observer
from smppd.runtime import EndpointListener, SighupReload, tune_gc

log = Logger()


class Options(usage.Options):
    synopsis = "--config FILE"
    longdesc = (
        "Run the smppd ESME client: keep binds to an SMSC up, send messages given to "
        "its HTTP API and forward incoming messages and delivery reports to a webhook. "
        "Every key of the configuration file is shown in etc/client.json."
    )
    optParameters = [["config", "c", None, "JSON configuration file (see etc/client.json)."]]

    def postOptions(self) -> None:
        if not self["config"]:
            fail("--config is required (see etc/client.json)")
        try:
            settings = load_client_config(self["config"])
        except ConfigError as e:
            fail(str(e))
        self["settings"] = settings


def fail(message: str) -> None:
    """One line on stderr and a non-zero exit: how a bad configuration ends."""
    sys.stderr.write(f"smpp-client: {message}\n")
    raise SystemExit(2)


# The ClientConfig fields a SIGHUP applies (SmppClient.reconfigure reads them
# per request); the other changed keys are named in a warning and wait for a restart.
RELOADED_CLIENT_KEYS = ("rate", "max_queue", "concatenation", "languages")
_CLIENT_KEY_NAMES = {"endpoints": "host/port/tls/endpoints"}  # one ClientConfig field, several file keys


class OutbindListener(EndpointListener):
    """Listens on ``outbind_listen`` with the client's outbind factory while
    running (receivers already bound are the client's to unbind)."""

    def __init__(self, client: SmppClient, listen: str, reactor: Any) -> None:
        super().__init__(listen, client.outbind_factory(), reactor, "smpp-client listening for outbind", log)
        self.client = client


class ClientProcess(service.MultiService):
    """The SMPP client, its outbind listener, HTTP API and webhook, started
    and stopped in order; with ``config_path``, SIGHUP reloads that file."""

    def __init__(
        self,
        settings: ClientSettings,
        reactor: Any = None,
        *,
        http_client: Any = None,
        stop_reactor_on_failure: bool = False,
        gc_tuning: bool = False,
        config_path: str | None = None,
    ) -> None:
        super().__init__()
        if reactor is None:
            from twisted.internet import reactor as global_reactor

            reactor = global_reactor
        self.reactor = reactor
        self.settings = settings
        self.stop_reactor_on_failure = stop_reactor_on_failure
        self.gc_tuning = gc_tuning  # tune_gc() once started (twistd; an embedding application decides itself)
        self.config_path = config_path
        self.events = EventBus(reactor)
        self.webhook: WebhookForwarder | None = None
        if settings.webhook.url is not None:
            self.webhook = WebhookForwarder(settings.webhook, reactor, http_client=http_client)
            self.events.add_observer(self.webhook)
            self.webhook.setServiceParent(self)
        self.client = SmppClient(
            settings.client,
            reactor,
            events=self.events,
            on_message=self.webhook.on_message if self.webhook is not None else None,
            on_report=self.webhook.on_report
            if self.webhook is not None and settings.webhook.receipt_ack == "delivered"
            else None,
        )
        self.client.setServiceParent(self)
        self.outbind: OutbindListener | None = None
        if settings.outbind_listen is not None:
            self.outbind = OutbindListener(self.client, settings.outbind_listen, reactor)
        self.api = MessageApi(self.client, settings.http, reactor)
        self.http: HttpApiService | None = None
        if settings.http.listen is not None:
            self.http = HttpApiService(self.api, settings.http.listen, reactor)
        # SIGHUP, only for a process that has a file to re-read (an embedding
        # application owns its signals): read in a thread, applied here.
        self.reloader: SighupReload[ClientSettings] | None = None
        if config_path is not None:
            self.reloader = SighupReload(reactor, self._read_settings, self._apply_settings, log=log)
        self.log_level: LogLevelFilterPredicate | None = None  # the level SIGHUP can change

    def setServiceParent(self, parent: Any) -> None:
        """Under twistd, log as the configuration's ``log`` section says
        (embedded in another application, that application owns logging)."""
        if self.settings.log is not None:  # else twistd's own --logfile / --syslog
            # The level is filtered out here, where a reload can change it.
            level = LogLevelFilterPredicate(defaultLogLevel=LogLevel.levelWithName(self.settings.log.level))
            everything = make_observer(attrs.evolve(self.settings.log, level="debug"))
            if attach_observer(parent, FilteringLogObserver(everything, [level])):
                self.log_level = level
        super().setServiceParent(parent)

    @inlineCallbacks
    def startService(self) -> Any:
        super().startService()  # the webhook, then the client
        if self.reloader is not None:
            self.reloader.install()  # early: a SIGHUP during start-up must not end the process
        if self.gc_tuning:
            tune_gc()
        c = self.settings.client
        log.info(
            "smpp-client {system_id}: {binds} {bind_type} bind(s) to {endpoints}",
            system_id=c.system_id,
            binds=c.binds,
            bind_type=c.bind_type,
            endpoints=", ".join(c.endpoints),
        )
        if self.settings.webhook.url is None:
            log.info("no webhook configured: incoming messages are acknowledged and dropped")
        listeners: list[tuple[str, Any]] = [("outbind listener", self.outbind), ("HTTP API", self.http)]
        for what, listener in listeners:
            if listener is None:
                continue
            try:
                yield listener.start_listening()
            except Exception as e:
                log.error("cannot start the {what} on {listen}: {error}", what=what, listen=listener.listen, error=str(e))
                if self.stop_reactor_on_failure:
                    self.reactor.callWhenRunning(self.reactor.stop)
                    return
                raise
            listener.startService()

    @inlineCallbacks
    def stopService(self) -> Any:
        service.Service.stopService(self)
        if self.reloader is not None:
            self.reloader.uninstall()
        if self.http is not None and self.http.running:
            yield self.http.stopService()
        if self.outbind is not None and self.outbind.running:
            yield self.outbind.stopService()
        if self.client.running:
            yield self.client.stopService()
        if self.webhook is not None and self.webhook.running:
            yield self.webhook.stopService()
        self.events.stop()
        log.info("smpp-client stopped")

    # -- SIGHUP ------------------------------------------------------------------------

    def reload(self) -> Deferred[None]:
        """Re-read the configuration file (in a thread) and apply what can
        change without dropping a bind; an invalid file keeps the current
        settings and logs one line. SIGHUP calls this."""
        if self.reloader is None:
            raise RuntimeError("no configuration file to reload")
        return self.reloader.reload()

    def _read_settings(self) -> ClientSettings:
        assert self.config_path is not None
        return load_client_config(self.config_path)

    def _apply_settings(self, new: ClientSettings) -> None:
        old = self.settings
        restart = needs_restart(old, new)
        client = attrs.evolve(old.client, **{k: getattr(new.client, k) for k in RELOADED_CLIENT_KEYS})
        self.client.reconfigure(client)
        http = attrs.evolve(new.http, listen=old.http.listen)
        self.api.settings = http
        self.api.site.max_body = http.max_body
        self.api.site.allowed_origins = http.allowed_origins
        self.api.sent.limit = http.max_tracked
        webhook = old.webhook
        if self.webhook is not None and new.webhook.url is not None:
            webhook = new.webhook
            self.webhook.reconfigure(webhook)
        logging = old.log
        if old.log is not None and new.log is not None:
            logging = attrs.evolve(old.log, level=new.log.level)
            if self.log_level is not None:
                self.log_level.setLogLevelForNamespace("", LogLevel.levelWithName(new.log.level))
        self.settings = attrs.evolve(old, client=client, http=http, webhook=webhook, log=logging, source=new.source)
        if restart:
            log.warn(
                "changed in {source} but needing a restart, kept as they are: {keys}",
                source=new.source,
                keys=", ".join(restart),
            )
        log.info("configuration reloaded from {source}", source=new.source)


def needs_restart(old: ClientSettings, new: ClientSettings) -> list[str]:
    """The keys that differ between ``old`` and ``new`` that a reload does not apply."""
    keys: list[str] = []
    for field in attrs.fields(type(old.client)):
        name = field.name
        was, now = getattr(old.client, name), getattr(new.client, name)
        if name in RELOADED_CLIENT_KEYS or was == now:
            continue
        if attrs.has(type(was)):  # session (flat keys in the file), reconnect
            prefix = "reconnect." if name == "reconnect" else ""
            keys += [f"{prefix}{f.name}" for f in attrs.fields(type(was)) if getattr(was, f.name) != getattr(now, f.name)]
        else:
            keys.append(_CLIENT_KEY_NAMES.get(name, name))
    if old.outbind_listen != new.outbind_listen:
        keys.append("outbind_listen")
    if old.http.listen != new.http.listen:
        keys.append("http.listen")
    if (old.webhook.url is None) != (new.webhook.url is None):
        keys.append("webhook.url")
    if old.webhook.receipt_ack != new.webhook.receipt_ack:
        keys.append("webhook.receipt_ack")
    if (old.log is None) != (new.log is None):
        keys.append("log")
    elif old.log is not None and new.log is not None:
        keys += [
            f"log.{f.name}"
            for f in attrs.fields(type(old.log))
            if f.name not in ("level", "source") and getattr(old.log, f.name) != getattr(new.log, f.name)
        ]
    return keys


def makeService(options: Options) -> ClientProcess:
    return ClientProcess(options["settings"], stop_reactor_on_failure=True, gc_tuning=True, config_path=options["config"])
