"""Destination patterns that run in linear time, and a bind's address_range read safely.

Pure (no Twisted; used by the users file, the server configuration and the
router in :mod:`smppd.server.smsc`). Two inputs, two trust levels:

* **Operator patterns** (users file ``receive_ranges``, server ``routes``):
  :func:`compile_pattern` accepts a small regular-expression subset: an
  optional ``^``, then atoms -- a literal letter or digit, ``.``, ``\\d``, a
  class ``[0-9]`` / ``[^5]`` -- each optionally followed by ``?``, ``*``,
  ``+``, ``{n}`` or ``{n,m}`` (at most 32), then an optional ``$``. No
  groups, alternation or backreferences. Matching is anchored at the start
  (as ``re.match``); without ``$`` the rest of the address is free. It is
  matched by a set-of-states simulation: time linear in the address times
  the pattern, whatever the pattern. Every pattern has a literal prefix
  (the letters before its first non-literal atom), which the router indexes.
* **ESME address_range** (peer-controlled): :func:`narrowing` never compiles
  it. Only a digit prefix, optionally with ``^`` and a trailing ``*``,
  ``.*``, ``\\d*``, ``[0-9]*`` (or ``+``) and ``$``, is understood, as that
  prefix. ``""``, ``.*``, ``^.*$`` and ``*`` mean "no narrowing"; anything
  else is not understood and also means no narrowing (the caller logs it).
  A narrowing can only restrict what the operator granted.
"""

from __future__ import annotations

import string
from collections.abc import Iterable

import attrs

__all__ = ["AddressPattern", "Narrowing", "PatternError", "compile_pattern", "narrowing"]

MAX_PATTERN = 64  # characters in an operator pattern
MAX_REPEAT = 32  # the largest {n,m}; addresses are at most 65 octets (data_sm)
_LITERALS = frozenset(string.ascii_letters + string.digits + "#+-_ ")
_DIGITS = frozenset(string.digits)

# token kinds after expansion: exactly one, zero or one, zero or more
_ONE, _OPT, _STAR = 0, 1, 2


class PatternError(ValueError):
    """A pattern outside the accepted subset (the message says what)."""


@attrs.frozen
class AddressPattern:
    """A compiled operator pattern. ``prefix``: its literal start;
    ``is_prefix``: it matches exactly the addresses starting with ``prefix``."""

    source: str
    prefix: str
    is_prefix: bool
    _tokens: tuple[tuple[frozenset[str] | None, int], ...] = attrs.field(repr=False)  # after the prefix
    _anchored: bool = attrs.field(repr=False)

    def match(self, address: str) -> bool:
        if not address.startswith(self.prefix):
            return False
        if self.is_prefix:
            return True
        tokens = self._tokens
        n = len(tokens)
        states = self._closure({0})
        for ch in address[len(self.prefix) :]:
            if not self._anchored and n in states:
                return True
            nxt: set[int] = set()
            for i in states:
                if i == n:
                    continue
                cls, kind = tokens[i]
                if cls is None or ch in cls:
                    nxt.add(i if kind == _STAR else i + 1)
            if not nxt:
                return False
            states = self._closure(nxt)
        return n in states

    def _closure(self, states: set[int]) -> set[int]:
        tokens = self._tokens
        out = set(states)
        todo = list(states)
        while todo:
            i = todo.pop()
            if i < len(tokens) and tokens[i][1] != _ONE and i + 1 not in out:
                out.add(i + 1)
                todo.append(i + 1)
        return out


def _class(text: str, i: int, source: str) -> tuple[frozenset[str], int]:
    """A ``[...]`` class starting at ``text[i] == "["``: (its characters, the index after ``]``)."""
    j = i + 1
    negate = j < len(text) and text[j] == "^"
    if negate:
        j += 1
    chars: set[str] = set()
    first = True
    while j < len(text) and (text[j] != "]" or first):
        c = text[j]
        if c == "\\" and j + 1 < len(text) and text[j + 1] == "d":
            chars |= _DIGITS
            j += 2
        elif c not in _LITERALS:
            raise PatternError(f"{source!r}: character {c!r} not allowed in a class")
        elif j + 2 < len(text) and text[j + 1] == "-" and text[j + 2] != "]":
            hi = text[j + 2]
            if hi not in _LITERALS or hi < c:
                raise PatternError(f"{source!r}: bad range {c}-{hi}")
            chars |= {chr(x) for x in range(ord(c), ord(hi) + 1)}
            j += 3
        else:
            chars.add(c)
            j += 1
        first = False
    if j >= len(text):
        raise PatternError(f"{source!r}: unterminated class")
    if negate:
        chars = {chr(x) for x in range(32, 256)} - chars
    return frozenset(chars), j + 1


