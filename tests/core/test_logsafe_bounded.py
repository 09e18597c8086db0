"""The log redactor remembers every caller's session id in fixed memory (issue #13: it used to grow per id)."""

from __future__ import annotations

import logging
import random
import string
import time
import tracemalloc

from core.logsafe import RedactingFilter

ALPHABET = string.ascii_letters + string.digits + "_-"


def _ids(n: int, seed: int, length: int = 32) -> list[str]:
    rnd = random.Random(seed)
    return ["".join(rnd.choice(ALPHABET) for _ in range(length)) for _ in range(n)]


def _logged(f: RedactingFilter, msg: str, *args: object) -> str:
    rec = logging.LogRecord("t", logging.INFO, __file__, 1, msg, args, None)
    f.filter(rec)
    return rec.getMessage()


def test_many_ids_fixed_memory_and_none_forgotten() -> None:
    f = RedactingFilter(["operator-session-0001"])
    ids = _ids(60_000, seed=1)
    f.add(ids[0])
    before = f.memory_bytes
    tracemalloc.start()
    try:
        start, _ = tracemalloc.get_traced_memory()
        for sid in ids:
            f.add(sid)
        grown = tracemalloc.get_traced_memory()[0] - start
    finally:
        tracemalloc.stop()
    assert f.memory_bytes == before  # nothing kept per id
    assert grown < 64 * 1024, f"the filter grew by {grown} bytes for 60,000 ids"
    # The oldest and the newest ids are both still masked, in the contexts they appear in.
    for sid in ids[:300] + ids[-300:]:
        out = _logged(f, "account us-%s failed; header Bearer %s,%s", sid, sid, "x")
        assert sid not in out and f"{sid[:4]}…{sid[-4:]}" in out
    assert "operator-session-0001" not in _logged(f, "cfg %s", "operator-session-0001")


def test_other_strings_are_left_alone() -> None:
    f = RedactingFilter()
    f.add(*_ids(60_000, seed=2))
    others = _ids(2_000, seed=3)  # same shape, never registered
    masked = sum(1 for s in others if s not in _logged(f, "job %s done", s))
    assert masked <= 2, f"{masked} of 2,000 unregistered ids were masked"
    text = "listening on http://127.0.0.1:5100 (Bearer-session mode); in Bearer session mode the caller pays"
    assert _logged(f, text) == text


def test_ids_of_many_lengths_and_embedded_in_longer_runs() -> None:
    f = RedactingFilter()
    ids = [s for n in (8, 17, 32, 64, 256) for s in _ids(50, seed=n, length=n)]
    f.add(*ids)
    for sid in ids:
        out = _logged(f, "x%sy sessionid=%s", sid, sid)
        assert sid not in out


def test_cost_per_line_does_not_grow_with_ids() -> None:
    line = "account us-%s queued job 0123456789abcdef for /v1/images/generations (Bearer mode)"
    probe = _ids(1, seed=9)[0]

    def cost(f: RedactingFilter) -> float:
        t0 = time.perf_counter()
        for _ in range(2_000):
            _logged(f, line, probe)
        return time.perf_counter() - t0

    few, many = RedactingFilter(), RedactingFilter()
    few.add(*_ids(10, seed=4))
    many.add(*_ids(60_000, seed=5))
    few_s, many_s = min(cost(few) for _ in range(3)), min(cost(many) for _ in range(3))
    # The old filter scanned every id for every line: 6,000 times the work. Allow noise, not growth.
    assert many_s < few_s * 3 + 0.05, (few_s, many_s)
