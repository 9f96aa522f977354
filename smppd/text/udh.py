"""User Data Header (3GPP TS 23.040 §9.2.3.24): build and parse.

A UDH sits at the start of the user data (``short_message`` or ``message_payload``) when
esm_class has the UDHI bit (0x40) set::

    UDHL | IEI IEDL data... | IEI IEDL data... | ...

UDHL counts the information-element octets that follow it (not itself).  Parsing keeps every
IE byte for byte, in order, including IEIs this module knows nothing about, so a header can be
re-emitted unchanged.  Interpretation (concatenation, ports, national language shifts) is done
lazily by the properties of :class:`Udh`; an IE whose length is wrong for its IEI is ignored by
those properties (23.040: a receiver ignores an IE it cannot interpret), never an error.

Pure: imports nothing from Twisted.
"""

from __future__ import annotations

from collections.abc import Iterable

import attrs

__all__ = [
    "IEI_CONCAT_8BIT",
    "IEI_CONCAT_16BIT",
    "IEI_LOCKING_SHIFT",
    "IEI_PORTS_8BIT",
    "IEI_PORTS_16BIT",
    "IEI_SINGLE_SHIFT",
    "Concat",
    "InformationElement",
    "Ports",
    "Udh",
    "UdhError",
    "build_udh",
    "concat_ie",
    "fill_bits",
    "locking_shift_ie",
    "parse_ies",
    "parse_udh",
    "ports_ie",
    "single_shift_ie",
]

IEI_CONCAT_8BIT = 0x00
IEI_PORTS_8BIT = 0x04
IEI_PORTS_16BIT = 0x05
IEI_CONCAT_16BIT = 0x08
IEI_SINGLE_SHIFT = 0x24
IEI_LOCKING_SHIFT = 0x25

#: UDHL is one octet.
MAX_UDHL = 255


class UdhError(ValueError):
    """The octets do not hold a well-formed User Data Header."""


@attrs.frozen
class InformationElement:
    """One IE: identifier and its data (IEDL is ``len(data)``)."""

    iei: int = attrs.field(validator=attrs.validators.and_(attrs.validators.ge(0), attrs.validators.le(0xFF)))
    data: bytes = attrs.field(converter=bytes)

    @data.validator
    def _check_data(self, _attribute: attrs.Attribute[bytes], value: bytes) -> None:
        if len(value) > 0xFF:
            raise UdhError(f"IE 0x{self.iei:02X} data is {len(value)} octets; IEDL is one octet")

    def to_bytes(self) -> bytes:
        return bytes((self.iei, len(self.data))) + self.data


@attrs.frozen
class Concat:
    """Concatenation info: ``reference`` is 8-bit (IEI 0x00) or 16-bit (IEI 0x08)."""

    reference: int
    total: int
    seq: int
    reference_bits: int = 8


@attrs.frozen
class Ports:
    """Application port addressing (IEI 0x04 8-bit, 0x05 16-bit)."""

    destination: int
    originator: int
    bits: int = 16


def _ie_tuple(ies: Iterable[InformationElement]) -> tuple[InformationElement, ...]:
    return tuple(ies)


@attrs.frozen
class Udh:
    """A parsed (or to-be-built) User Data Header: its IEs in wire order."""

    ies: tuple[InformationElement, ...] = attrs.field(default=(), converter=_ie_tuple)

    def to_bytes(self) -> bytes:
        """UDHL followed by the IEs."""
        return build_udh(self.ies)

    @property
    def size(self) -> int:
        """Octets on the wire, UDHL included."""
        return 1 + sum(2 + len(ie.data) for ie in self.ies)

    def find(self, iei: int) -> InformationElement | None:
        """The last IE with this IEI (23.040: a repeated IE's last occurrence wins)."""
        for ie in reversed(self.ies):
            if ie.iei == iei:
                return ie
        return None

    @property
    def concat(self) -> Concat | None:
        """Concatenation info, or None.

        None also when the IE is malformed or meaningless (total 0, seq 0, seq > total): 23.040
        tells the receiver to ignore such an IE and treat the message as a single one.
        """
        for ie in reversed(self.ies):
            if ie.iei == IEI_CONCAT_8BIT and len(ie.data) == 3:
                ref, total, seq = ie.data
                bits = 8
            elif ie.iei == IEI_CONCAT_16BIT and len(ie.data) == 4:
                ref = int.from_bytes(ie.data[:2], "big")
                total, seq = ie.data[2], ie.data[3]
                bits = 16
            else:
                continue
            if total == 0 or seq == 0 or seq > total:
                return None
            return Concat(reference=ref, total=total, seq=seq, reference_bits=bits)
        return None

    @property
    def ports(self) -> Ports | None:
        """Application ports, or None (also when the IE is malformed)."""
        for ie in reversed(self.ies):
            if ie.iei == IEI_PORTS_16BIT and len(ie.data) == 4:
                return Ports(
                    destination=int.from_bytes(ie.data[:2], "big"),
                    originator=int.from_bytes(ie.data[2:], "big"),
                    bits=16,
                )
            if ie.iei == IEI_PORTS_8BIT and len(ie.data) == 2:
                return Ports(destination=ie.data[0], originator=ie.data[1], bits=8)
        return None

    @property
    def single_shift(self) -> int:
        """National language single-shift table id (IEI 0x24); 0 when absent."""
        return self._language(IEI_SINGLE_SHIFT)

    @property
    def locking_shift(self) -> int:
        """National language locking-shift table id (IEI 0x25); 0 when absent."""
        return self._language(IEI_LOCKING_SHIFT)

    def _language(self, iei: int) -> int:
        ie = self.find(iei)
        if ie is None or len(ie.data) != 1:
            return 0
        return ie.data[0]


