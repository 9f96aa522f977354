"""twistd plugins of smppd (imports nothing heavy: the tap modules load on use)."""

from twisted.application.service import ServiceMaker

smpp_server = ServiceMaker(
    "smppd SMSC", "smppd.tap.server", "SMPP v3.4 SMSC server (smppd).", "smpp-server"
)
smpp_client = ServiceMaker(
    "smppd ESME client", "smppd.tap.client", "SMPP v3.4 ESME client with an HTTP API (smppd).", "smpp-client"
)
