"""Errors of the Discord layer: polite refusals the user is told about, privately."""

from __future__ import annotations

from discord import app_commands


class Refusal(app_commands.CheckFailure):
    """A polite no: the message is for the user, shown only to them, and nothing is logged as an error."""


class NotAdmin(Refusal):
    """The command is for administrators and the user is not one."""

    def __init__(self) -> None:
        super().__init__(
            "Only server administrators can do that (Administrator or Manage Server permission, "
            "or a role or user listed in the bot's configuration)."
        )


class OnCooldown(Refusal):
    """The user has asked too many questions too quickly."""

    def __init__(self, retry_after: float) -> None:
        self.retry_after = retry_after
        seconds = max(1, round(retry_after))
        super().__init__(f"You're asking faster than I can keep up. Please try again in {seconds} s.")


class GuildBusy(Refusal):
    """The server already has as many questions in progress as it may."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        super().__init__(
            f"I'm already working on {limit} question{'s' if limit != 1 else ''} here. "
            "Please ask again in a moment."
        )


class QuestionRefused(Refusal):
    """The question cannot be asked as it stands (empty, too long, no words)."""


class ReindexRunning(Refusal):
    """A reindex was asked for while one is running."""

    def __init__(self) -> None:
        super().__init__("A reindex is already running. I'll keep answering from the current index; "
                         "please try again when it has finished.")


class ShuttingDown(Refusal):
    """The bot is stopping and takes no new work."""

    def __init__(self) -> None:
        super().__init__("I'm restarting right now; please ask again in a minute.")


class NoCorpus(Refusal):
    """The server (or a DM) has no corpus to answer from: no [guilds] table of its own, and none shared."""

    def __init__(self, guild_id: int | None) -> None:
        self.guild_id = guild_id
        if guild_id is None:
            super().__init__("I have no articles to answer from in direct messages; please ask in a server.")
        else:
            super().__init__("This server has no articles: the bot's operator has not given it a corpus.")


class NoArticles(Refusal):
    """The server has a corpus of its own, but nothing is indexed in it yet."""

    def __init__(self) -> None:
        super().__init__("This server has no articles yet; an administrator can add some with /add.")