def _repeat(text: str, i: int, source: str) -> tuple[int, int | None, int]:
    """An optional quantifier at ``text[i]``: (min, max or None, index after it)."""
    if i >= len(text):
        return 1, 1, i
    c = text[i]
    if c == "?":
        return 0, 1, i + 1
    if c == "*":
        return 0, None, i + 1
    if c == "+":
        return 1, None, i + 1
    if c != "{":
        return 1, 1, i
    end = text.find("}", i)
    if end < 0:
        raise PatternError(f"{source!r}: unterminated {{")
    lo_s, _, hi_s = text[i + 1 : end].partition(",")
    if not lo_s.isdigit() or (hi_s and not hi_s.isdigit()):
        raise PatternError(f"{source!r}: bad repetition {text[i : end + 1]}")
    lo = int(lo_s)
    hi: int | None = int(hi_s) if hi_s else (lo if "," not in text[i:end] else None)
    if lo > MAX_REPEAT or (hi is not None and (hi > MAX_REPEAT or hi < lo)):
        raise PatternError(f"{source!r}: repetition {text[i : end + 1]} (at most {MAX_REPEAT})")
    return lo, hi, end + 1


def compile_pattern(source: str) -> AddressPattern:
    """Compile an operator pattern; :class:`PatternError` if it is outside the subset."""
    if not isinstance(source, str) or not source:
        raise PatternError("a pattern must be a non-empty string")
    if len(source) > MAX_PATTERN:
        raise PatternError(f"a pattern has at most {MAX_PATTERN} characters")
    text = source[1:] if source.startswith("^") else source
    anchored = text.endswith("$") and not text.endswith("\\$")
    if anchored:
        text = text[:-1]
    atoms: list[tuple[frozenset[str] | None, int, int | None]] = []
    i = 0
    while i < len(text):
        c = text[i]
        cls: frozenset[str] | None
        if c == ".":
            cls, i = None, i + 1
        elif c == "[":
            cls, i = _class(text, i, source)
        elif c == "\\" and i + 1 < len(text) and text[i + 1] == "d":
            cls, i = _DIGITS, i + 2
        elif c in _LITERALS and c != "+":
            cls, i = frozenset(c), i + 1
        else:
            raise PatternError(
                f"{source!r}: {c!r} is not allowed (letters, digits, ., \\d, [classes],"
                " ?, *, +, {n,m}, ^ and $ only)"
            )
        lo, hi, i = _repeat(text, i, source)
        atoms.append((cls, lo, hi))
    prefix: list[str] = []
    k = 0
    for cls, lo, hi in atoms:
        if cls is None or len(cls) != 1 or lo != 1 or hi != 1:
            break
        prefix.extend(cls)
        k += 1
    rest = atoms[k:]
    tokens: list[tuple[frozenset[str] | None, int]] = []
    for cls, lo, hi in rest:
        tokens.extend((cls, _ONE) for _ in range(lo))
        if hi is None:
            tokens.append((cls, _STAR))
        else:
            tokens.extend((cls, _OPT) for _ in range(hi - lo))
    free_rest = all(kind != _ONE for _, kind in tokens)
    is_prefix = (not anchored and free_rest) or (anchored and tokens == [(None, _STAR)]) or (not tokens and not anchored)
    return AddressPattern(source, "".join(prefix), is_prefix, tuple(tokens), anchored)


def compile_patterns(sources: Iterable[str]) -> tuple[AddressPattern, ...]:
    return tuple(compile_pattern(s) for s in sources)


@attrs.frozen
class Narrowing:
    """What a bind's address_range means: ``prefix`` None is no narrowing;
    ``understood`` False when the text was not a form we read (so ignored)."""

    prefix: str | None
    understood: bool = True

    def allows(self, address: str) -> bool:
        return self.prefix is None or address.startswith(self.prefix)


_ANY = Narrowing(None)
_SUFFIXES = ("", "*", ".*", "\\d*", "[0-9]*", "+", ".+", "\\d+", "[0-9]+")


def narrowing(address_range: str) -> Narrowing:
    """Read an ESME's address_range without compiling it (see the module doc)."""
    text = address_range.strip()
    if not text:
        return _ANY
    if len(text) > 64:
        return Narrowing(None, understood=False)
    if text.startswith("^"):
        text = text[1:]
    if text.endswith("$"):
        text = text[:-1]
    end = 0
    while end < len(text) and text[end] in _DIGITS:
        end += 1
    digits, suffix = text[:end], text[end:]
    if suffix not in _SUFFIXES:
        return Narrowing(None, understood=False)
    if not digits:
        return _ANY if suffix in ("*", ".*", ".+") else Narrowing(None, understood=False)
    return Narrowing(digits)
