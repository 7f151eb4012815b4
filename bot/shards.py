"""The shards of a sharded bot, as /status shows them: `Shards`, and `shard_status` to read them from the client."""

from __future__ import annotations

from dataclasses import dataclass

import discord

from index import DiscordConfig


@dataclass(frozen=True)
class Shards:
    """The shards one process of a sharded bot runs, for /status."""

    count: int  # the bot's shards, in all its processes together
    latencies: tuple[tuple[int, float], ...]  # (shard id, seconds from heartbeat to its acknowledgement)
    here: int  # the shard whose connection brought the question (a server's; a DM's is 0)


def shard_status(client: discord.Client, config: DiscordConfig, guild_id: int | None) -> Shards | None:
    """The shards this process runs, their latencies (infinite until a shard's first heartbeat is answered),
    and the shard of this server (a DM's: 0); None when the bot is not sharded."""
    if not isinstance(client, discord.AutoShardedClient):
        return None  # a bot that is not sharded has one connection for every server
    count = config.shard_count
    here = (guild_id >> 22) % count if guild_id is not None else 0
    return Shards(count, tuple(sorted(client.latencies)), here)
