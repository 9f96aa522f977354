"""``twistd smpp-server``: options, configuration and the service tree.

    twistd -n smpp-server                       # demo defaults on 127.0.0.1:2775
    twistd -n smpp-server --config server.json --listen tcp:2776 --store memory

Start-up order: open the store, recover unfinished work, then listen.
SIGHUP reloads users, permissions and limits from the same files without
dropping sessions (an invalid file keeps the old settings and logs why).
Stopping (SIGTERM, ``twistd`` stop) stops listening, unbinds every session,
lets in-flight work finish within the grace period and flushes the store.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import attrs
from twisted.application import service
from twisted.internet import endpoints
from twisted.internet.defer import Deferred, DeferredList, inlineCallbacks
from twisted.internet.defer import maybeDeferred as maybe_deferred
from twisted.logger import Logger
from twisted.python import usage
from twisted.python.failure import Failure

from smppd.auth import BindPenalty, UsersAuthenticator, demo_users, load_users
from smppd.auth.users import Users, UsersFileError
from smppd.config import ConfigError, ServerSettings, load_server_config
from smppd.events import EventBus
from smppd.logs import attach_observer, make_observer
from smppd.runtime import SighupReload, tune_gc
from smppd.server.factory import SmscFactory
from smppd.server.smsc import Smsc
from smppd.server.web import build_site
from smppd.storage import open_store
from smppd.webhooks import EventWebhook

log = Logger()


class Options(usage.Options):
    synopsis = "[--config FILE] [--listen ENDPOINT ...] [--store KIND]"
    longdesc = (
        "Run the smppd SMSC. With no configuration it listens on 127.0.0.1:2775, "
        "stores in SQLite under ./smppd-data/ and has three demo users."
    )
    optParameters = [
        ["config", "c", None, "JSON configuration file (see etc/server.json)."],
        [
            "store",
            "s",
            None,
            "Message store: memory, sqlite:PATH or file:DIR (overrides the config's kind and path;"
            " its options apply when the kind is the same).",
        ],
        ["http", None, None, "Endpoint for /metrics, /healthz, /readyz, or 'none' (overrides the config)."],
    ]

    def __init__(self) -> None:
        super().__init__()
        self["listen"] = []

    def opt_listen(self, endpoint: str) -> None:
        """Endpoint to listen on, e.g. tcp:2775 or ssl:2776:privateKey=key.pem
        (repeatable; replaces the config's list)."""
        self["listen"].append(endpoint)

    opt_l = opt_listen

    def postOptions(self) -> None:
        try:
            settings = load_server_config(self["config"]) if self["config"] else ServerSettings()
            if self["listen"]:
                settings = attrs.evolve(settings, listen=tuple(self["listen"]))
            if self["store"]:
                from smppd.config import parse_server_config

                parse_server_config({"store": self["store"]}, "--store")
                settings = attrs.evolve(settings, store=self["store"])
            if self["http"]:
                settings = attrs.evolve(settings, http=None if self["http"] == "none" else self["http"])
            users = load_users(settings.users_file) if settings.users_file else None
            check_endpoints(settings)
        except (ConfigError, UsersFileError) as e:
            fail(str(e))
        self["settings"] = settings
        self["users"] = users


class _NoReactor:
    """Stands in for the reactor while endpoint strings are only parsed
    (twistd has not installed its reactor yet when options are read)."""


def check_endpoints(settings: ServerSettings) -> None:
    """Parse every listening endpoint now: a bad one is a configuration error."""
    specs = [(f"listen[{i}]", spec) for i, spec in enumerate(settings.listen)]
    if settings.http:
        specs.append(("http.listen", settings.http))
    for key, spec in specs:
        try:
            endpoints.serverFromString(_NoReactor(), spec)
        except Exception as e:
            raise ConfigError(settings.source, key, f"{spec!r}: {e}") from None


def fail(message: str) -> None:
    """One line on stderr and a non-zero exit: how a bad configuration ends."""
    sys.stderr.write(f"smpp-server: {message}\n")
    raise SystemExit(2)


class SmscService(service.MultiService):
    """The SMSC: store, core and listening ports, started and stopped in order."""

    def __init__(self, settings: ServerSettings, users: Users | None, reactor: Any = None, config_path: str | None = None) -> None:
        super().__init__()
        if reactor is None:
            from twisted.internet import reactor as global_reactor

            reactor = global_reactor
        self.reactor = reactor
        self.settings = settings
        self.config_path = config_path
        self.users = users if users is not None else demo_users()
        self.demo = users is None
        # --store may have changed the kind: the file's options apply to their kind only
        self.store = open_store(settings.store, reactor, settings.store_options)
        server = settings.server
        self.authenticator = UsersAuthenticator(
            self.users,
            reactor=reactor,
            max_verifications=server.max_verifications,
            max_verifications_per_host=server.max_verifications_per_host,
        )
        self.events = EventBus(reactor)
        self.smsc = Smsc(
            reactor,
            self.store,
            self.authenticator,
            config=settings.server,
            events=self.events,
            penalty=BindPenalty(reactor, **attrs.asdict(server.bind_penalty)),
        )
        self.factory = SmscFactory(self.smsc)
        for target in settings.webhooks:
            webhook = EventWebhook(target, reactor, events=target.events)
            webhook.setServiceParent(self)
            self.events.add_observer(webhook)
        self.ports: list[Any] = []
        # SIGHUP: the files are read (and clear-text passwords hashed) in a thread,
        # never on the reactor thread, where it would stall every session.
        self.reloader: SighupReload[tuple[ServerSettings, Users | None]] = SighupReload(
            reactor, self._read_settings, self._apply_settings, log=log, expected=(ConfigError, UsersFileError)
        )
        self.ready = False

    def setServiceParent(self, parent: Any) -> None:
        """Under twistd, log as the configuration's ``log`` section says
        (embedded in another application, that application owns logging)."""
        if self.settings.log is not None:  # else twistd's own --logfile / --syslog
            attach_observer(parent, make_observer(self.settings.log))
        super().setServiceParent(parent)

    def privilegedStartService(self) -> None:
        """Listen now (before privileges are dropped, and so that a port that
        cannot be had ends the start with one line); accept nothing until the
        store is recovered."""
        for i, spec in enumerate(self.settings.listen):
            result: list[Any] = []
            try:
                endpoints.serverFromString(self.reactor, spec).listen(self.factory).addBoth(result.append)
            except Exception as e:  # an endpoint string that parsed but cannot be built
                result.append(Failure(e))
            if not result:
                fail(f"listen[{i}] {spec}: the endpoint did not listen at once")
            if isinstance(result[0], Failure):
                fail(f"listen[{i}] {spec}: cannot listen: {result[0].getErrorMessage()}")
            port = result[0]
            pause = getattr(port, "pauseProducing", None)
            if pause is not None:
                pause()
            self.ports.append(port)
        super().privilegedStartService()

    @inlineCallbacks
    def startService(self) -> Any:
        super().startService()
        self.reloader.install()  # early: a SIGHUP during start-up must not kill us
        if self.demo:
            log.warn(
                "demo users are active ({users}): configure users_file before real use",
                users=", ".join(self.users.system_ids),
            )
        elif self.users.plaintext_users:
            log.warn(
                "clear-text passwords in the users file for: {users} (use password_hash)",
                users=", ".join(self.users.plaintext_users),
            )
        try:
            yield self.store.open()
            yield self.smsc.start()
        except Exception as e:
            log.failure("the store could not be opened")
            sys.stderr.write(f"smpp-server: store {self.settings.store}: {e}\n")
            sys.stderr.flush()
            os._exit(2)  # nothing is running yet: no state to save
        for port in self.ports:
            resume = getattr(port, "resumeProducing", None)
            if resume is not None:
                resume()
            address = port.getHost()
            log.info(
                "smpp-server {system_id} listening on {host}:{port} (store {store})",
                system_id=self.settings.server.system_id,
                host=getattr(address, "host", "?"),
                port=getattr(address, "port", "?"),
                store=self.settings.store,
            )
        self.ready = True
        tune_gc()
        if self.settings.http:
            yield self._listen_http(self.settings.http)

    @inlineCallbacks
    def _listen_http(self, spec: str) -> Any:
        site, self.registry = build_site(self.smsc, lambda: self.ready)
        try:
            port = yield endpoints.serverFromString(self.reactor, spec).listen(site)
        except Exception as e:
            # SMPP matters more than metrics: keep serving, say so loudly.
            log.error("HTTP endpoint {spec} could not listen: {error}", spec=spec, error=str(e))
            return
        self.ports.append(port)
        address = port.getHost()
        log.info(
            "metrics and health on http://{host}:{port}/metrics",
            host=getattr(address, "host", "?"),
            port=getattr(address, "port", "?"),
        )

    def reload(self) -> Deferred[None]:
        """Re-read the config and users files (in a thread); keep the old
        settings on error (SIGHUP calls this)."""
        return self.reloader.reload()

    def _read_settings(self) -> tuple[ServerSettings, Users | None]:
        settings = load_server_config(self.config_path) if self.config_path else self.settings
        users = load_users(settings.users_file) if settings.users_file else None
        return settings, users

    def _apply_settings(self, loaded: tuple[ServerSettings, Users | None]) -> None:
        settings, users = loaded
        if users is not None:
            self.authenticator.reload(users)
            self.smsc.users_reloaded(users)
        server = settings.server
        self.authenticator.max_verifications = server.max_verifications
        self.authenticator.max_verifications_per_host = server.max_verifications_per_host
        penalty = self.smsc.penalty
        if penalty is not None:
            for key, value in attrs.asdict(server.bind_penalty).items():
                setattr(penalty, key, value)
        # Listening endpoints, the store, the HTTP endpoint, logging and webhooks
        # need a restart to change; everything else applies from now on.
        self.smsc.reconfigure(server)
        # Sessions of accounts the new users no longer admit are unbound.
        self.smsc.revoke_sessions(self.authenticator.still_admits)
        log.info("configuration reloaded from {source}", source=settings.source)

    @inlineCallbacks
    def stopService(self) -> Any:
        self.ready = False
        self.reloader.uninstall()
        ports, self.ports = self.ports, []
        yield DeferredList([maybe_deferred(p.stopListening) for p in ports])
        yield self.smsc.stop()
        yield super().stopService()
        log.info("smpp-server stopped")


def makeService(options: Options) -> SmscService:
    return SmscService(options["settings"], options["users"], config_path=options["config"])
