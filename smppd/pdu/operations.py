"""One frozen attrs class per SMPP v3.4 operation.

Attributes carry the spec's field names. Lengths that the wire derives from
another field (``sm_length``, ``number_of_dests``, ``no_unsuccess``) are
read-only properties, so a PDU can never disagree with itself. C-Octet strings
are ``str`` (one character per octet, Latin-1 on the wire), Octet strings are
``bytes``, and time fields are the raw 16-character SMPP time string or ``""``
for NULL (see :mod:`smppd.pdu.timefmt`). Optional parameters live in ``tlvs``
and every known one is also readable by name (``pdu.message_payload``), None
when absent.
"""

from __future__ import annotations

from typing import Any, ClassVar

import attrs

from smppd.pdu.constants import INTERFACE_VERSION_34, CommandId, CommandStatus, DestFlag
from smppd.pdu.tlv import EMPTY, TLV_BY_NAME, Tlvs, decode_value, to_tlvs

S = CommandStatus


@attrs.frozen
class FieldCodec:
    """How one mandatory field sits on the wire (read by :mod:`smppd.pdu.codec`).

    ``kind``: ``"c"`` C-Octet string of at most ``size`` octets including the
    NUL; ``"t"`` time string (NULL or 16 characters); ``"i1"`` one-octet
    integer; ``"sm"`` sm_length + short_message; ``"dests"`` submit_multi's
    number_of_dests + dest_address list; ``"unsuccess"`` submit_multi_resp's
    no_unsuccess + unsuccess_sme list. ``status`` is the command_status that
    answers a bad value in this field.
    """

    kind: str
    size: int = 0
    status: int = S.ESME_RSYSERR
    read_size: int = 0  # a larger maximum accepted when reading (0: same as size)

    @property
    def read_limit(self) -> int:
        return self.read_size or self.size


_SMPP = "smpp"


def _c(size: int, status: int = S.ESME_RSYSERR, read_size: int = 0) -> Any:
    return attrs.field(default="", metadata={_SMPP: FieldCodec("c", size, status, read_size)})


def _t(status: int) -> Any:
    return attrs.field(default="", metadata={_SMPP: FieldCodec("t", 17, status)})


def _i1(default: int = 0, status: int = S.ESME_RSYSERR) -> Any:
    return attrs.field(default=default, metadata={_SMPP: FieldCodec("i1", 1, status)})


def _sm() -> Any:
    return attrs.field(default=b"", metadata={_SMPP: FieldCodec("sm", 254, S.ESME_RINVMSGLEN)})


def _tlv(name: str) -> Any:
    defn = TLV_BY_NAME[name]
    tag = defn.tag

    def get(self: Pdu) -> Any:
        for t, v in self.tlvs:
            if t == tag:
                return decode_value(defn, v)
        return None

    get.__name__ = name
    get.__doc__ = f"Optional parameter {name} (0x{tag:04X}), None when absent."
    return property(get)


def _to_tuple(value: Any) -> tuple[Any, ...]:
    return tuple(value)


def codec_fields(cls: type) -> tuple[tuple[str, FieldCodec], ...]:
    """The mandatory body fields of a PDU class, in wire order."""
    return tuple(
        (f.name, f.metadata[_SMPP]) for f in attrs.fields(cls) if _SMPP in f.metadata
    )


