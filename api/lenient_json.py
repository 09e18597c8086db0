"""Lenient JSON: accept the slips hand-written request bodies make, without ever changing a string's contents.

Strict ``json.loads`` is tried first; only when it fails is the text repaired, and the repair works on the text
OUTSIDE string literals only:

* trailing commas before ``}`` or ``]`` (the seed documents' own curl examples have them);
* ``//`` line comments and ``/* */`` block comments;
* single-quoted strings and “curly-quoted” strings used as delimiters (the value is the same characters);
* Python's ``True`` / ``False`` / ``None``;
* unquoted object keys (``{model: "jimeng-4.5"}``);
* a leading byte-order mark.

The characters inside every string reach the parsed value exactly as the client wrote them.
"""

from __future__ import annotations

import json
from typing import Any

from api.settings import JSON_MAX_INT_DIGITS as MAX_INT_DIGITS

_BAREWORDS = {"True": "true", "False": "false", "None": "null", "true": "true", "false": "false", "null": "null"}
_OPEN_QUOTES = {"'": "'", "\u201c": "\u201d"}
_WORD_START = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_$")
_WORD_CHARS = _WORD_START | frozenset("0123456789-")
_WS = frozenset(" \t\r\n")


class LenientJSONError(ValueError):
    """The text is not JSON even after repair; ``msg``/``pos`` describe the first problem in the original text."""

    def __init__(self, msg: str, pos: int) -> None:
        super().__init__(f"{msg} (at character {pos})")
        self.msg = msg
        self.pos = pos


def loads(text: str | bytes, *, allow_repair: bool = True) -> Any:
    """Parse JSON, repairing common slips outside strings (unless ``allow_repair`` is false: strict JSON only).
    Raises LenientJSONError, also for nesting deeper than the interpreter's recursion limit."""
    if isinstance(text, bytes | bytearray):
        try:
            text = bytes(text).decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise LenientJSONError("the body is not UTF-8", exc.start) from None
    try:
        return _strict(text)
    except json.JSONDecodeError as first:
        if not allow_repair:
            raise LenientJSONError(first.msg, first.pos) from None
        try:
            return _strict(repair(text))
        except (json.JSONDecodeError, _Unterminated):
            raise LenientJSONError(first.msg, first.pos) from None


def _int(digits: str) -> int | float:
    """A JSON integer; one too long for ``int()`` (4,300 digits) becomes ±inf, which validation refuses by name."""
    if len(digits) <= MAX_INT_DIGITS:
        return int(digits)
    return float("-inf") if digits.startswith("-") else float("inf")


def _strict(text: str) -> Any:
    try:
        return json.loads(text, parse_int=_int)
    except RecursionError:
        raise LenientJSONError("the JSON is nested too deeply", 0) from None


class _Unterminated(Exception):
    pass


def _skip_ws_and_comments(text: str, i: int) -> int:
    n = len(text)
    while i < n:
        c = text[i]
        if c in _WS or c == "\ufeff":
            i += 1
        elif text.startswith("//", i):
            end = text.find("\n", i)
            i = n if end < 0 else end + 1
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            if end < 0:
                raise _Unterminated
            i = end + 2
        else:
            break
    return i


def _read_double(text: str, i: int) -> int:
    """Index just past the double-quoted string starting at ``i``."""
    n = len(text)
    j = i + 1
    while j < n:
        c = text[j]
        if c == "\\":
            j += 2
            continue
        if c == '"':
            return j + 1
        j += 1
    raise _Unterminated


def _read_other(text: str, i: int, close: str) -> tuple[str, int]:
    """A single- or curly-quoted string at ``i`` → (the same value as a JSON string literal, index past it)."""
    n = len(text)
    j = i + 1
    out: list[str] = ['"']
    while j < n:
        c = text[j]
        if c == "\\" and j + 1 < n:
            nxt = text[j + 1]
            if nxt == close and close != '"':
                out.append(nxt)  # \' means a quote character
            else:
                out.append(c + nxt)  # every other escape means what it means in JSON
            j += 2
            continue
        if c == close:
            out.append('"')
            return "".join(out), j + 1
        out.append('\\"' if c == '"' else c)
        j += 1
    raise _Unterminated


def repair(text: str) -> str:
    """Rewrite the structure around the strings; never the strings' contents."""
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == '"':
            end = _read_double(text, i)
            out.append(text[i:end])
            i = end
        elif c in _OPEN_QUOTES:
            literal, i = _read_other(text, i, _OPEN_QUOTES[c])
            out.append(literal)
        elif c in _WS or c == "\ufeff" or text.startswith(("//", "/*"), i):
            j = _skip_ws_and_comments(text, i)
            out.append(" " if j > i else c)
            i = max(j, i + 1)
        elif c == ",":
            j = _skip_ws_and_comments(text, i + 1)
            if j < n and text[j] in "}]":
                i = j  # trailing comma: drop it
            else:
                out.append(c)
                i += 1
        elif c in _WORD_START:
            j = i + 1
            while j < n and text[j] in _WORD_CHARS:
                j += 1
            word = text[i:j]
            if word in _BAREWORDS:
                out.append(_BAREWORDS[word])
            else:
                k = _skip_ws_and_comments(text, j)
                out.append(json.dumps(word) if k < n and text[k] == ":" else word)
            i = j
        else:
            out.append(c)
            i += 1
    return "".join(out)
