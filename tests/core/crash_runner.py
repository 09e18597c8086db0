"""A small core runner for the crash test: a real process with a durable engine, driven over stdin/stdout.

stdin, one JSON object per line:  {"op": "image", "prompt": ...} | {"op": "video", "prompt": ...} | {"op": "read", "job": id}
stdout, one JSON object per line: {"event": "ready"} | {"event": "accepted", "job": id, "submit_id": ...}
                                  | {"event": "delivered", "job": id, "state": ..., "paths": [...], "recovered": bool}
                                  | {"event": "read", "job": id, "sizes": [...]} | {"event": "error", ...}
Configuration comes from JIMENG_* environment variables, as for the real services.
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

import aiohttp

from core import Engine, ImageParams, Job, JobState, Timing, VideoParams
from core.settings import load_settings


def emit(**fields: Any) -> None:
    sys.stdout.write(json.dumps(fields) + "\n")
    sys.stdout.flush()


async def deliver(engine: Engine, job: Job) -> None:
    ev = job.last_event
    kept = await engine.settled(job.id)  # the result once its files are copied to the data directory
    paths = [a.path for a in kept.assets] if kept else []
    emit(event="delivered", job=job.id, state=ev.state.value, paths=paths, recovered=job.recovered,
         error=ev.error.message if ev.error else None)  # fmt: skip


async def follow(engine: Engine, job: Job) -> None:
    async for _ in job.events():
        pass
    await deliver(engine, job)
    await engine.mark_delivered(job.id)


async def main() -> None:
    config = load_settings().engine_config()
    config.maintenance = False
    config.timing = Timing(image_expected=0.5, video_expected=0.8, image_interval=0.2, video_interval=0.2,
                           min_first_poll=0.1, unseen_grace=1.0)  # fmt: skip
    async with aiohttp.ClientSession() as http:
        engine = Engine(http, config)

        async def handler(job: Job) -> None:
            await deliver(engine, job)

        engine.set_delivery_handler(handler)
        await engine.start()
        emit(event="ready")
        loop = asyncio.get_running_loop()
        tasks: set[asyncio.Task[None]] = set()
        reader = asyncio.StreamReader()
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
        while line := await reader.readline():
            cmd = json.loads(line)
            if cmd["op"] == "image":
                job = await engine.imagine(ImageParams(prompt=cmd["prompt"], count=cmd.get("count", 1)))
            elif cmd["op"] == "video":
                job = await engine.video(VideoParams(prompt=cmd["prompt"], duration=5))
            elif cmd["op"] == "read":
                rec = await engine.job_record(cmd["job"])
                sizes = []
                from core.jobs import JobResult

                for asset in JobResult.from_dict(rec.result).assets if rec and rec.result else []:
                    async with engine.download(asset) as dl:
                        sizes.append(len(await dl.read()))
                emit(event="read", job=cmd["job"], sizes=sizes)
                continue
            else:
                continue
            emit(event="accepted", job=job.id, submit_id=job.submit_id, state=JobState.QUEUED.value)
            t = asyncio.create_task(follow(engine, job))
            tasks.add(t)
            t.add_done_callback(tasks.discard)
        await asyncio.gather(*tasks)
        await engine.close()


if __name__ == "__main__":
    asyncio.run(main())
