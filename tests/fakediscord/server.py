"""The fake Discord itself: REST routes and the gateway WebSocket on an ephemeral loopback port.

It shards as Discord does: each gateway connection identifies as one shard ([shard_id, shard_count],
none meaning [0, 1]) and is sent READY, GUILD_CREATE and the events of the servers on that shard only,
`(guild_id >> 22) % shard_count`; direct messages go to shard 0. Several processes of one bot may
connect to one fake, each with its own shards.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import quote

from aiohttp import WSMsgType, web

from fakediscord.objects import FakeAttachment, FakeUser, Sent, channel_payload, guild_payload, snowflake
from fakediscord.rules import EPHEMERAL, EVERYDAY, LOADING, limit_problems

T = TypeVar("T")
API_PREFIX = "/api/v10"


@dataclass
class GatewaySession:
    """One shard's gateway session: its connection (replaced when it resumes) and its event numbers."""

    shard_id: int
    shard_count: int
    session_id: str
    ws: web.WebSocketResponse
    seq: int = 0

    @property
    def open(self) -> bool:
        """Whether its connection can take events now."""
        return not self.ws.closed


@dataclass
class FakeInteraction:
    """An interaction the fake dispatched, with what the bot answered to it."""

    fake: FakeDiscord
    id: int
    token: str

    @property
    def sent(self) -> list[Sent]:
        """Everything the bot sent for this interaction, in order."""
        return [s for s in self.fake.sent if s.token == self.token]

    async def callback(self, timeout: float = 10) -> Sent:
        """The interaction response (defer, message, update)."""
        return await self.fake.wait_for(lambda: next((s for s in self.sent if s.kind == "callback"), None),
                                        timeout, f"the response to interaction {self.id}")

    async def followup(self, timeout: float = 30) -> Sent:
        """The first follow-up message."""
        return await self.fake.wait_for(lambda: next((s for s in self.sent if s.kind == "followup"), None),
                                        timeout, f"a follow-up to interaction {self.id}")

    async def edit(self, predicate: Callable[[Sent], bool], timeout: float = 30) -> Sent:
        """The first edit of the original response that satisfies `predicate`."""
        return await self.fake.wait_for(
            lambda: next((s for s in self.sent if s.kind == "edit" and predicate(s)), None),
            timeout, f"an edit of interaction {self.id}'s response")