def parse_ies(data: bytes) -> tuple[InformationElement, ...]:
    """Parse a run of IEs (no UDHL) that must end exactly at the end of ``data``."""
    ies: list[InformationElement] = []
    offset = 0
    end = len(data)
    while offset < end:
        if offset + 2 > end:
            raise UdhError(f"truncated IE header at offset {offset}: IEI 0x{data[offset]:02X} has no IEDL")
        iei, iedl = data[offset], data[offset + 1]
        if offset + 2 + iedl > end:
            raise UdhError(
                f"IE 0x{iei:02X} at offset {offset} declares {iedl} octets, "
                f"only {end - offset - 2} left in the header"
            )
        ies.append(InformationElement(iei, data[offset + 2 : offset + 2 + iedl]))
        offset += 2 + iedl
    return tuple(ies)


def parse_udh(data: bytes) -> tuple[Udh, bytes]:
    """Split user data into its UDH and the rest (the text or binary payload).

    Raises :class:`UdhError` when there is no UDHL octet, UDHL runs past the data, or an IE is
    truncated.
    """
    if not data:
        raise UdhError("UDHI set but the user data is empty (no UDHL octet)")
    udhl = data[0]
    if 1 + udhl > len(data):
        raise UdhError(f"UDHL is {udhl} but only {len(data) - 1} octets follow it")
    ies = parse_ies(bytes(data[1 : 1 + udhl]))
    return Udh(ies), bytes(data[1 + udhl :])


def build_udh(ies: Iterable[InformationElement]) -> bytes:
    """UDHL + the IEs, in the given order.  An empty iterable gives ``b"\\x00"``."""
    body = b"".join(ie.to_bytes() for ie in ies)
    if len(body) > MAX_UDHL:
        raise UdhError(f"UDH IEs take {len(body)} octets; UDHL is one octet")
    return bytes((len(body),)) + body


def concat_ie(reference: int, total: int, seq: int, *, reference_bits: int = 8) -> InformationElement:
    """Concatenation IE: IEI 0x00 (8-bit reference) or 0x08 (16-bit reference)."""
    if not 1 <= total <= 255:
        raise ValueError(f"concatenation total must be 1..255, not {total}")
    if not 1 <= seq <= total:
        raise ValueError(f"concatenation seq must be 1..{total}, not {seq}")
    if reference_bits == 8:
        if not 0 <= reference <= 0xFF:
            raise ValueError(f"8-bit concatenation reference must be 0..255, not {reference}")
        return InformationElement(IEI_CONCAT_8BIT, bytes((reference, total, seq)))
    if reference_bits == 16:
        if not 0 <= reference <= 0xFFFF:
            raise ValueError(f"16-bit concatenation reference must be 0..65535, not {reference}")
        return InformationElement(IEI_CONCAT_16BIT, reference.to_bytes(2, "big") + bytes((total, seq)))
    raise ValueError(f"reference_bits must be 8 or 16, not {reference_bits}")


def ports_ie(destination: int, originator: int, *, bits: int = 16) -> InformationElement:
    """Application port addressing IE: IEI 0x05 (16-bit, the usual one) or 0x04 (8-bit)."""
    if bits == 16:
        limit, iei = 0xFFFF, IEI_PORTS_16BIT
    elif bits == 8:
        limit, iei = 0xFF, IEI_PORTS_8BIT
    else:
        raise ValueError(f"port bits must be 8 or 16, not {bits}")
    for name, port in (("destination", destination), ("originator", originator)):
        if not 0 <= port <= limit:
            raise ValueError(f"{bits}-bit {name} port must be 0..{limit}, not {port}")
    size = bits // 8
    return InformationElement(iei, destination.to_bytes(size, "big") + originator.to_bytes(size, "big"))


def single_shift_ie(language: int) -> InformationElement:
    """National language single-shift IE (0x24)."""
    return InformationElement(IEI_SINGLE_SHIFT, bytes((language,)))


def locking_shift_ie(language: int) -> InformationElement:
    """National language locking-shift IE (0x25)."""
    return InformationElement(IEI_LOCKING_SHIFT, bytes((language,)))


def fill_bits(udh_octets: int) -> int:
    """Fill bits after a UDH of ``udh_octets`` (UDHL included) in packed GSM 7-bit user data.

    They put the first text septet on a septet boundary counted from the start of the user
    data: ``(7 - (8 * udh_octets) % 7) % 7`` -- 1 for a 6-octet UDH, 0 for 7 octets.
    """
    return (7 - (8 * udh_octets) % 7) % 7
