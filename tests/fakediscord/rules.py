"""Discord's rules, as the fake enforces them: flags, permission bits, message limits, what pings."""

from __future__ import annotations

import re
from typing import Any

EPHEMERAL = 1 << 6
LOADING = 1 << 7
# Permission bits, as Discord sends them in `member.permissions`.
ADMINISTRATOR = 1 << 3
MANAGE_GUILD = 1 << 5
EVERYDAY = (1 << 10) | (1 << 11) | (1 << 14) | (1 << 16) | (1 << 31)  # view, send, embed, history, app commands

# Mentions Discord would turn into pings (discord.utils.escape_mentions defuses exactly these).
LIVE_MENTION = re.compile(r"@(everyone|here)|<@[!&]?[0-9]{17,20}>")


def limit_problems(message: dict[str, Any]) -> list[str]:
    """What Discord would refuse in a message payload (content and embeds), as readable problems."""
    problems = []
    content = message.get("content") or ""
    embeds = message.get("embeds") or []
    if len(content) > 2000:
        problems.append(f"content is {len(content)} characters (limit 2000)")
    if len(embeds) > 10:
        problems.append(f"{len(embeds)} embeds (limit 10)")
    total = 0
    for embed in embeds:
        fields = embed.get("fields") or []
        parts = {"title": (embed.get("title") or "", 256), "description": (embed.get("description") or "", 4096),
                 "footer": ((embed.get("footer") or {}).get("text") or "", 2048),
                 "author": ((embed.get("author") or {}).get("name") or "", 256)}
        for name, (text, limit) in parts.items():
            if len(text) > limit:
                problems.append(f"embed {name} is {len(text)} characters (limit {limit})")
            total += len(text)
        if len(fields) > 25:
            problems.append(f"{len(fields)} embed fields (limit 25)")
        for f in fields:
            if not f.get("name") or not f.get("value"):
                problems.append(f"empty embed field name or value: {f}")
            if len(f.get("name") or "") > 256 or len(f.get("value") or "") > 1024:
                problems.append(f"embed field over its limits: name {len(f.get('name') or '')}, "
                                f"value {len(f.get('value') or '')}")
            total += len(f.get("name") or "") + len(f.get("value") or "")
    if total > 6000:
        problems.append(f"embeds total {total} characters (limit 6000)")
    return problems


def live_mentions(message: dict[str, Any]) -> list[str]:
    """The mentions in a message's text that would ping if allowed_mentions allowed it."""
    texts = [message.get("content") or ""]
    for embed in message.get("embeds") or []:
        footer = (embed.get("footer") or {}).get("text") or ""
        texts += [embed.get("title") or "", embed.get("description") or "", footer]
        texts += [f"{f.get('name')} {f.get('value')}" for f in embed.get("fields") or []]
    return [m.group(0) for text in texts for m in LIVE_MENTION.finditer(text)]
