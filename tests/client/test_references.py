"""Concatenation references: consecutive long messages to one handset never
share one (a handset reassembles by reference, so two long messages in
flight with the same one are mixed up)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

LONG = "a long message that needs more than one segment " * 5


def reference_of(pdu) -> int:
    udh = pdu.short_message
    if pdu.sar_msg_ref_num is not None:
        return pdu.sar_msg_ref_num
    assert udh[1] in (0x00, 0x08), udh[:6].hex()
    return udh[3] if udh[1] == 0x00 else int.from_bytes(udh[3:5], "big")


def references(client, destination: str, count: int, **options) -> list[int]:
    refs = []
    for _ in range(count):
        pdus = client.build_submits("Shop", destination, LONG, **options)
        assert len(pdus) > 1
        assert len({reference_of(p) for p in pdus}) == 1  # one message, one reference
        refs.append(reference_of(pdus[0]))
    return refs


@pytest.mark.parametrize("seed", range(1, 6))
def test_thirty_long_messages_to_one_destination_get_distinct_references(rig, seed):
    client = rig.client(seed=seed)
    assert len(set(references(client, "447700900123", 30))) == 30


def test_an_8_bit_reference_repeats_only_after_256_messages_to_that_destination(rig):
    client = rig.client()
    refs = references(client, "447700900123", 257)
    assert len(set(refs[:256])) == 256 and refs[256] == refs[0]
    # a short message (not split) and another destination use none of them up
    client.build_submits("Shop", "447700900123", "short")
    client.build_submits("Shop", "447700900999", LONG)
    assert references(client, "447700900123", 1) == [refs[1]]


@pytest.mark.parametrize("method", ["udh16", "sar"])
def test_16_bit_references_with_udh16_and_sar(rig, method):
    client = rig.client(concatenation=method)
    refs = references(client, "447700900123", 300)
    assert len(set(refs)) == 300 and max(refs) < 0x10000


@settings(max_examples=50, deadline=None)
@given(st.lists(st.sampled_from(["4470001", "4470002", "4470003"]), min_size=1, max_size=60), st.integers(1, 1000))
def test_per_destination_references_never_repeat_within_256(destinations, seed):
    import random

    from smppd.client import ClientConfig, SmppClient

    client = SmppClient(ClientConfig(system_id="a"), reactor=object(), rng=random.Random(seed))
    seen: dict[str, list[int]] = {}
    for destination in destinations:
        seen.setdefault(destination, []).append(reference_of(client.build_submits("Shop", destination, LONG)[0]))
    for refs in seen.values():
        assert len(set(refs)) == len(refs)