@attrs.frozen(kw_only=True)
class Pdu:
    """Base of every PDU: header fields and optional parameters."""

    command_id: ClassVar[int]
    response_class: ClassVar[type[Pdu] | None] = None

    sequence_number: int = 0
    command_status: int = 0
    tlvs: Tlvs = attrs.field(default=EMPTY, converter=to_tlvs)

    @property
    def is_response(self) -> bool:
        return bool(self.command_id & 0x80000000)

    def response(self, **fields: Any) -> Pdu:
        """This request's response, with the same sequence_number."""
        cls = self.response_class
        if cls is None:
            raise TypeError(f"{type(self).__name__} has no response PDU")
        return cls(sequence_number=self.sequence_number, **fields)

    # Every known optional parameter, readable by its spec name.
    dest_addr_subunit = _tlv("dest_addr_subunit")
    dest_network_type = _tlv("dest_network_type")
    dest_bearer_type = _tlv("dest_bearer_type")
    dest_telematics_id = _tlv("dest_telematics_id")
    source_addr_subunit = _tlv("source_addr_subunit")
    source_network_type = _tlv("source_network_type")
    source_bearer_type = _tlv("source_bearer_type")
    source_telematics_id = _tlv("source_telematics_id")
    qos_time_to_live = _tlv("qos_time_to_live")
    payload_type = _tlv("payload_type")
    additional_status_info_text = _tlv("additional_status_info_text")
    receipted_message_id = _tlv("receipted_message_id")
    ms_msg_wait_facilities = _tlv("ms_msg_wait_facilities")
    privacy_indicator = _tlv("privacy_indicator")
    source_subaddress = _tlv("source_subaddress")
    dest_subaddress = _tlv("dest_subaddress")
    user_message_reference = _tlv("user_message_reference")
    user_response_code = _tlv("user_response_code")
    source_port = _tlv("source_port")
    destination_port = _tlv("destination_port")
    sar_msg_ref_num = _tlv("sar_msg_ref_num")
    language_indicator = _tlv("language_indicator")
    sar_total_segments = _tlv("sar_total_segments")
    sar_segment_seqnum = _tlv("sar_segment_seqnum")
    sc_interface_version = _tlv("sc_interface_version")
    callback_num_pres_ind = _tlv("callback_num_pres_ind")
    callback_num_atag = _tlv("callback_num_atag")
    number_of_messages = _tlv("number_of_messages")
    callback_num = _tlv("callback_num")
    dpf_result = _tlv("dpf_result")
    set_dpf = _tlv("set_dpf")
    ms_availability_status = _tlv("ms_availability_status")
    network_error_code = _tlv("network_error_code")
    message_payload = _tlv("message_payload")
    delivery_failure_reason = _tlv("delivery_failure_reason")
    more_messages_to_send = _tlv("more_messages_to_send")
    message_state = _tlv("message_state")
    congestion_state = _tlv("congestion_state")
    ussd_service_op = _tlv("ussd_service_op")
    display_time = _tlv("display_time")
    sms_signal = _tlv("sms_signal")
    ms_validity = _tlv("ms_validity")
    alert_on_message_delivery = _tlv("alert_on_message_delivery")
    its_reply_type = _tlv("its_reply_type")
    its_session_info = _tlv("its_session_info")


# -- header-only PDUs -------------------------------------------------------


@attrs.frozen(kw_only=True)
class GenericNack(Pdu):
    command_id = CommandId.generic_nack


@attrs.frozen(kw_only=True)
class UnbindResp(Pdu):
    command_id = CommandId.unbind_resp


@attrs.frozen(kw_only=True)
class Unbind(Pdu):
    command_id = CommandId.unbind
    response_class = UnbindResp


@attrs.frozen(kw_only=True)
class EnquireLinkResp(Pdu):
    command_id = CommandId.enquire_link_resp


@attrs.frozen(kw_only=True)
class EnquireLink(Pdu):
    command_id = CommandId.enquire_link
    response_class = EnquireLinkResp


# -- binds ------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class _BindResp(Pdu):
    system_id: str = _c(16, S.ESME_RINVSYSID)


@attrs.frozen(kw_only=True)
class _Bind(Pdu):
    system_id: str = _c(16, S.ESME_RINVSYSID)
    # C(9) in 3.4, but ESMEs with longer passwords exist and many SMSCs accept
    # them: read up to 64 characters, write at most 8.
    password: str = _c(9, S.ESME_RINVPASWD, read_size=65)
    system_type: str = _c(13, S.ESME_RINVSYSTYP)
    interface_version: int = _i1(INTERFACE_VERSION_34, S.ESME_RBINDFAIL)
    addr_ton: int = _i1(0, S.ESME_RBINDFAIL)
    addr_npi: int = _i1(0, S.ESME_RBINDFAIL)
    address_range: str = _c(41, S.ESME_RBINDFAIL)


