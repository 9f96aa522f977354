"""``twistd smpp-client``: options, configuration and the service tree.

    twistd -n smpp-client --config etc/client.json

One process holds the ESME client (its binds kept up), the HTTP API
(:mod:`smppd.client.web`, ``POST /messages``, ``GET /messages/{id}``,
``/healthz``, ``/readyz``) and, when ``webhook.url`` is set, the webhook
forwarder of incoming messages and delivery reports
(:mod:`smppd.client.webhook`).

Start-up order: webhook, SMPP client, HTTP API. Stopping (SIGTERM, ``twistd``
stop) goes the other way, one after the other: stop listening for HTTP,
unbind every session (bounded by ``unbind_timeout``), then stop the webhook
(documents not yet accepted are given up and counted). A bad configuration
file is one line on stderr and exit status 2.
"""

from __future__ import annotations

import sys
from typing import Any

from twisted.application import service
from twisted.internet.defer import inlineCallbacks
from twisted.logger import Logger
from twisted.python import usage

from smppd.client.client import SmppClient
from smppd.client.settings import ClientSettings, ConfigError, load_client_config
from smppd.client.web import HttpApiService, MessageApi
from smppd.client.webhook import WebhookForwarder
from smppd.events import EventBus
from smppd.logs import attach_observer, make_observer
from smppd.runtime import tune_gc

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


class ClientProcess(service.MultiService):
    """The SMPP client, its HTTP API and its webhook, started and stopped in order."""

    def __init__(
        self,
        settings: ClientSettings,
        reactor: Any = None,
        *,
        http_client: Any = None,
        stop_reactor_on_failure: bool = False,
        gc_tuning: bool = False,
    ) -> None:
        super().__init__()
        if reactor is None:
            from twisted.internet import reactor as global_reactor

            reactor = global_reactor
        self.reactor = reactor
        self.settings = settings
        self.stop_reactor_on_failure = stop_reactor_on_failure
        self.gc_tuning = gc_tuning  # tune_gc() once started (twistd; an embedding application decides itself)
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
        )
        self.client.setServiceParent(self)
        self.api = MessageApi(self.client, settings.http, reactor)
        self.http: HttpApiService | None = None
        if settings.http.listen is not None:
            self.http = HttpApiService(self.api, settings.http.listen, reactor)

    def setServiceParent(self, parent: Any) -> None:
        """Under twistd, log as the configuration's ``log`` section says
        (embedded in another application, that application owns logging)."""
        if self.settings.log is not None:  # else twistd's own --logfile / --syslog
            attach_observer(parent, make_observer(self.settings.log))
        super().setServiceParent(parent)

    @inlineCallbacks
    def startService(self) -> Any:
        super().startService()  # the webhook, then the client
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
        if self.http is not None:
            try:
                yield self.http.start_listening()
            except Exception as e:
                log.error("cannot start the HTTP API on {listen}: {error}", listen=self.http.listen, error=str(e))
                if self.stop_reactor_on_failure:
                    self.reactor.callWhenRunning(self.reactor.stop)
                    return
                raise
            self.http.startService()

    @inlineCallbacks
    def stopService(self) -> Any:
        service.Service.stopService(self)
        if self.http is not None and self.http.running:
            yield self.http.stopService()
        if self.client.running:
            yield self.client.stopService()
        if self.webhook is not None and self.webhook.running:
            yield self.webhook.stopService()
        self.events.stop()
        log.info("smpp-client stopped")


def makeService(options: Options) -> ClientProcess:
    return ClientProcess(options["settings"], stop_reactor_on_failure=True, gc_tuning=True)
