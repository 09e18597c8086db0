"""The Jimeng emulator as the benchmarks use it: generation time + 0–1 s jitter, result files of realistic size.

The emulator's own jitter is multiplicative (``base × (1 ± jitter)``); "base + U(0, 1) s" is the same thing with
``image_seconds = base + 0.5`` and ``jitter = 0.5 / (base + 0.5)``. Its stock result images are tiny lossless
WebPs (32 KB for 2048²), which would make every memory figure meaningless, so the benchmark serves real noise WebPs
(≈ 2.8 MB at 2048², ≈ 11 MB at 4096², like photos) — one per size, encoded once and shared by every asset.
"""

from __future__ import annotations

import hashlib
import io
import os
import random
import threading
from collections.abc import Iterable
from typing import Any

from PIL import Image

from emulator import FakeJimeng, FakeJob
from emulator.media import make_webp

PATH_CATEGORY = {
    "/mweb/v1/aigc_draft/generate": "submit",
    "/mweb/v1/get_history_by_ids": "history",
    "/mweb/v1/get_history": "history",
    "/mweb/v1/get_history_queue_info": "history",
    "/mweb/v1/get_local_item_list": "rendition",
    "/commerce/v1/benefits/user_credit": "credit",
    "/commerce/v1/benefits/credit_receive": "credit",
    "/commerce/v1/benefits/user_credit_history": "credit",
    "/mweb/v1/get_upload_token": "upload",
    "/mweb/v1/get_common_config": "config",
}
CATEGORIES = ("submit", "history", "rendition", "credit", "upload", "config", "other")

_payloads: dict[tuple[int, int], bytes] = {}
_lock = threading.Lock()
_realistic = False


def _realistic_webp(width: int, height: int, seed: str) -> bytes:
    """A photo-sized WebP (random noise, lossy): the same bytes object for every asset of one size."""
    if width * height < 1024 * 1024:  # covers and thumbnails stay cheap
        return make_webp(width, height, seed)
    with _lock:
        data = _payloads.get((width, height))
        if data is None:
            rng = random.Random(width * 7919 + height)
            im = Image.frombytes("RGB", (width, height), rng.randbytes(width * height * 3))
            buf = io.BytesIO()
            im.save(buf, "WEBP", quality=80, method=0)
            data = _payloads[(width, height)] = buf.getvalue()
        return data


def use_realistic_images() -> None:
    """Emulators started from now on serve photo-sized result images."""
    global _realistic
    _realistic = True


def payload_size(width: int, height: int) -> int:
    return len(_realistic_webp(width, height, ""))


def sid(name: str) -> str:
    """A realistic 32-hex session id (never a real one)."""
    return hashlib.md5(f"bench-{name}-{os.getpid()}".encode()).hexdigest()


async def start_emulator(base_s: float, jitter_s: float = 1.0, *, seed: int = 7, **switches: Any) -> FakeJimeng:
    """An emulator whose jobs (images and videos alike) take ``base_s`` + U(0, ``jitter_s``) seconds; ``switches``
    are the emulator's INVENTED-behaviour switches (``emulator.switches``)."""
    mean = base_s + jitter_s / 2
    jitter = (jitter_s / 2) / mean if mean else 0.0
    fake = FakeJimeng(image_seconds=mean, video_seconds=mean, jitter=jitter, seed=seed, **switches)
    if _realistic:
        fake.render_image = _realistic_webp
    await fake.start()
    return fake


def add_accounts(fake: FakeJimeng, names: Iterable[str]) -> list[str]:
    out = []
    for name in names:
        s = sid(name)
        fake.add_account(s, credits=10_000_000)
        out.append(s)
    return out


def count_requests(
    fake: FakeJimeng, sessionids: Iterable[str], since: float, until: float | None = None
) -> dict[str, int]:
    """Upstream requests by category from these accounts in [since, until] (emulator clock)."""
    wanted = set(sessionids)
    counts = dict.fromkeys(CATEGORIES, 0)
    for r in fake.requests:
        if r.time < since or (until is not None and r.time > until):
            continue
        if r.sessionid in wanted:  # ImageX / CDN requests carry no cookie: text-to-image needs neither
            counts[PATH_CATEGORY.get(r.path, "other")] += 1
    return counts


def done_at(fake: FakeJimeng, submit_id: str) -> float:
    return fake.done_at(submit_id)


def ready_at(fake: FakeJimeng, submit_id: str) -> float:
    """When every result item was present (``FakeJimeng.ready_at``, which follows the timeline switches)."""
    return fake.ready_at(submit_id)


def job_by_prompt(fake: FakeJimeng, prompt: str) -> FakeJob | None:
    for job in fake.jobs.values():
        if job.prompt == prompt:
            return job
    return None


def upstream_window(fake: FakeJimeng, submit_id: str) -> tuple[float, float] | None:
    """(generate request arrived, last history request that asked for this job arrived) on the emulator clock."""
    start = end = None
    for r in fake.requests:
        if (
            r.path == "/mweb/v1/aigc_draft/generate"
            and isinstance(r.json, dict)
            and r.json.get("submit_id") == submit_id
        ):
            start = r.time if start is None else start
        elif (
            r.path == "/mweb/v1/get_history_by_ids"
            and isinstance(r.json, dict)
            and submit_id in (r.json.get("submit_ids") or ())
        ):
            end = r.time
    if start is None or end is None:
        return None
    return start, end
