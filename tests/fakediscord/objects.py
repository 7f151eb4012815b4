"""The things the fake Discord deals in: ids, users, what the bot sent, and the payloads of a guild."""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field
from typing import Any

from fakediscord.rules import EPHEMERAL, EVERYDAY

_ids = itertools.count(1_300_000_000_000_000_000)


def snowflake() -> int:
    """A fresh id shaped like Discord's (19 digits, so mention patterns apply to it)."""
    return next(_ids)


def snowflake_on_shard(shard_id: int, shard_count: int) -> int:
    """A fresh server id whose events Discord sends to this shard: (id >> 22) % shard_count == shard_id."""
    base = snowflake()
    return base + (((shard_id - (base >> 22)) % shard_count) << 22)


@dataclass(frozen=True)
class FakeUser:
    """A Discord user, with the roles and channel permissions they have in the fake guild."""

    id: int
    name: str
    bot: bool = False
    roles: tuple[int, ...] = ()
    permissions: int = EVERYDAY

    def payload(self) -> dict[str, Any]:
        """The user object."""
        return {"id": str(self.id), "username": self.name, "discriminator": "0", "global_name": self.name,
                "avatar": None, "bot": self.bot, "public_flags": 0}

    def member(self, *, with_user: bool = True) -> dict[str, Any]:
        """The guild member object (permissions as interactions carry them)."""
        member: dict[str, Any] = {"roles": [str(r) for r in self.roles], "joined_at": "2025-01-01T00:00:00+00:00",
                                  "deaf": False, "mute": False, "flags": 0, "nick": None, "avatar": None,
                                  "permissions": str(self.permissions)}
        if with_user:
            member["user"] = self.payload()
        return member


@dataclass(frozen=True)
class FakeAttachment:
    """A file a user attached to a slash command option; the fake serves its bytes at `url`."""

    id: int
    filename: str
    data: bytes
    content_type: str | None
    url: str
    size: int  # what Discord says it is; the real size unless a test says otherwise

    def payload(self) -> dict[str, Any]:
        """The attachment object, as in an interaction's `resolved.attachments`."""
        payload: dict[str, Any] = {"id": str(self.id), "filename": self.filename, "size": self.size,
                                   "url": self.url, "proxy_url": self.url, "ephemeral": True}
        if self.content_type is not None:
            payload["content_type"] = self.content_type
        return payload


@dataclass
class Sent:
    """One thing the bot sent: a message, an edit, an interaction callback, a typing indicator."""

    kind: str  # "callback", "followup", "edit", "message", "typing"
    path: str
    body: dict[str, Any]
    message_id: int | None = None
    token: str | None = None
    channel_id: int | None = None
    at: float = field(default_factory=time.monotonic)

    @property
    def data(self) -> dict[str, Any]:
        """The message fields: the body itself, or an interaction callback's `data`."""
        return (self.body.get("data") or {}) if self.kind == "callback" else self.body

    @property
    def content(self) -> str:
        """The message text ('' when none)."""
        return self.data.get("content") or ""

    @property
    def embeds(self) -> list[dict[str, Any]]:
        """The embeds, as sent."""
        return self.data.get("embeds") or []

    @property
    def flags(self) -> int:
        """The message flags (64: ephemeral)."""
        return int(self.data.get("flags") or 0)

    @property
    def ephemeral(self) -> bool:
        """Whether only the user sees it."""
        return bool(self.flags & EPHEMERAL)

    @property
    def text(self) -> str:
        """Content and every embed's text, for searching."""
        parts = [self.content]
        for embed in self.embeds:
            footer = (embed.get("footer") or {}).get("text") or ""
            parts += [embed.get("title") or "", embed.get("description") or "", footer]
            parts += [f"{f['name']}\n{f['value']}" for f in embed.get("fields", [])]
        return "\n".join(parts)


def channel_payload(guild_id: int, channel_id: int) -> dict[str, Any]:
    """The guild text channel everything happens in."""
    return {"id": str(channel_id), "type": 0, "guild_id": str(guild_id), "name": "general",
            "position": 0, "permission_overwrites": [], "nsfw": False, "parent_id": None, "topic": None,
            "last_message_id": None, "rate_limit_per_user": 0, "flags": 0}


def guild_payload(guild_id: int, channel_id: int, me: FakeUser, admin_role_id: int, bot_role_id: int) -> dict[str, Any]:
    """The GUILD_CREATE payload: one channel, an admin role, the bot's own managed role, the bot as member."""

    def role(role_id: int, name: str, permissions: int, **extra: Any) -> dict[str, Any]:
        return {"id": str(role_id), "name": name, "color": 0, "colors": {"primary_color": 0}, "hoist": False,
                "position": 0, "permissions": str(permissions), "managed": False, "mentionable": True,
                "flags": 0, **extra}

    return {
        "id": str(guild_id), "name": "Test server", "owner_id": str(snowflake()), "unavailable": False,
        "member_count": 3, "large": False, "features": [], "emojis": [], "stickers": [], "icon": None,
        "roles": [role(guild_id, "@everyone", EVERYDAY), role(admin_role_id, "Librarians", EVERYDAY),
                  role(bot_role_id, "articlebot", EVERYDAY, managed=True, tags={"bot_id": str(me.id)})],
        "channels": [channel_payload(guild_id, channel_id)], "threads": [], "voice_states": [], "presences": [],
        "members": [FakeUser(me.id, me.name, bot=True, roles=(bot_role_id,)).member()],
        "stage_instances": [], "guild_scheduled_events": [], "soundboard_sounds": [],
        "verification_level": 0, "default_message_notifications": 0, "explicit_content_filter": 0,
        "mfa_level": 0, "nsfw_level": 0, "premium_tier": 0, "preferred_locale": "en-US",
        "joined_at": "2025-01-01T00:00:00+00:00", "system_channel_flags": 0,
    }