@attrs.frozen(kw_only=True)
class BindReceiverResp(_BindResp):
    command_id = CommandId.bind_receiver_resp


@attrs.frozen(kw_only=True)
class BindReceiver(_Bind):
    command_id = CommandId.bind_receiver
    response_class = BindReceiverResp


@attrs.frozen(kw_only=True)
class BindTransmitterResp(_BindResp):
    command_id = CommandId.bind_transmitter_resp


@attrs.frozen(kw_only=True)
class BindTransmitter(_Bind):
    command_id = CommandId.bind_transmitter
    response_class = BindTransmitterResp


@attrs.frozen(kw_only=True)
class BindTransceiverResp(_BindResp):
    command_id = CommandId.bind_transceiver_resp


@attrs.frozen(kw_only=True)
class BindTransceiver(_Bind):
    command_id = CommandId.bind_transceiver
    response_class = BindTransceiverResp


@attrs.frozen(kw_only=True)
class Outbind(Pdu):
    command_id = CommandId.outbind
    system_id: str = _c(16, S.ESME_RINVSYSID)
    # C(9) in 3.4, but ESMEs with longer passwords exist and many SMSCs accept
    # them: read up to 64 characters, write at most 8.
    password: str = _c(9, S.ESME_RINVPASWD, read_size=65)


# -- short messages -----------------------------------------------------------


@attrs.frozen(kw_only=True)
class _MessageIdResp(Pdu):
    message_id: str = _c(65, S.ESME_RINVMSGID)


@attrs.frozen(kw_only=True)
class _ShortMessage(Pdu):
    """The submit_sm / deliver_sm body (identical layouts)."""

    service_type: str = _c(6, S.ESME_RINVSERTYP)
    source_addr_ton: int = _i1(0, S.ESME_RINVSRCTON)
    source_addr_npi: int = _i1(0, S.ESME_RINVSRCNPI)
    source_addr: str = _c(21, S.ESME_RINVSRCADR)
    dest_addr_ton: int = _i1(0, S.ESME_RINVDSTTON)
    dest_addr_npi: int = _i1(0, S.ESME_RINVDSTNPI)
    destination_addr: str = _c(21, S.ESME_RINVDSTADR)
    esm_class: int = _i1(0, S.ESME_RINVESMCLASS)
    protocol_id: int = _i1(0)
    priority_flag: int = _i1(0, S.ESME_RINVPRTFLG)
    schedule_delivery_time: str = _t(S.ESME_RINVSCHED)
    validity_period: str = _t(S.ESME_RINVEXPIRY)
    registered_delivery: int = _i1(0, S.ESME_RINVREGDLVFLG)
    replace_if_present_flag: int = _i1(0, S.ESME_RINVREPFLAG)
    data_coding: int = _i1(0)
    sm_default_msg_id: int = _i1(0, S.ESME_RINVDFTMSGID)
    short_message: bytes = _sm()

    @property
    def sm_length(self) -> int:
        return len(self.short_message)


@attrs.frozen(kw_only=True)
class SubmitSmResp(_MessageIdResp):
    command_id = CommandId.submit_sm_resp


@attrs.frozen(kw_only=True)
class SubmitSm(_ShortMessage):
    command_id = CommandId.submit_sm
    response_class = SubmitSmResp


@attrs.frozen(kw_only=True)
class DeliverSmResp(_MessageIdResp):
    command_id = CommandId.deliver_sm_resp


@attrs.frozen(kw_only=True)
class DeliverSm(_ShortMessage):
    command_id = CommandId.deliver_sm
    response_class = DeliverSmResp


