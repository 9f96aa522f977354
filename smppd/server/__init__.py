"""The SMSC side: bind and auth, message handling, routing, receipts,
store-and-forward."""
