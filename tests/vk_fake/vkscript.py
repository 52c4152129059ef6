"""The one VKScript shape the fake `execute` understands: `return [API.a.b({...}), ...];` or a single call."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

_CALL = re.compile(r"API\.([A-Za-z]+\.[A-Za-z]+)\s*\(")
_DECODER = json.JSONDecoder()


class ScriptError(ValueError):
    """The code is not of the supported shape; VK would answer error 12 (cannot compile)."""


@dataclass(frozen=True)
class Script:
    calls: list[tuple[str, dict[str, Any]]]
    # `return [..];` answers a list, `return API.x(..);` answers the single result.
    as_list: bool


def parse_execute(code: str) -> Script:
    """Read the calls of an `execute` code; raise ScriptError for anything else (loops, variables, VKScript maths)."""
    text = code.strip()
    if not text.startswith("return"):
        raise ScriptError("the code must start with `return`")
    pos = _skip(text, len("return"))
    as_list = _peek(text, pos) == "["
    if as_list:
        pos = _skip(text, pos + 1)
    calls: list[tuple[str, dict[str, Any]]] = []
    if as_list and _peek(text, pos) == "]":
        pos += 1
    else:
        while True:
            method, args, pos = _call(text, pos)
            calls.append((method, args))
            if not as_list:
                break
            pos = _skip(text, pos)
            separator = _peek(text, pos)
            if separator == "]":
                pos += 1
                break
            if separator != ",":
                raise ScriptError(f"expected `,` or `]` at {pos}")
            pos = _skip(text, pos + 1)
    pos = _skip(text, pos)
    if _peek(text, pos) == ";":
        pos = _skip(text, pos + 1)
    if pos != len(text):
        raise ScriptError(f"unexpected text at {pos}: {text[pos : pos + 20]!r}")
    return Script(calls=calls, as_list=as_list)


def _call(text: str, pos: int) -> tuple[str, dict[str, Any], int]:
    match = _CALL.match(text, pos)
    if match is None:
        raise ScriptError(f"expected `API.<section>.<method>(` at {pos}")
    pos = _skip(text, match.end())
    args: Any = {}
    if _peek(text, pos) != ")":
        try:
            args, pos = _DECODER.raw_decode(text, pos)
        except json.JSONDecodeError as error:
            raise ScriptError(f"the arguments of {match.group(1)} are not a JSON object: {error}") from error
        if not isinstance(args, dict):
            raise ScriptError(f"the arguments of {match.group(1)} are not an object")
        pos = _skip(text, pos)
    if _peek(text, pos) != ")":
        raise ScriptError(f"expected `)` at {pos}")
    return match.group(1), args, pos + 1


def _skip(text: str, pos: int) -> int:
    while pos < len(text) and text[pos].isspace():
        pos += 1
    return pos


def _peek(text: str, pos: int) -> str:
    return text[pos] if pos < len(text) else ""