@attrs.frozen
class DestAddress:
    """One SME address in submit_multi (dest_flag 1)."""

    dest_flag: ClassVar[int] = DestFlag.SME_ADDRESS
    destination_addr: str
    dest_addr_ton: int = 0
    dest_addr_npi: int = 0


@attrs.frozen
class DistributionList:
    """One distribution list name in submit_multi (dest_flag 2)."""

    dest_flag: ClassVar[int] = DestFlag.DISTRIBUTION_LIST
    dl_name: str


@attrs.frozen
class UnsuccessSme:
    """One failed destination in submit_multi_resp."""

    destination_addr: str
    error_status_code: int
    dest_addr_ton: int = 0
    dest_addr_npi: int = 0


@attrs.frozen(kw_only=True)
class SubmitMultiResp(Pdu):
    command_id = CommandId.submit_multi_resp
    message_id: str = _c(65, S.ESME_RINVMSGID)
    unsuccess_smes: tuple[UnsuccessSme, ...] = attrs.field(
        default=(), converter=_to_tuple, metadata={_SMPP: FieldCodec("unsuccess", 254)}
    )

    @property
    def no_unsuccess(self) -> int:
        return len(self.unsuccess_smes)


@attrs.frozen(kw_only=True)
class SubmitMulti(Pdu):
    command_id = CommandId.submit_multi
    response_class = SubmitMultiResp
    service_type: str = _c(6, S.ESME_RINVSERTYP)
    source_addr_ton: int = _i1(0, S.ESME_RINVSRCTON)
    source_addr_npi: int = _i1(0, S.ESME_RINVSRCNPI)
    source_addr: str = _c(21, S.ESME_RINVSRCADR)
    dest_addresses: tuple[DestAddress | DistributionList, ...] = attrs.field(
        default=(),
        converter=_to_tuple,
        metadata={_SMPP: FieldCodec("dests", 254, S.ESME_RINVNUMDESTS)},
    )
    esm_class: int = _i1(0, S.ESME_RINVESMCLASS)
    protocol_id: int = _i1(0)
    priority_flag: int = _i1(0, S.ESME_RINVPRTFLG)
    schedule_delivery_time: str = _t(S.ESME_RINVSCHED)
    validity_period: str = _t(S.ESME_RINVEXPIRY)
    registered_delivery: int = _i1(0, S.ESME_RINVREGDLVFLG)
    replace_if_present_flag: int = _i1(0, S.ESME_RINVREPFLAG)
    data_coding: int = _i1(0)
    sm_default_msg_id: int = _i1(0, S.ESME_RINVDFTMSGID)
    short_message: bytes = _sm()

    @property
    def number_of_dests(self) -> int:
        return len(self.dest_addresses)

    @property
    def sm_length(self) -> int:
        return len(self.short_message)


@attrs.frozen(kw_only=True)
class DataSmResp(_MessageIdResp):
    command_id = CommandId.data_sm_resp


@attrs.frozen(kw_only=True)
class DataSm(Pdu):
    command_id = CommandId.data_sm
    response_class = DataSmResp
    service_type: str = _c(6, S.ESME_RINVSERTYP)
    source_addr_ton: int = _i1(0, S.ESME_RINVSRCTON)
    source_addr_npi: int = _i1(0, S.ESME_RINVSRCNPI)
    source_addr: str = _c(65, S.ESME_RINVSRCADR)
    dest_addr_ton: int = _i1(0, S.ESME_RINVDSTTON)
    dest_addr_npi: int = _i1(0, S.ESME_RINVDSTNPI)
    destination_addr: str = _c(65, S.ESME_RINVDSTADR)
    esm_class: int = _i1(0, S.ESME_RINVESMCLASS)
    registered_delivery: int = _i1(0, S.ESME_RINVREGDLVFLG)
    data_coding: int = _i1(0)


