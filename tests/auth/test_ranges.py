"""Destination patterns (operator, linear time) and address_range (ESME, never compiled)."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smppd.auth.ranges import PatternError, compile_pattern, narrowing

CASES = [
    # pattern, address, matches (as re.match would say)
    ("999", "999123", True),
    ("^999", "999", True),
    ("^999", "99", False),
    ("4477", "447712345678", True),
    ("^4477[0-9]*$", "447712345678", True),
    ("^4477[0-9]*$", "4477123x", False),
    ("4477\\d{8}$", "447712345678", True),
    ("4477\\d{8}$", "4477123456789", False),
    ("4477\\d{8}", "4477123456789", True),  # no $: the rest is free
    ("^44[0-9]{2}7.*$", "44777", True),
    ("^44[0-9]{2}7.*$", "447712", False),
    ("^44[^7]", "4481", True),
    ("^44[^7]", "4471", False),
    ("a?b+c*$", "bbb", True),
    ("a?b+c*$", "abbcc", True),
    ("a?b+c*$", "ac", False),
    ("[0-9]{2,4}$", "12345", False),
    ("[0-9]{2,4}$", "123", True),
    (".*", "", True),
    ("^.*$", "anything", True),
]


@pytest.mark.parametrize(("pattern", "address", "expected"), CASES)
def test_matches_like_re_match(pattern, address, expected):
    assert compile_pattern(pattern).match(address) is expected
    assert (re.match(pattern, address) is not None) is expected


def test_prefix_patterns_are_recognised_for_the_index():
    for source in ("4477", "^4477", "4477.*", "^4477.*$", "4477[0-9]*", "4477\\d?"):
        p = compile_pattern(source)
        assert (p.prefix, p.is_prefix) == ("4477", True), source
    p = compile_pattern("^4477[0-9]{8}$")
    assert (p.prefix, p.is_prefix) == ("4477", False)


@pytest.mark.parametrize(
    "source",
    ["", "(a+)+$", "(a|b)", "a|b", "\\1", "[0-9", "a{1,99}", "x{3,1}", "^^1", "1$$", "*1", "a**", "a" * 65, "\\w+"],
)
def test_outside_the_subset_is_refused(source):
    with pytest.raises(PatternError):
        compile_pattern(source)


def test_many_stars_stay_linear():
    """What makes a backtracking engine take O(n^k): k stars over the same class."""
    p = compile_pattern("[0-9]*" * 10 + "x$")
    assert p.match("1" * 60) is False
    assert p.match("1" * 60 + "x") is True


@given(st.from_regex(re.compile(r"\^?[0-9]{0,4}(\[0-9\]|\.|7)?[*?+]?(\{[0-3](,[0-5])?\})?\$?"), fullmatch=True), st.text("0123456789x", max_size=12))
def test_agrees_with_re_on_the_subset(pattern, address):
    try:
        p = compile_pattern(pattern)
    except PatternError:
        return  # e.g. {3,1}, an empty pattern, a quantifier after a quantifier
    assert p.match(address) == (re.match(pattern, address) is not None), (pattern, address)


@pytest.mark.parametrize(
    ("address_range", "prefix", "understood"),
    [
        ("", None, True),
        (".*", None, True),
        ("^.*$", None, True),
        ("*", None, True),
        ("4477", "4477", True),
        ("^4477", "4477", True),
        ("4477*", "4477", True),
        ("^4477[0-9]*$", "4477", True),
        ("^4477\\d*$", "4477", True),
        ("4477.*", "4477", True),
        ("(a+)+$", None, False),
        ("^(4477|4478)", None, False),
        ("[0-9]+", None, False),
        ("a" * 100, None, False),
    ],
)
def test_address_range_is_read_as_a_prefix_or_not_at_all(address_range, prefix, understood):
    n = narrowing(address_range)
    assert (n.prefix, n.understood) == (prefix, understood)
    if prefix is not None:
        assert n.allows(prefix + "123") and not n.allows("1" + prefix)
    else:
        assert n.allows("anything")


# -- the users file --------------------------------------------------------------------


def test_users_file_grants_are_compiled_and_checked(tmp_path):
    from smppd.auth.users import UsersFileError, load_users

    path = tmp_path / "users.json"
    path.write_text(
        '{"users": [{"system_id": "a", "password": "x", "receive_ranges": ["4477", "^999[0-9]{3}$"],'
        ' "receive_from": ["b"]}, {"system_id": "b", "password": "y"}]}'
    )
    users = load_users(path)
    a, b = users.get("a"), users.get("b")
    assert [p.source for p in a.receive_ranges] == ["4477", "^999[0-9]{3}$"]
    assert a.receive_from == frozenset({"b"})
    assert b.receive_ranges == () and b.receive_from is None  # default: receives nothing routed

    path.write_text('{"users": [{"system_id": "a", "password": "x", "receive_ranges": ["(a+)+$"]}]}')
    with pytest.raises(UsersFileError) as e:
        load_users(path)
    message = str(e.value)
    assert "\n" not in message and message.startswith(f"{path}: users[0].receive_ranges[0]: ")
    path.write_text('{"users": [{"system_id": "a", "password": "x", "receive_from": "b"}]}')
    with pytest.raises(UsersFileError, match=r"users\[0\]\.receive_from"):
        load_users(path)
