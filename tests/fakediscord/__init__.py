"""A small fake Discord on 127.0.0.1: the REST routes the bot calls and the gateway WebSocket.

The real discord.py client talks to it over real sockets. It records everything the bot sends, so
tests assert on what users would see, and it fails the test on anything it does not know: an
unknown route, a bad token, an unexpected gateway opcode, a message Discord would refuse, a
message that could ping, or an error logged by the bot.
"""

from fakediscord.objects import FakeAttachment, FakeUser, Sent, snowflake, snowflake_on_shard
from fakediscord.rules import ADMINISTRATOR, EPHEMERAL, EVERYDAY, MANAGE_GUILD, limit_problems, live_mentions
from fakediscord.server import FakeDiscord, FakeInteraction, GatewaySession

__all__ = ["ADMINISTRATOR", "EPHEMERAL", "EVERYDAY", "MANAGE_GUILD", "FakeAttachment", "FakeDiscord", "FakeInteraction",
           "FakeUser", "GatewaySession",
           "Sent", "limit_problems", "live_mentions", "snowflake", "snowflake_on_shard"]