@attrs.frozen(kw_only=True)
class QuerySmResp(Pdu):
    command_id = CommandId.query_sm_resp
    message_id: str = _c(65, S.ESME_RINVMSGID)
    final_date: str = _t(S.ESME_RSYSERR)
    message_state: int = _i1(0)
    error_code: int = _i1(0)


@attrs.frozen(kw_only=True)
class QuerySm(Pdu):
    command_id = CommandId.query_sm
    response_class = QuerySmResp
    message_id: str = _c(65, S.ESME_RINVMSGID)
    source_addr_ton: int = _i1(0, S.ESME_RINVSRCTON)
    source_addr_npi: int = _i1(0, S.ESME_RINVSRCNPI)
    source_addr: str = _c(21, S.ESME_RINVSRCADR)


@attrs.frozen(kw_only=True)
class CancelSmResp(Pdu):
    command_id = CommandId.cancel_sm_resp


@attrs.frozen(kw_only=True)
class CancelSm(Pdu):
    command_id = CommandId.cancel_sm
    response_class = CancelSmResp
    service_type: str = _c(6, S.ESME_RINVSERTYP)
    message_id: str = _c(65, S.ESME_RINVMSGID)
    source_addr_ton: int = _i1(0, S.ESME_RINVSRCTON)
    source_addr_npi: int = _i1(0, S.ESME_RINVSRCNPI)
    source_addr: str = _c(21, S.ESME_RINVSRCADR)
    dest_addr_ton: int = _i1(0, S.ESME_RINVDSTTON)
    dest_addr_npi: int = _i1(0, S.ESME_RINVDSTNPI)
    destination_addr: str = _c(21, S.ESME_RINVDSTADR)


@attrs.frozen(kw_only=True)
class ReplaceSmResp(Pdu):
    command_id = CommandId.replace_sm_resp


@attrs.frozen(kw_only=True)
class ReplaceSm(Pdu):
    command_id = CommandId.replace_sm
    response_class = ReplaceSmResp
    message_id: str = _c(65, S.ESME_RINVMSGID)
    source_addr_ton: int = _i1(0, S.ESME_RINVSRCTON)
    source_addr_npi: int = _i1(0, S.ESME_RINVSRCNPI)
    source_addr: str = _c(21, S.ESME_RINVSRCADR)
    schedule_delivery_time: str = _t(S.ESME_RINVSCHED)
    validity_period: str = _t(S.ESME_RINVEXPIRY)
    registered_delivery: int = _i1(0, S.ESME_RINVREGDLVFLG)
    sm_default_msg_id: int = _i1(0, S.ESME_RINVDFTMSGID)
    short_message: bytes = _sm()

    @property
    def sm_length(self) -> int:
        return len(self.short_message)


@attrs.frozen(kw_only=True)
class AlertNotification(Pdu):
    command_id = CommandId.alert_notification
    source_addr_ton: int = _i1(0, S.ESME_RINVSRCTON)
    source_addr_npi: int = _i1(0, S.ESME_RINVSRCNPI)
    source_addr: str = _c(65, S.ESME_RINVSRCADR)
    esme_addr_ton: int = _i1(0)
    esme_addr_npi: int = _i1(0)
    esme_addr: str = _c(65)


PDU_CLASSES: tuple[type[Pdu], ...] = (
    GenericNack,
    BindReceiver,
    BindReceiverResp,
    BindTransmitter,
    BindTransmitterResp,
    QuerySm,
    QuerySmResp,
    SubmitSm,
    SubmitSmResp,
    DeliverSm,
    DeliverSmResp,
    Unbind,
    UnbindResp,
    ReplaceSm,
    ReplaceSmResp,
    CancelSm,
    CancelSmResp,
    BindTransceiver,
    BindTransceiverResp,
    Outbind,
    EnquireLink,
    EnquireLinkResp,
    SubmitMulti,
    SubmitMultiResp,
    AlertNotification,
    DataSm,
    DataSmResp,
)

PDU_BY_COMMAND_ID: dict[int, type[Pdu]] = {cls.command_id: cls for cls in PDU_CLASSES}