class FakeDiscord:
    """Discord's REST API and gateway, as much of them as the bot uses, on an ephemeral loopback port."""

    def __init__(self, token: str, *, heartbeat_interval: float = 41.25, guilds: int | Sequence[int] = 1) -> None:
        self.token = token
        self.heartbeat_interval = heartbeat_interval
        self.app_id = snowflake()
        self.me = FakeUser(snowflake(), "articlebot", bot=True)
        # The servers the bot is in (`guilds`: how many, or their ids, as after a restart), each with one
        # text channel, an admin role and the bot's own role. Everything happens in the first
        # (guild_id, channel_id) unless a test names another.
        self.guild_ids = [snowflake() for _ in range(guilds)] if isinstance(guilds, int) else list(guilds)
        self.channels = {guild: snowflake() for guild in self.guild_ids}  # guild id -> its channel
        self.roles = {guild: (snowflake(), snowflake()) for guild in self.guild_ids}  # guild id -> (admin, bot)
        self.guild_id = self.guild_ids[0]
        self.channel_id = self.channels[self.guild_id]
        self.admin_role_id, self.bot_role_id = self.roles[self.guild_id]
        self.sent: list[Sent] = []
        self.requests: list[str] = []
        self.unknown: list[str] = []
        self.problems: list[str] = []
        self.synced: dict[int | None, list[dict[str, Any]]] = {}
        self.messages: dict[int, dict[str, Any]] = {}
        self.threads: dict[int, int] = {}  # thread id -> the message it was started from
        self.identifies = 0
        self.identified: list[tuple[int, int]] = []  # each IDENTIFY's [shard_id, shard_count]
        self.resumes: list[str] = []  # the path each RESUME came in on
        self.heartbeats: list[float] = []
        self.close_codes: list[int | None] = []
        self.sessions: dict[int, GatewaySession] = {}  # shard id -> its latest session
        self.shard_count = 1  # learnt from the IDENTIFYs; every shard must say the same
        # Knobs for tests: a slow network for interaction responses, and follow-ups Discord refuses.
        self.callback_delay = 0.0
        self.refuse_followups = 0
        self.attachments: dict[int, FakeAttachment] = {}
        self.downloads: list[int] = []  # the attachment ids the bot downloaded
        self._changed = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.port = 0

    # --- lifecycle ------------------------------------------------------------------------------

    async def start(self) -> None:
        """Listen on an ephemeral port of 127.0.0.1."""
        app = web.Application()
        app.router.add_get("/gateway", self._gateway)
        app.router.add_get("/resume-gateway", self._gateway)
        app.router.add_get("/attachments/{id}/{name:.+}", self._attachment)  # Discord's CDN
        api = API_PREFIX
        routes = [
            ("GET", "/gateway", self._get_gateway), ("GET", "/gateway/bot", self._get_gateway),
            ("GET", "/users/@me", self._users_me), ("GET", "/oauth2/applications/@me", self._application),
            ("PUT", "/applications/{app}/commands", self._sync),
            ("PUT", "/applications/{app}/guilds/{guild}/commands", self._sync),
            ("POST", "/interactions/{id}/{token}/callback", self._callback),
            ("POST", "/webhooks/{app}/{token}", self._followup),
            ("PATCH", "/webhooks/{app}/{token}/messages/{message}", self._edit_webhook_message),
            ("GET", "/webhooks/{app}/{token}/messages/{message}", self._get_webhook_message),
            ("POST", "/channels/{channel}/messages", self._channel_message),
            ("POST", "/channels/{channel}/typing", self._typing),
            ("POST", "/channels/{channel}/messages/{message}/threads", self._start_thread),
        ]
        for method, path, handler in routes:
            app.router.add_route(method, api + path, handler)
        app.router.add_route("*", "/{tail:.*}", self._unknown_route)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def stop(self) -> None:
        """Close the gateway connections and stop listening."""
        for session in list(self.sessions.values()):
            if session.open:
                await session.ws.close()
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def api_url(self) -> str:
        """What `discord.api_base_url` should be."""
        return f"http://127.0.0.1:{self.port}{API_PREFIX}"

    @property
    def gateway_url(self) -> str:
        """What `discord.gateway_url` should be."""
        return f"ws://127.0.0.1:{self.port}/gateway"

    # --- waiting and failing --------------------------------------------------------------------

    def notify(self) -> None:
        """Wake whoever waits for something to happen (call on the event loop)."""
        self._changed.set()

    def fail(self, problem: str) -> None:
        """Record a problem that fails the test at its next wait (call on the event loop)."""
        self.problems.append(problem)
        self.notify()

    def check(self) -> None:
        """Raise if anything went wrong so far."""
        if self.problems:
            raise AssertionError("fake Discord saw problems:\n" + "\n---\n".join(self.problems))

    async def wait_for(self, predicate: Callable[[], T | None], timeout: float = 15, what: str = "it") -> T:
        """Wait until `predicate()` returns something truthy and return it; fail at once on a problem."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            self.check()
            result = predicate()
            if result:
                return result
            remaining = deadline - loop.time()
            if remaining <= 0:
                recent = "\n".join(f"  {s.kind} {s.path}: {s.text[:200]!r}" for s in self.sent[-8:])
                raise AssertionError(f"timed out after {timeout} s waiting for {what}; last sent:\n{recent}")
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), remaining)

    @property
    def session_id(self) -> str:
        """Shard 0's session id ('' before it identifies)."""
        session = self.sessions.get(0)
        return session.session_id if session is not None else ""

    def shard_of(self, guild_id: int | None) -> int:
        """The shard whose connection gets this server's events (direct messages: shard 0)."""
        return 0 if guild_id is None else (guild_id >> 22) % self.shard_count

    def connected(self) -> set[int]:
        """The shards whose connection is open now."""
        return {shard for shard, session in self.sessions.items() if session.open}

    async def ready(self, timeout: float = 15, *, shards: Sequence[int] = (0,)) -> None:
        """Wait until the bot has synced its commands and these shards (default: the only one) are connected."""
        await self.wait_for(lambda: self.synced and self.connected() >= set(shards), timeout,
                            f"the bot to sync commands and connect shard(s) {', '.join(map(str, shards))}")

    # --- what tests do to the bot ---------------------------------------------------------------

    def user(self, name: str, *, permissions: int = EVERYDAY, roles: tuple[int, ...] = ()) -> FakeUser:
        """A new human user of the guild."""
        return FakeUser(snowflake(), name, permissions=permissions, roles=roles)

    def command(self, name: str, guild_id: int | None) -> dict[str, Any]:
        """The synced command a user would pick: the guild's if synced there, else the global one."""
        for scope in (guild_id, None):
            for command in self.synced.get(scope, []):
                if command["name"] == name:
                    return command
        raise AssertionError(f"/{name} was not synced (synced: {self.synced})")

    async def slash(self, name: str, user: FakeUser, /, *, dm: bool = False, subcommand: str | None = None,
                    guild_id: int | None = None, **options: Any) -> FakeInteraction:
        """A user runs a slash command (or one of its subcommands); options are checked against the synced command.

        An option's value may be a FakeAttachment (see `attachment`): it goes into `resolved.attachments`.
        `guild_id`: the server it is run in (default: the first).
        """
        guild_id = guild_id or self.guild_id
        return await self._interact(2, self._command_data(name, dm, subcommand, options, guild_id=guild_id), user,
                                    dm=dm, guild_id=guild_id)

    async def autocomplete(self, name: str, user: FakeUser, option: str, typed: str, /, *, dm: bool = False,
                           subcommand: str | None = None, guild_id: int | None = None,
                           **options: Any) -> FakeInteraction:
        """A user types `typed` into an option that autocompletes; the callback's data holds the choices."""
        guild_id = guild_id or self.guild_id
        data = self._command_data(name, dm, subcommand, {**options, option: typed}, focused=option, guild_id=guild_id)
        return await self._interact(4, data, user, dm=dm, guild_id=guild_id)

    def attachment(self, filename: str, data: bytes, content_type: str | None = "text/plain; charset=utf-8",
                   *, size: int | None = None) -> FakeAttachment:
        """A file a user attaches to a command option, served by the fake like Discord's CDN."""
        attachment_id = snowflake()
        url = f"http://127.0.0.1:{self.port}/attachments/{attachment_id}/{quote(filename, safe='')}"
        attachment = FakeAttachment(attachment_id, filename, data, content_type, url,
                                    len(data) if size is None else size)
        self.attachments[attachment_id] = attachment
        return attachment

    def _command_data(self, name: str, dm: bool, subcommand: str | None, options: dict[str, Any],
                      focused: str | None = None, *, guild_id: int) -> dict[str, Any]:
        command = self.command(name, None if dm else guild_id)
        declared = command.get("options", [])
        if subcommand is not None:
            sub = next((o for o in declared if o["name"] == subcommand and o["type"] == 1), None)
            assert sub is not None, f"/{name} has no subcommand {subcommand!r}"
            declared = sub.get("options", [])
        known = {o["name"]: o for o in declared}
        resolved: dict[str, Any] = {}
        values = []
        for key, value in options.items():
            assert key in known, f"/{name} {subcommand or ''} has no option {key!r} (it has {list(known)})"
            if isinstance(value, FakeAttachment):
                resolved.setdefault("attachments", {})[str(value.id)] = value.payload()
                value = str(value.id)
            values.append({"name": key, "type": known[key]["type"], "value": value}
                          | ({"focused": True} if key == focused else {}))
        data: dict[str, Any] = {"id": command["id"], "name": name, "type": 1, "options": values}
        if subcommand is not None:
            data["options"] = [{"name": subcommand, "type": 1, "options": values}]
        if resolved:
            data["resolved"] = resolved
        if command.get("guild_id"):
            data["guild_id"] = command["guild_id"]
        return data

    async def click(self, message_id: int, custom_id: str, user: FakeUser, *,
                    guild_id: int | None = None) -> FakeInteraction:
        """A user clicks a button of a message the bot sent (in the server `guild_id`, default the first)."""
        return await self._interact(3, {"custom_id": custom_id, "component_type": 2}, user,
                                    message=self.messages[message_id], guild_id=guild_id or self.guild_id)

    async def _interact(self, kind: int, data: dict[str, Any], user: FakeUser, *, dm: bool = False,
                        message: dict[str, Any] | None = None, guild_id: int) -> FakeInteraction:
        interaction_id, token = snowflake(), f"interaction-token-{snowflake()}"
        payload: dict[str, Any] = {
            "id": str(interaction_id), "application_id": str(self.app_id), "type": kind, "token": token,
            "version": 1, "data": data, "locale": "en-US", "entitlements": [], "attachment_size_limit": 8 << 20,
            "app_permissions": str(EVERYDAY),
        }
        if dm:
            dm_channel = snowflake()
            payload.update(user=user.payload(), context=1, authorizing_integration_owners={"0": str(self.guild_id)},
                           channel={"id": str(dm_channel), "type": 1, "recipients": [user.payload()]},
                           channel_id=str(dm_channel))
        else:
            channel_id = self.channels[guild_id]
            payload.update(guild_id=str(guild_id), guild_locale="en-US", member=user.member(), context=0,
                           authorizing_integration_owners={"0": str(guild_id)},
                           channel=channel_payload(guild_id, channel_id), channel_id=str(channel_id))
        if message is not None:
            payload["message"] = message
        await self.dispatch("INTERACTION_CREATE", payload)
        return FakeInteraction(self, interaction_id, token)

    async def post(self, content: str, author: FakeUser, *, mentions: tuple[FakeUser, ...] = (),
                   role_mentions: tuple[int, ...] = (), dm: bool = False, reply_to: int | None = None,
                   channel_id: int | None = None, guild_id: int | None = None) -> int:
        """A user posts in a guild's channel (default: the first guild's) or in a DM with the bot; returns its id.

        `reply_to`: the id of a message this one replies to (Discord then pings its author by default,
        so the replied-to author is among the mentions).
        """
        message_id = snowflake()
        guild_id = guild_id or self.guild_id
        channel_id = snowflake() if dm else (channel_id or self.channels[guild_id])  # a thread's id posts in the thread
        fields: dict[str, Any] = {}
        if reply_to is not None:
            replied = self.messages[reply_to]
            fields = {"type": 19, "referenced_message": dict(replied),
                      "message_reference": {"message_id": str(reply_to), "channel_id": replied["channel_id"],
                                            "guild_id": None if dm else str(guild_id)}}
        message = self._message(message_id, content, author=author, mentions=mentions, role_mentions=role_mentions,
                                channel_id=channel_id, **fields)
        if not dm:
            message["member"] = author.member(with_user=False)
            message["guild_id"] = str(guild_id)
        await self.dispatch("MESSAGE_CREATE", message)
        return message_id

    async def dispatch(self, event: str, data: dict[str, Any], timeout: float = 10) -> None:
        """Send a gateway event to the shard of its server (waiting for that shard to be connected)."""
        guild_id = data.get("guild_id")
        shard = self.shard_of(int(guild_id) if guild_id else None)
        session = await self.wait_for(lambda: self._open_session(shard), timeout,
                                      f"the bot's gateway connection for shard {shard}")
        await self._send(session, 0, data, event)

    def _open_session(self, shard: int) -> GatewaySession | None:
        session = self.sessions.get(shard)
        return session if session is not None and session.open else None

    async def reconnect(self, shard: int = 0) -> None:
        """Ask the bot to reconnect a shard (op 7), as Discord does before moving a session."""
        session = self._open_session(shard)
        assert session is not None, f"shard {shard} is not connected"
        await session.ws.send_str(json.dumps({"op": 7, "d": None, "s": None, "t": None}))

    def replies(self) -> list[Sent]:
        """Messages the bot posted in channels."""
        return [s for s in self.sent if s.kind == "message"]

    # --- payloads -----------------------------------------------------------------------------------

    def _message(self, message_id: int, content: str, *, author: FakeUser | None = None,
                 mentions: tuple[FakeUser, ...] = (), role_mentions: tuple[int, ...] = (),
                 channel_id: int | None = None, **fields: Any) -> dict[str, Any]:
        message = {
            "id": str(message_id), "channel_id": str(channel_id or self.channel_id),
            "author": (author or self.me).payload(), "content": content,
            "timestamp": "2025-02-14T12:00:00+00:00", "edited_timestamp": None, "tts": False,
            "mention_everyone": False,
            "mentions": [dict(u.payload(), member=u.member(with_user=False)) for u in mentions],
            "mention_roles": [str(r) for r in role_mentions], "attachments": [], "embeds": [], "pinned": False,
            "type": 0, "flags": 0, "components": [],
        }
        message.update(fields)
        self.messages[message_id] = message
        return message

    def _record(self, sent: Sent) -> Sent:
        """Keep what the bot sent; fail the test on anything Discord would refuse, or that could ping."""
        for problem in limit_problems(sent.data):
            self.fail(f"{sent.kind} {sent.path}: {problem}")
        allowed = sent.data.get("allowed_mentions")
        if sent.kind != "typing" and "content" in sent.data and (not allowed or allowed.get("parse")
                                                                 or allowed.get("replied_user")):
            self.fail(f"{sent.kind} {sent.path}: allowed_mentions is {allowed}, not none")
        self.sent.append(sent)
        self.notify()
        return sent

    def _store(self, sent: Sent, message_id: int, **fields: Any) -> dict[str, Any]:
        """Create or update the message the bot sent, as Discord would return it."""
        body = {k: v for k, v in sent.data.items() if k in ("content", "embeds", "components", "flags")}
        old = self.messages.get(message_id)
        if old is None:
            values: dict[str, Any] = {"embeds": body.get("embeds") or [], "components": body.get("components") or [],
                                      "flags": int(body.get("flags") or 0), "application_id": str(self.app_id)}
            values.update(fields)
            return self._message(message_id, body.get("content") or "", **values)
        old.update(body)
        return old

    # --- REST ---------------------------------------------------------------------------------------

    def _authorized(self, request: web.Request) -> bool:
        if request.headers.get("Authorization") != f"Bot {self.token}":
            self.fail(f"{request.method} {request.path} without the bot token in Authorization")
            return False
        return True

    @staticmethod
    def _json(data: Any, status: int = 200) -> web.Response:
        # Exactly "application/json": discord.py parses nothing else (aiohttp's json_response adds a charset).
        return web.Response(body=json.dumps(data).encode(), status=status, headers={"Content-Type": "application/json"})

    async def _body(self, request: web.Request) -> dict[str, Any]:
        self.requests.append(f"{request.method} {request.path}")
        self.notify()
        if not request.can_read_body:
            return {}
        if request.content_type != "application/json":
            self.fail(f"{request.method} {request.path} sent {request.content_type}, expected JSON")
            return {}
        return await request.json()

    async def _unknown_route(self, request: web.Request) -> web.Response:
        self.unknown.append(f"{request.method} {request.path}")
        self.fail(f"unknown route: {request.method} {request.path}")
        return self._json({"message": "404: Not Found", "code": 0}, 404)

    async def _get_gateway(self, request: web.Request) -> web.Response:
        await self._body(request)
        return self._json({"url": f"ws://127.0.0.1:{self.port}/gateway", "shards": 1,
                           "session_start_limit": {"total": 1000, "remaining": 999, "reset_after": 0,
                                                   "max_concurrency": 1}})

    async def _users_me(self, request: web.Request) -> web.Response:
        await self._body(request)
        if not self._authorized(request):
            return self._json({"message": "401: Unauthorized", "code": 0}, 401)
        return self._json(self.me.payload() | {"verified": True, "mfa_enabled": False, "flags": 0})

    async def _application(self, request: web.Request) -> web.Response:
        await self._body(request)
        self._authorized(request)
        return self._json({"id": str(self.app_id), "name": "articlebot", "description": "", "icon": None,
                           "bot_public": True, "bot_require_code_grant": False, "verify_key": "0" * 64,
                           "owner": self.user("owner").payload(), "flags": 0, "team": None})

    async def _sync(self, request: web.Request) -> web.Response:
        commands = await self._body(request)
        self._authorized(request)
        guild = request.match_info.get("guild")
        scope = int(guild) if guild else None
        synced = []
        for command in commands:  # type: ignore[union-attr]
            command = dict(command, id=str(snowflake()), application_id=str(self.app_id), version="1")
            if guild:
                command["guild_id"] = guild
            synced.append(command)
        self.synced[scope] = synced
        self.notify()
        return self._json(synced)

    async def _callback(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        if self.callback_delay:
            await asyncio.sleep(self.callback_delay)
        if request.query.get("with_response") not in ("1", "true"):
            self.fail("interaction callback without with_response")
        token = request.match_info["token"]
        kind = body.get("type")
        original = next((s.message_id for s in self.sent if s.token == token and s.kind == "callback"), None)
        if original is not None and kind in (4, 5):
            self.fail(f"interaction {token} answered twice")
        sent = Sent("callback", request.path, body, token=token, message_id=original or snowflake())
        flags = int(sent.data.get("flags") or 0) | (LOADING if kind == 5 else 0)
        message = self._store(sent, sent.message_id or 0, flags=flags)
        self._record(sent)
        return self._json({
            "interaction": {"id": request.match_info["id"], "type": 2, "response_message_id": message["id"],
                            "response_message_loading": kind == 5,
                            "response_message_ephemeral": bool(flags & EPHEMERAL)},
            "resource": {"type": kind, "message": message},
        })

    async def _followup(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        self._check_app(request)
        if self.refuse_followups:
            self.refuse_followups -= 1
            return self._json({"message": "Invalid Form Body", "code": 50035}, 400)
        sent = self._record(Sent("followup", request.path, body, token=request.match_info["token"],
                                 message_id=snowflake()))
        message = self._store(sent, sent.message_id or 0, webhook_id=str(self.app_id))
        if request.query.get("wait") in ("1", "true", "True"):
            return self._json(message)
        return web.Response(status=204)

    async def _edit_webhook_message(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        self._check_app(request)
        token = request.match_info["token"]
        message_id = self._webhook_message_id(token, request.match_info["message"])
        if message_id is None:
            return self._json({"message": "Unknown Message", "code": 10008}, 404)
        sent = self._record(Sent("edit", request.path, body, token=token, message_id=message_id))
        return self._json(self._store(sent, message_id))

    async def _get_webhook_message(self, request: web.Request) -> web.Response:
        await self._body(request)
        self._check_app(request)
        message_id = self._webhook_message_id(request.match_info["token"], request.match_info["message"])
        if message_id is None:
            return self._json({"message": "Unknown Message", "code": 10008}, 404)
        return self._json(self.messages[message_id])

    def _check_app(self, request: web.Request) -> None:
        if request.match_info["app"] != str(self.app_id):
            self.fail(f"{request.method} {request.path}: webhook id is not the application id {self.app_id}")

    def _webhook_message_id(self, token: str, which: str) -> int | None:
        if which == "@original":
            return next((s.message_id for s in self.sent if s.token == token and s.kind == "callback"), None)
        message_id = int(which)
        return message_id if message_id in self.messages else None

    async def _channel_message(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        self._authorized(request)
        channel_id = int(request.match_info["channel"])
        sent = self._record(Sent("message", request.path, body, channel_id=channel_id, message_id=snowflake()))
        reference = body.get("message_reference")
        fields: dict[str, Any] = {"type": 19, "message_reference": reference} if reference else {}
        return self._json(self._store(sent, sent.message_id or 0, channel_id=channel_id, **fields))

    async def _start_thread(self, request: web.Request) -> web.Response:
        """A public thread started from a message; its id is a new channel the bot may post in."""
        body = await self._body(request)
        self._authorized(request)
        thread_id = snowflake()
        self.threads[thread_id] = int(request.match_info["message"])
        self._record(Sent("thread", request.path, body, channel_id=int(request.match_info["channel"]),
                          message_id=thread_id))
        return self._json({
            "id": str(thread_id), "guild_id": str(self._guild_of(int(request.match_info["channel"]))),
            "parent_id": request.match_info["channel"],
            "owner_id": str(self.me.id), "name": body.get("name", ""), "type": 11, "last_message_id": None,
            "rate_limit_per_user": 0, "message_count": 0, "member_count": 1, "flags": 0,
            "thread_metadata": {"archived": False, "auto_archive_duration": body.get("auto_archive_duration", 1440),
                                "archive_timestamp": "2025-02-14T12:00:00+00:00", "locked": False},
        })

    def _guild_of(self, channel_id: int) -> int:
        """The guild whose text channel this is (the first guild for any other channel)."""
        return next((g for g, c in self.channels.items() if c == channel_id), self.guild_id)

    async def _attachment(self, request: web.Request) -> web.Response:
        attachment = self.attachments.get(int(request.match_info["id"]))
        if attachment is None:
            return web.Response(status=404)
        self.downloads.append(attachment.id)
        self.notify()
        return web.Response(body=attachment.data, content_type=(attachment.content_type or "application/octet-stream"
                                                                ).split(";")[0])

    async def _typing(self, request: web.Request) -> web.Response:
        await self._body(request)
        self._authorized(request)
        self._record(Sent("typing", request.path, {}, channel_id=int(request.match_info["channel"])))
        return web.Response(status=204)

    # --- gateway -----------------------------------------------------------------------------------

    @staticmethod
    async def _send(to: web.WebSocketResponse | GatewaySession, op: int, data: Any, event: str | None = None) -> None:
        """Send a gateway payload; a dispatch (op 0) to a session carries that session's next sequence number."""
        seq = None
        ws = to
        if isinstance(to, GatewaySession):
            ws = to.ws
            if op == 0:
                to.seq += 1
                seq = to.seq
        assert isinstance(ws, web.WebSocketResponse)
        await ws.send_str(json.dumps({"op": op, "d": data, "s": seq, "t": event}))

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        if request.query.get("encoding", "json") != "json":
            self.fail(f"gateway asked for encoding {request.query.get('encoding')}")
        await self._send(ws, 10, {"heartbeat_interval": int(self.heartbeat_interval * 1000)})
        async for frame in ws:
            if frame.type != WSMsgType.TEXT:
                continue
            payload = json.loads(frame.data)
            op, data = payload.get("op"), payload.get("d")
            if op == 1:
                self.heartbeats.append(time.monotonic())
                await self._send(ws, 11, None)
            elif op == 2:
                await self._identify(ws, data)
            elif op == 6:
                await self._resume(ws, request, data)
            else:
                self.fail(f"unexpected gateway opcode {op}: {payload}")
        self.close_codes.append(ws.close_code)
        self.notify()
        return ws

    async def _identify(self, ws: web.WebSocketResponse, data: dict[str, Any]) -> None:
        if data.get("token") != self.token:
            self.fail("IDENTIFY with the wrong token")
            await ws.close(code=4004)
            return
        shard = data.get("shard", [0, 1])
        if not (isinstance(shard, list) and len(shard) == 2 and all(isinstance(n, int) for n in shard)
                and 0 <= shard[0] < shard[1]):
            self.fail(f"IDENTIFY with a bad shard field: {shard!r}")
            await ws.close(code=4010)  # Discord's "Invalid shard"
            return
        shard_id, shard_count = shard
        others = {s.shard_count for s in self.sessions.values() if s.open and s.shard_id != shard_id}
        if others and others != {shard_count}:
            self.fail(f"shard {shard_id} identified with shard_count {shard_count}, other shards with {others}")
            await ws.close(code=4010)  # Discord's "Invalid shard"
            return
        self.shard_count = shard_count
        self.identifies += 1
        self.identified.append((shard_id, shard_count))
        session = GatewaySession(shard_id, shard_count, f"session-{snowflake()}", ws)
        self.sessions[shard_id] = session
        guilds = [g for g in self.guild_ids if self.shard_of(g) == shard_id]
        await self._send(session, 0, {
            "v": 10, "user": self.me.payload(), "guilds": [{"id": str(g), "unavailable": True} for g in guilds],
            "session_id": session.session_id, "resume_gateway_url": f"ws://127.0.0.1:{self.port}/resume-gateway",
            "application": {"id": str(self.app_id), "flags": 0}, "private_channels": [], "relationships": [],
            "shard": [shard_id, shard_count],
        }, "READY")
        for guild_id in guilds:
            guild = guild_payload(guild_id, self.channels[guild_id], self.me, *self.roles[guild_id])
            await self._send(session, 0, guild, "GUILD_CREATE")
        self.notify()

    async def _resume(self, ws: web.WebSocketResponse, request: web.Request, data: dict[str, Any]) -> None:
        session = next((s for s in self.sessions.values() if s.session_id == data.get("session_id")), None)
        if data.get("token") != self.token or session is None:
            self.fail(f"RESUME with a wrong token or an unknown session ({data.get('session_id')})")
            await ws.close(code=4006)
            return
        session.ws = ws
        self.resumes.append(request.path)
        await self._send(session, 0, {}, "RESUMED")
        self.notify()
