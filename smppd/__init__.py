"""smppd: an SMPP v3.4 SMSC server and ESME client on Twisted."""

__version__ = "0.1.0.dev0"
