"""Shared checks: the channel allow-list, the admin check used by commands and buttons, guild-only."""

from __future__ import annotations

import discord
from discord import app_commands


class ChannelNotAllowed(app_commands.CheckFailure):
    """The command was used outside the configured channels."""

    def __init__(self, channels: tuple[int, ...]) -> None:
        super().__init__("channel not allowed")
        self.channels = channels


def channel_allowed(channel_ids: tuple[int, ...], interaction: discord.Interaction) -> bool:
    """True when there is no allow-list, or the interaction's channel (or a thread's parent) is on it."""
    if not channel_ids:
        return True
    channel = interaction.channel
    ids = {interaction.channel_id}
    parent = getattr(channel, "parent_id", None)
    if parent:
        ids.add(parent)
    return bool(ids & set(channel_ids))


def can_manage_guild(interaction: discord.Interaction) -> bool:
    """The runtime admin check (Discord's default_permissions is only a hint a server can override)."""
    if interaction.guild is None:
        return False
    return interaction.permissions.manage_guild
