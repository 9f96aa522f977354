"""Certificates made in the test, and a TCP relay that records the bytes on the wire.

:func:`make_pki` writes a private CA, a server certificate for ``127.0.0.1``
and ``localhost`` signed by it, a client certificate (for mutual TLS) signed
by it, and a self-signed certificate of a stranger (for "untrusted
certificate refused") into a directory, as PEM files. Keys are EC P-256:
quick to make.

:class:`WireTap` listens on 127.0.0.1 port 0 and relays every connection to
a target port, keeping the bytes that went each way: put it between a TLS
client and a TLS server and assert that what crossed the wire has no
clear text in it.
"""

from __future__ import annotations

import datetime
import hashlib
import ipaddress
from pathlib import Path
from typing import Any

import attrs
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from twisted.internet.defer import Deferred, DeferredList, inlineCallbacks
from twisted.internet.endpoints import TCP4ClientEndpoint, TCP4ServerEndpoint
from twisted.internet.protocol import Factory, Protocol, connectionDone
from twisted.python.failure import Failure

HOST = "127.0.0.1"


@attrs.frozen
class Pki:
    """File paths (str) of what :func:`make_pki` wrote."""

    ca_cert: str
    server_cert: str  # the certificate alone
    server_key: str
    server_pem: str  # key and certificate in one file (what ssl:certKey= and tls:clientCertificate= take)
    client_cert: str
    client_key: str
    client_pem: str
    stranger_pem: str  # self-signed, for 127.0.0.1 too: trusted by nobody
    stranger_cert: str
    server_fingerprint: str  # SHA-256 of the server certificate's DER, hex with colons


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _cert(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: str,
    issuer_key: ec.EllipticCurvePrivateKey,
    *,
    ca: bool = False,
    server: bool = False,
    client: bool = False,
) -> x509.Certificate:
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(_name(issuer))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    if ca:
        builder = builder.add_extension(
            x509.KeyUsage(
                digital_signature=True, content_commitment=False, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
                encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )  # fmt: skip
    if server:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address(HOST))]),
            critical=False,
        )
    usages = [ExtendedKeyUsageOID.SERVER_AUTH] * server + [ExtendedKeyUsageOID.CLIENT_AUTH] * client
    if usages:
        builder = builder.add_extension(x509.ExtendedKeyUsage(usages), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())


def _pem_cert(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def make_pki(directory: Path) -> Pki:
    """A CA, a server and a client certificate it signed, and a stranger's, in ``directory``."""
    ca_key, server_key, client_key, stranger_key = _key(), _key(), _key(), _key()
    ca = _cert("smppd test CA", ca_key, "smppd test CA", ca_key, ca=True)
    server = _cert("localhost", server_key, "smppd test CA", ca_key, server=True)
    client = _cert("esme-client", client_key, "smppd test CA", ca_key, client=True)
    stranger = _cert("localhost", stranger_key, "localhost", stranger_key, server=True, client=True)

    def write(name: str, data: bytes) -> str:
        path = directory / name
        path.write_bytes(data)
        return str(path)

    digest = hashlib.sha256(server.public_bytes(serialization.Encoding.DER)).hexdigest().upper()
    return Pki(
        ca_cert=write("ca.pem", _pem_cert(ca)),
        server_cert=write("server.crt", _pem_cert(server)),
        server_key=write("server.key", _pem_key(server_key)),
        server_pem=write("server.pem", _pem_key(server_key) + _pem_cert(server)),
        client_cert=write("client.crt", _pem_cert(client)),
        client_key=write("client.key", _pem_key(client_key)),
        client_pem=write("client.pem", _pem_key(client_key) + _pem_cert(client)),
        stranger_pem=write("stranger.pem", _pem_key(stranger_key) + _pem_cert(stranger)),
        stranger_cert=write("stranger.crt", _pem_cert(stranger)),
        server_fingerprint=":".join(digest[i : i + 2] for i in range(0, len(digest), 2)),
    )


# -- the wire tap ----------------------------------------------------------------------


class _Side(Protocol):
    def __init__(self, tap: WireTap, record: bytearray) -> None:
        self.tap = tap
        self.record = record
        self.peer: _Side | None = None
        self.pending: list[bytes] = []
        self.closed: Deferred[None] = Deferred()

    def dataReceived(self, data: bytes) -> None:
        self.record += data
        if self.peer is not None and self.peer.transport is not None:
            self.peer.transport.write(data)
        else:
            self.pending.append(data)

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        if self.peer is not None and self.peer.transport is not None:
            self.peer.transport.loseConnection()
        self.closed.callback(None)


class WireTap:
    """A TCP relay from a port of its own to ``target_port``, keeping the bytes.

    ``to_server`` holds every byte clients sent, ``to_client`` every byte the
    target sent back, over all connections."""

    def __init__(self, reactor: Any, target_port: int) -> None:
        self.reactor = reactor
        self.target_port = target_port
        self.to_server = bytearray()
        self.to_client = bytearray()
        self.sides: list[_Side] = []
        self.port: Any = None

    @inlineCallbacks
    def start(self) -> Any:
        self.port = yield TCP4ServerEndpoint(self.reactor, 0, interface=HOST).listen(Factory.forProtocol(self._accepted))
        return self.port.getHost().port

    def _accepted(self) -> _Side:
        inbound = _Side(self, self.to_server)
        outbound = _Side(self, self.to_client)
        inbound.peer, outbound.peer = outbound, inbound
        self.sides += [inbound, outbound]

        def connected(_: object) -> None:
            for data in inbound.pending:
                outbound.transport.write(data)  # type: ignore[union-attr]
            inbound.pending = []

        def failed(_: Failure) -> None:
            if inbound.transport is not None:
                inbound.transport.loseConnection()
            outbound.closed.callback(None)

        endpoint = TCP4ClientEndpoint(self.reactor, HOST, self.target_port)
        endpoint.connect(Factory.forProtocol(lambda: outbound)).addCallbacks(connected, failed)
        return inbound

    @property
    def wire(self) -> bytes:
        """Everything that crossed, both ways."""
        return bytes(self.to_server) + bytes(self.to_client)

    @inlineCallbacks
    def stop(self) -> Any:
        if self.port is not None:
            yield self.port.stopListening()
        for side in self.sides:
            if side.transport is not None:
                side.transport.loseConnection()
        yield DeferredList([s.closed for s in self.sides])
