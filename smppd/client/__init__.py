"""The ESME side: a reconnecting, windowed SMPP client.

:class:`~smppd.client.client.SmppClient` keeps one or more binds up (Twisted's
``ClientService``: bind in ``prepareConnection``, back-off with jitter,
failover between SMSC endpoints), sends through a window with throttling and
rate limits, splits long text, tracks delivery receipts and hands incoming
messages to the application.
"""

from smppd.client.client import SendError, SmppClient
from smppd.client.config import ClientConfig, ReconnectPolicy
from smppd.client.protocol import EsmeProtocol
from smppd.client.receipts import MessageOutcome, ReceiptTracker

__all__ = [
    "ClientConfig",
    "EsmeProtocol",
    "MessageOutcome",
    "ReceiptTracker",
    "ReconnectPolicy",
    "SendError",
    "SmppClient",
]
