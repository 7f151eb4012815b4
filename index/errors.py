"""Errors raised by the engine. Messages are written for the person at the keyboard."""

from __future__ import annotations


class ArticlebotError(Exception):
    """Base class: an error whose message is meant for the user, in plain words."""


class ConfigError(ArticlebotError):
    """The configuration file or an environment variable holds a value we cannot use."""


class CorpusError(ArticlebotError):
    """The corpus folder is missing, empty, or holds nothing we can read."""


class IndexMissingError(ArticlebotError):
    """No index has been built yet in the index directory."""


class IndexMismatchError(ArticlebotError):
    """The index on disk was built with other settings, another model, or is damaged."""


class IndexDatabaseError(ArticlebotError):
    """The index database cannot be used: unreachable, without pgvector, or of a newer schema."""


class ReindexInProgressError(ArticlebotError):
    """A rebuild was asked for while another one is running."""


class QuestionError(ArticlebotError):
    """The question cannot be answered as asked (empty, too long, ...)."""


class IngestError(ArticlebotError):
    """An article could not be added to the corpus or removed from it; the message says why."""


class FetchError(IngestError):
    """A web page could not be fetched, or was refused (address, size, type, robots.txt, ...)."""


class SiteUnreachableError(FetchError):
    """No connection could be made to the site (refused, timed out, no route): nothing was asked of it."""


class BuildStoppedError(ArticlebotError):
    """A build was told to stop (the bot is stopping) and did, at its next progress report."""
