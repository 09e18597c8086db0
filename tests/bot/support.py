"""Small helpers for reading the fake Discord's records in bot tests."""

from __future__ import annotations

from typing import Any

from tests.fakes.discord import Call, FakeDiscord, FakeInteraction


def custom_ids(message: dict[str, Any]) -> list[str]:
    return [c["custom_id"] for c in FakeDiscord._walk_components(message.get("components", [])) if "custom_id" in c]


def patches(ix: FakeInteraction) -> list[Call]:
    return [c for c in ix.calls if c.method == "PATCH" and c.status == 200]


def status_patches(ix: FakeInteraction) -> list[Call]:
    """Edits that only changed the text (the status), before the result."""
    return [c for c in patches(ix) if not c.files and not (c.json or {}).get("embeds")]


async def result(fake: FakeDiscord, ix: FakeInteraction, timeout: float = 10.0) -> dict[str, Any]:
    """Wait until the interaction's original message carries the result embed; return it."""
    return await fake.wait_until(
        lambda: ix.original if ix.original and ix.original.get("embeds") else None, timeout=timeout
    )


async def ephemeral(fake: FakeDiscord, ix: FakeInteraction, timeout: float = 10.0) -> dict[str, Any]:
    """Wait for an ephemeral message made for ``ix`` (a followup, or the callback's own message)."""

    def find() -> dict[str, Any] | None:
        for m in [*([ix.original] if ix.original else []), *ix.followups]:
            if m.get("flags", 0) & 64 and (m.get("content") or m.get("embeds")):
                return m
        return None

    return await fake.wait_until(find, timeout=timeout)
