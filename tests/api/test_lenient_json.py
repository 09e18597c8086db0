"""Lenient JSON: structure slips are repaired, string contents never change (property-style, seeded random cases)."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

from api.lenient_json import LenientJSONError, loads, repair

# Characters that tempt a repairer: quotes, commas before brackets, comment starters, escapes, barewords, unicode.
_TRICKY = [
    ",",
    "}",
    "]",
    ",}",
    ",]",
    "//",
    "/*",
    "*/",
    "'",
    '"',
    "\\",
    "\\'",
    "True",
    "None",
    "false",
    "“",
    "”",
    "\n",
    "\t",
    " ",
    "a",
    "Z",
    "美丽的少女,胶片感",
    "😀",
    "\u2028",
    "\u0000",
    ":",
    "{",
    "[",
    "#",
    "key:",
    "1e5",
]


def _string(rng: random.Random) -> str:
    return "".join(rng.choice(_TRICKY) for _ in range(rng.randint(0, 8)))


def _value(rng: random.Random, depth: int = 0) -> Any:
    kind = rng.randint(0, 7 if depth < 3 else 4)
    if kind == 0:
        return _string(rng)
    if kind == 1:
        return rng.randint(-(10**6), 10**6)
    if kind == 2:
        return rng.choice([True, False, None])
    if kind == 3:
        return rng.uniform(-1000, 1000)
    if kind == 4:
        return _string(rng)
    if kind in (5, 6):
        return {_string(rng): _value(rng, depth + 1) for _ in range(rng.randint(0, 4))}
    return [_value(rng, depth + 1) for _ in range(rng.randint(0, 4))]


def _sloppy(value: Any, rng: random.Random) -> str:
    """Serialise with slips outside strings: trailing commas, comments, single quotes, Python literals."""
    ws = rng.choice(["", " ", "\n", "\n  ", " /* note, } */ ", " // comment, ]\n"])
    if isinstance(value, dict):
        items = [f"{ws}{_sloppy_str(k, rng)}{ws}:{ws}{_sloppy(v, rng)}" for k, v in value.items()]
        trail = "," + ws if items and rng.random() < 0.6 else ""
        return "{" + ",".join(items) + trail + ws + "}"
    if isinstance(value, list):
        items = [ws + _sloppy(v, rng) for v in value]
        trail = "," + ws if items and rng.random() < 0.6 else ""
        return "[" + ",".join(items) + trail + ws + "]"
    if isinstance(value, str):
        return _sloppy_str(value, rng)
    if value is True:
        return rng.choice(["true", "True"])
    if value is False:
        return rng.choice(["false", "False"])
    if value is None:
        return rng.choice(["null", "None"])
    return json.dumps(value)


def _sloppy_str(s: str, rng: random.Random) -> str:
    if rng.random() < 0.3:  # single-quoted: escape backslashes and single quotes as a JS programmer would
        inner = json.dumps(s, ensure_ascii=rng.random() < 0.5)[1:-1].replace('\\"', '"').replace("'", "\\'")
        return "'" + inner + "'"
    return json.dumps(s, ensure_ascii=rng.random() < 0.5)


def test_sloppy_json_parses_to_the_same_value() -> None:
    for seed in range(1000):
        rng = random.Random(seed)
        value = {"prompt": _string(rng), "data": _value(rng)}
        text = _sloppy(value, rng)
        assert loads(text) == value, (seed, text)


def test_valid_json_is_untouched() -> None:
    for seed in range(500):
        rng = random.Random(10_000 + seed)
        value = _value(rng)
        text = json.dumps(value, ensure_ascii=False, indent=rng.choice([None, 2]))
        assert loads(text) == value, seed
        assert json.loads(repair(text)) == value, seed  # even the repairer keeps valid JSON's meaning


def test_prompt_stays_byte_identical() -> None:
    prompt = "美丽的少女,胶片感 // not a comment, }] 'quoted' \"double\" \\ True None /* x */"
    body = '{\n"model": "jimeng-4.0",\n"prompt": ' + json.dumps(prompt, ensure_ascii=False) + ',\n"ratio": "4:3",\n}'
    parsed = loads(body.encode())
    assert parsed["prompt"].encode() == prompt.encode()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"a": 1,}', {"a": 1}),
        ("{'a': 'it\\'s'}", {"a": "it's"}),
        ('{model: "x", n: 2,}', {"model": "x", "n": 2}),
        ('{"a": [1, 2, ], // done\n}', {"a": [1, 2]}),
        ('\ufeff{"a": True}', {"a": True}),
        ('{“prompt”: “他说"好"”}', {"prompt": '他说"好"'}),
    ],
)
def test_common_slips(text: str, expected: Any) -> None:
    assert loads(text) == expected


@pytest.mark.parametrize("text", ['{"a": }', '{"a": "unterminated}', "{'a': 1", "[1 2]", "/* open", ""])
def test_real_errors_still_fail(text: str) -> None:
    with pytest.raises(LenientJSONError):
        loads(text)
