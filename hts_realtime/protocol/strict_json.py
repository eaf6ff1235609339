"""Strict JSON: the one decoder for every JSON a client sends, and the encoder that
never writes anything but JSON.

Python's ``json`` accepts what no browser's ``JSON.parse`` would hand back intact
and what no UTF-8 encoder can write: ``NaN``/``Infinity``, lone UTF-16 surrogates
(``"\\ud800"``, in a string or a key), integers of any length, nesting until the
interpreter's recursion limit. Each of those reached the server and failed later,
while encoding a reply or a log line (issue 20). ``loads`` refuses them at the
door, with ``JsonRefused`` (a ``ValueError``) saying why:

* a lone surrogate in any string or key (a valid pair is fine);
* ``NaN``, ``Infinity``, ``-Infinity``;
* nesting deeper than ``MAX_DEPTH`` arrays/objects;
* an integer beyond ``MAX_SAFE_INTEGER`` in magnitude (JavaScript's
  ``Number.MAX_SAFE_INTEGER``: past it a JS client silently loses digits), a
  number literal longer than ``MAX_NUMBER_CHARS``, a float that is not finite
  (``1e999``);
* bytes that are not UTF-8.

``dumps`` is ``json.dumps`` with ``allow_nan=False`` (a ``ValueError`` rather than
a bare ``NaN`` on the wire), compact, UTF-8 as is.

The checks cost nothing on the common path: the depth and surrogate scans run
only when a cheap count says they could matter (more brackets than the depth
limit; a ``\\uD8..``-``\\uDF..`` escape in the text).
"""

from __future__ import annotations

import functools
import json
import math
import re
from itertools import accumulate
from typing import Any

MAX_DEPTH = 32
MAX_SAFE_INTEGER = 2**53 - 1
MAX_NUMBER_CHARS = 32
NOT_JSON = "not JSON"  # the reason for text that is not JSON at all (a syntax error)

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_DELTA = {"[": 1, "{": 1, "]": -1, "}": -1}
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


class JsonRefused(ValueError):
    """Input that is not strict JSON; ``reason`` is safe to show the client."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _constant(name: str) -> Any:
    raise JsonRefused(f"{name} is not JSON")


def _integer(text: str) -> int:
    if len(text) > MAX_NUMBER_CHARS:
        raise JsonRefused(f"a number of more than {MAX_NUMBER_CHARS} characters")
    value = int(text)
    if abs(value) > MAX_SAFE_INTEGER:
        raise JsonRefused(f"an integer beyond ±{MAX_SAFE_INTEGER} (2^53-1)")
    return value


def _float(text: str) -> float:
    if len(text) > MAX_NUMBER_CHARS:
        raise JsonRefused(f"a number of more than {MAX_NUMBER_CHARS} characters")
    value = float(text)
    if not math.isfinite(value):
        raise JsonRefused("a number too large for a double")
    return value


_decoder = json.JSONDecoder(parse_int=_integer, parse_float=_float, parse_constant=_constant)


def depth(text: str) -> int:
    """How deeply ``text``'s arrays and objects nest (brackets inside strings aside)."""
    if text.count("[") + text.count("{") <= MAX_DEPTH:
        return min(MAX_DEPTH, text.count("[") + text.count("{"))
    brackets = _NOT_BRACKET.sub("", _STRING.sub("", text))
    return max(accumulate(map(_DELTA.__getitem__, brackets)), default=0)


def loads(data: str | bytes | bytearray) -> Any:
    """Decode one JSON document strictly, or raise ``JsonRefused``."""
    if isinstance(data, bytes | bytearray):
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise JsonRefused("not UTF-8") from None
    else:
        text = data
    if depth(text) > MAX_DEPTH:
        raise JsonRefused(f"nested deeper than {MAX_DEPTH} levels")
    try:
        value = _decoder.decode(text)
    except JsonRefused:
        raise
    except RecursionError:  # the scan above makes this unreachable; never a traceback
        raise JsonRefused(f"nested deeper than {MAX_DEPTH} levels") from None
    except ValueError:
        raise JsonRefused(NOT_JSON) from None
    if _SURROGATE_ESCAPE.search(text) is not None:
        try:
            json.dumps(value, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            raise JsonRefused("a lone UTF-16 surrogate in a string") from None
    return value


dumps = functools.partial(json.dumps, ensure_ascii=False, separators=(",", ":"),
                          allow_nan=False)


class Undecodable(str):
    """In place of a payload ``loads`` refused, where a framing must still hand
    something on (a Socket.IO CONNECT's auth, an EVENT's name): a ``str`` (it prints
    and encodes as ``<undecodable>``) equal only to itself, so no handler table
    lookup ever matches it; ``reason`` is ``JsonRefused.reason``."""

    reason: str

    def __new__(cls, reason: str) -> Undecodable:
        self = super().__new__(cls, "<undecodable>")
        self.reason = reason
        return self

    def __eq__(self, other: object) -> bool:
        return other is self

    def __ne__(self, other: object) -> bool:
        return other is not self

    __hash__ = object.__hash__
