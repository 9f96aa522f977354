"""The one exception type every store fails with."""

from __future__ import annotations


class StoreError(Exception):
    """A store operation failed: a broken contract (duplicate id, unknown
    message), a store that is closed or failed to open, or an I/O error.

    Its message is one line meant for an operator's log; it never contains a
    message body.
    """
