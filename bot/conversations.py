"""What the bot remembers of its recent answers, so that a reply to one is read as a follow-up: `Conversations`."""

from __future__ import annotations

from collections import OrderedDict

from index import Turn


class Conversations:
    """The exchange behind each recent answer message (and the latest of each of the bot's threads),
    so that a reply to one, or a question in such a thread, is read as a follow-up.

    Kept in memory for the last `limit` answers, each without its cited passages (Turn.compact:
    ~0.5 KB rather than ~6 KB, so ~3 MB in all, not ~30); a reply to an older answer, or one sent
    before a restart, is answered on its own.
    """

    def __init__(self, limit: int = 5000) -> None:
        self.limit = limit
        self._turns: OrderedDict[int, Turn] = OrderedDict()
        self._threads: OrderedDict[int, Turn] = OrderedDict()  # thread id -> its latest exchange

    def add(self, message_id: int, turn: Turn) -> None:
        """Remember the exchange an answer message holds."""
        self._turns[message_id] = turn.compact()
        while len(self._turns) > self.limit:
            self._turns.popitem(last=False)

    def get(self, message_id: int | None) -> Turn | None:
        """The exchange behind an answer message, if it is one of ours and recent."""
        return self._turns.get(message_id) if message_id is not None else None

    def thread(self, thread_id: int, turn: Turn) -> None:
        """Remember the latest exchange of a thread the bot answers in."""
        self._threads[thread_id] = turn.compact()
        self._threads.move_to_end(thread_id)
        while len(self._threads) > self.limit:
            self._threads.popitem(last=False)

    def in_thread(self, channel_id: int) -> Turn | None:
        """The latest exchange of the bot's thread with this id, if it is one."""
        return self._threads.get(channel_id)
