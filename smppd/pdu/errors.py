"""The codec's exceptions."""

from __future__ import annotations

from smppd.pdu.constants import CommandStatus, status_name


class PduDecodeError(Exception):
    """Bytes that cannot be read as a PDU.

    Carries what is needed to answer the peer: ``command_status`` (the status to
    answer with), ``sequence_number`` (``None`` when it could not be read) and
    ``command_id`` (``None`` when unknown). ``fatal`` is true when the stream
    itself can no longer be trusted (a bad command_length loses PDU boundaries).
    """

    def __init__(
        self,
        command_status: int,
        message: str,
        *,
        sequence_number: int | None = None,
        command_id: int | None = None,
        fatal: bool = False,
    ) -> None:
        super().__init__(message)
        self.command_status = command_status
        self.sequence_number = sequence_number
        self.command_id = command_id
        self.fatal = fatal

    def __repr__(self) -> str:
        return (
            f"PduDecodeError({status_name(self.command_status)}, {self.args[0]!r}, "
            f"sequence_number={self.sequence_number!r}, command_id={self.command_id!r})"
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, PduDecodeError):
            return NotImplemented
        return (
            self.command_status,
            self.sequence_number,
            self.command_id,
            self.fatal,
        ) == (other.command_status, other.sequence_number, other.command_id, other.fatal)

    __hash__ = None  # type: ignore[assignment]


class PduEncodeError(ValueError):
    """A PDU whose fields cannot be written as valid SMPP v3.4.

    ``field`` names the offending field; ``command_status`` is the status a
    server would answer for the same mistake in a request it received.
    """

    def __init__(
        self, field: str, message: str, command_status: int = CommandStatus.ESME_RSYSERR
    ) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.command_status = command_status
