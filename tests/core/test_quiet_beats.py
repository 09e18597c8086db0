"""A process alone on its store keeps its heartbeat cheap (issue #16, the CPU regression of the shared store).

Every beat renews the lease and lists the instances; with no other process seen at this beat and the one before,
the sweep, the recovery scan and the re-reading of others' rows run only every ``QUIET_FULL_EVERY``-th beat. As soon as
another process appears every beat runs in full again, and the first beat after the last other process left adopts
what it did not finish.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from core import Engine, ImageParams
from core.policy import QUIET_FULL_EVERY
from core.wire import PATH_GENERATE
from emulator import FakeJimeng
from tests.core.conftest import EngineFactory

CALLS = ("renew_instance", "instances", "forget_instances", "orphans", "changed_since")


def _count(engine: Engine) -> Counter[str]:
    """Count the store calls of the heartbeat (wrapping the real methods of this store object)."""
    seen: Counter[str] = Counter()
    store: Any = engine.store
    for name in CALLS:
        real: Callable[..., Awaitable[Any]] = getattr(store, name)

        async def counted(*args: Any, _real: Callable[..., Awaitable[Any]] = real, _name: str = name, **kw: Any) -> Any:
            seen[_name] += 1
            return await _real(*args, **kw)

        setattr(store, name, counted)
    return seen


async def test_alone_the_beat_renews_and_looks_but_sweeps_and_scans_only_now_and_then(
    make_engine: EngineFactory, tmp_path: Path
) -> None:
    async with make_engine(data_dir=tmp_path) as engine:
        assert engine.shared is not None
        seen = _count(engine)
        beats = 3 * QUIET_FULL_EVERY
        for _ in range(beats):
            await engine.shared.beat()
        assert seen["renew_instance"] == seen["instances"] == beats  # the lease and the look for others: every beat
        assert seen["forget_instances"] == 3  # one beat in QUIET_FULL_EVERY sweeps, scans and re-reads
        assert seen["orphans"] <= 3 * 2 and seen["changed_since"] == 3 * 2  # accounts and timings


async def test_with_another_process_every_beat_runs_in_full_and_a_clean_leave_is_adopted_at_once(
    make_engine: EngineFactory, fake_jimeng: FakeJimeng, tmp_path: Path
) -> None:
    fake_jimeng.image_seconds = 1.0
    async with make_engine(data_dir=tmp_path) as one:
        assert one.shared is not None
        for _ in range(2):
            await one.shared.beat()  # quiet by now
        seen = _count(one)
        async with make_engine(data_dir=tmp_path) as two:
            await one.shared.beat()
            await one.shared.beat()
            assert seen["forget_instances"] == 2 and seen["changed_since"] == 4  # another process: in full
            job = await two.imagine(ImageParams(prompt="a lighthouse"))
            while not fake_jimeng.calls(PATH_GENERATE):
                await asyncio.sleep(0.02)
        # two stopped cleanly with its job still running upstream: one's next beat (its first alone) adopts it.
        await one.shared.beat()
        assert seen["forget_instances"] == 3
        adopted = await asyncio.wait_for(one.settled(job.id), 15)
        assert adopted is not None and adopted.assets
        assert len(fake_jimeng.calls(PATH_GENERATE)) == 1  # polled by its submit id, never sent again
