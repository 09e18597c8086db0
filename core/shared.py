"""Several processes on one data directory (issue #16): this process's identity, its lease, and what it reads back.

``Sharing`` is the engine's side of ``core.leases``. It gives the process an instance id and keeps its lease alive
with a heartbeat (every third of ``lease_s``). Each beat also: forgets instances whose lease expired (or, on this
host, whose pid is gone: a killed process is noticed at the next beat, not after the whole expiry), lets the pool's
waiters look at the store again (a slot another process gave back wakes no one here), runs the engine's recovery
scan (it adopts the jobs of dead processes) and reads what other processes learned (timings) and changed (account
state). On SQLite there is no notification between processes: the beat is the short poll.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import date
from functools import partial
from typing import TYPE_CHECKING, Any, cast

from core.accounts import Account
from core.announce import LeaseStore
from core.errors import JimengError, StoreUnavailableError
from core.leases import Instance
from core.policy import CLAIM_LEASE_S, QUIET_FULL_EVERY
from core.pollshare import AccountShare

if TYPE_CHECKING:
    from core.engine import Engine
    from core.pollstore import SqlitePolls

log = logging.getLogger(__name__)

Beat = Callable[[], Awaitable[None]]
_HERE: set[str] = set()  # instances started in this process and not closed (tests run several engines in one)


def new_instance_id() -> str:
    return f"{socket.gethostname()[:24]}-{os.getpid()}-{uuid.uuid4().hex[:8]}"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


class Sharing:
    def __init__(self, store: LeaseStore, *, instance: str | None = None, lease_s: float) -> None:
        self.store = store
        self.id = instance or new_instance_id()
        self.host = socket.gethostname()
        self.lease_s = lease_s
        self.beats: list[Beat] = []  # the engine's work on each beat (recovery scan, refresh, waking waiters)
        self.on_lost: Beat | None = None  # our lease had expired: let go of the jobs others adopted meanwhile
        self.closing = False
        self.away = False  # the last beat could not reach the store (PostgreSQL away)
        self.others = 0  # other live instances at the last reap: with none, every poller polls alone (core.pollshare)
        self._alone = 0  # reaps in a row that saw no other instance, alive or dead (a single process: beats are quiet)
        self._refused = False  # a take queued as if alone was refused: others hold slots (until the next reap)
        self._joined = False  # registered in the store (a process that never started leaves nothing behind)
        self._task: asyncio.Task[None] | None = None
        store.instance = self.id

    @property
    def interval(self) -> float:
        return self.lease_s / 3

    async def start(self) -> None:
        await self.store.renew_instance(self.id, self.host, os.getpid(), time.time() + self.lease_s)
        self._joined = True
        _HERE.add(self.id)
        await self.reap()
        log.info("instance %s: lease %.0f s on the shared store", self.id, self.lease_s)
        if self._task is None:
            self._task = asyncio.create_task(self._beat_forever(), name="store-heartbeat")

    @property
    def started(self) -> bool:
        return self._task is not None

    async def stop(self) -> None:
        """Stop beating; from now on ``give`` keeps the slots of jobs being cancelled (still running upstream)."""
        self.closing = True
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def leave(self) -> None:
        """Give up the lease at once (after our jobs stopped): another process adopts the unfinished ones, with
        their slots, at its next beat."""
        if not self._joined:
            return
        _HERE.discard(self.id)
        with contextlib.suppress(Exception):
            await self.store.forget_instances([self.id])

    async def _beat_forever(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.beat()
            except asyncio.CancelledError:
                raise
            except StoreUnavailableError as err:  # the database is away (PostgreSQL): one line, not a traceback
                log.warning("instance %s: heartbeat: %s", self.id, err.message)
                self.away = True
            except Exception:
                log.exception("instance %s: heartbeat failed; trying again in %.1f s", self.id, self.interval)

    async def beat(self) -> None:
        renewed = await self.store.renew_instance(self.id, self.host, os.getpid(), time.time() + self.lease_s)
        if not renewed:
            log.warning(
                "instance %s: our lease had expired (the process was paused longer than %.0f s); another process "
                "may have adopted our jobs",
                self.id,
                self.lease_s,
            )
            if self.on_lost is not None:
                await self.on_lost()
        if self.away:  # the database is back: every process's lease looks expired; give them a beat to renew theirs
            self.away = False
            return
        if await self.reap(quiet_ok=True):
            return  # alone on the store since the last beat: nothing of another process to adopt, read or wait for
        for step in self.beats:
            await step()

    def _dead(self, inst: Instance, now: float) -> bool:
        if inst.id == self.id:
            return False
        if inst.expires_at < now:
            return True
        # On this host, a pid that is gone is a dead process; so is our own pid under an id this process does not run
        # (a container restarted: pid 1 again).
        if inst.host != self.host:
            return False
        return inst.id not in _HERE if inst.pid == os.getpid() else not _pid_alive(inst.pid)

    async def reap(self, *, quiet_ok: bool = False) -> bool:
        """Forget dead instances (and free slots nothing holds). With ``quiet_ok`` (the heartbeat), True when this
        beat may skip that and the engine's beats: no other instance was seen at this reap nor the one before (the
        first beat alone still runs in full: it adopts what a process that left cleanly did not finish), except
        every ``QUIET_FULL_EVERY``-th, which sweeps anyway (a slot whose give never reached the store)."""
        now = time.time()
        instances = await self.store.instances()
        dead = [i.id for i in instances if self._dead(i, now)]
        self.others = sum(1 for i in instances if i.id != self.id and i.id not in dead)
        self._refused = False
        self._alone = 0 if (self.others or dead) else self._alone + 1
        if quiet_ok and self._alone > 1 and self._alone % QUIET_FULL_EVERY:
            return True
        if dead:
            log.info("instance %s: %d other process(es) gone: %s", self.id, len(dead), ", ".join(dead))
        await self.store.forget_instances(dead)
        return False

    # ------------------------------------------------------------------------------------------------ slots

    async def take(self, acc: Account, holder: str) -> bool:
        return await self.store.take_slot(acc.key, holder, self.id, acc.limit)

    @property
    def alone(self) -> bool:
        """No other live process at the last reap and no take refused since: a take queued without waiting will
        almost surely be granted (``take_soon``; a process started since is noticed at the next beat)."""
        return self.others == 0 and not self._refused

    def take_soon(self, acc: Account, holder: str) -> asyncio.Future[Any]:
        """Queue a take without waiting: its answer comes with the transaction that commits what the job writes next
        (its row, its write-ahead body). The caller learns it before anything leaves for the account (core.pool)."""
        return self.store.take_slot_soon(acc.key, holder, self.id, acc.limit)

    def refused(self) -> None:
        """A take queued as if alone was refused: wait for each take again until the next reap."""
        self._refused = True

    def give(self, holder: str) -> None:
        """Give a slot back without waiting for the commit (a failure is logged; the lease's end frees it then)."""
        if not self.closing:  # at shutdown the job is left to another process, its slot with it
            self.store.give_slot(holder, self.id).add_done_callback(self._given)

    def _given(self, fut: asyncio.Future[Any]) -> None:
        if not fut.cancelled() and fut.exception() is not None:
            log.warning("instance %s: a slot could not be given back: %s", self.id, fut.exception())

    # ------------------------------------------------------------------------------------------------ daily claim

    async def begin_claim(self, acc: Account, day: date) -> bool:
        return await self.store.begin_claim(acc.key, day.isoformat(), self.id, time.time() + CLAIM_LEASE_S)

    async def end_claim(self, acc: Account, day: date, *, done: bool) -> None:
        await self.store.end_claim(acc.key, day.isoformat(), done=done)


def share(engine: Engine) -> Sharing | None:
    """Wire an engine to the other processes on its store (None when the store is this process's alone)."""
    store = engine.store
    if not isinstance(store, LeaseStore):  # SQLite or PostgreSQL (core.announce): leases and the poll calls
        return None
    shared = Sharing(store, instance=engine.config.instance_id, lease_s=engine.config.lease_s)
    engine.pool.shared = shared
    engine.deliveries.shared = shared
    polls = cast("SqlitePolls", store)  # or core.pgpolls.PgPolls: the same calls (core.announce.LeaseStore)
    engine.dispatcher.polls = partial(AccountShare, polls, shared)  # one poller per account for all processes
    engine.deliveries.rescan = engine.recovery.recover
    shared.beats += [engine.pool.wake, engine.recovery.recover, _refresher(engine, store, shared)]
    shared.on_lost = partial(_let_go, engine, store, shared)
    return shared


async def _let_go(engine: Engine, store: LeaseStore, shared: Sharing) -> None:
    """Back from a pause longer than our lease: the jobs another process adopted meanwhile are its own now. Stop
    running them here, writing nothing (the adopter writes their outcome); whoever waits on one here is told."""
    live = [job_id for job_id, job in engine._jobs.items() if not job.state.terminal]
    gone = {job_id for job_id, owner in (await store.owners(live)).items() if owner not in (None, shared.id)}
    for job_id in gone:
        job = engine._jobs.pop(job_id)
        job.fail(JimengError("another process took this job over while this one was paused; ask for it by its id"))
        log.warning("job %s: adopted by another process while we were paused; no longer running it here", job_id)
    for task in list(engine._tasks):
        if task.get_name().removeprefix("job:") in gone:
            task.cancel()


def _refresher(engine: Engine, store: LeaseStore, shared: Sharing) -> Beat:
    """What other processes learned (timings) and changed (account state: cool-downs, credits, the claim)."""
    last = time.time()

    async def refresh() -> None:
        nonlocal last
        since, last = last - 2 * shared.interval, time.time()  # rows committed a little after they were stamped
        engine.timings.load(await store.changed_since("timings", since))
        for key, data in (await store.changed_since("accounts", since)).items():
            acc = engine.pool.get(key)
            if acc is not None and acc.pooled:
                acc.restore(data)

    return refresh
