"""Follow-up questions: a question read with the conversation's question and answer before it.

People ask the way they talk: "Who visited Minsk?", then "when did he arrive?" or "and why?". A
follow-up that refers back (a pronoun, a bare "that", an opening "and" or "what about", or hardly a
word of its own) is read with what the conversation was about: the earlier question's informative
words and the phrase that answered it are added to what the engine searches and scores with, so
"he" finds the passages about the man just named. The question keeps its own kind ("when" still
asks for a date) because the added words carry no question words. A follow-up that does not refer
back is answered on its own.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from index.articles.text import words
from index.types import Answer

# Words that point back at something said before.
_PRONOUN = re.compile(r"\b(he|she|it|they|him|her|them|his|hers|its|their|theirs|the same)\b", re.IGNORECASE)
# "that" or "this" standing for a thing ("when was that?", "when did that happen?", "will there be?"),
# not introducing a clause: at the end of the question, or with one word after it.
_DEMONSTRATIVE = re.compile(r"\b(that|this|those|these|there|then)(?:\s+\w+)?\s*(?:[?.!,]|$)", re.IGNORECASE)
_OPENER = re.compile(r"^\s*(and|also|but|so|what about|how about|what else|who else)\b", re.IGNORECASE)
_ASKING = frozenset("who whom whose what which when where why how was were is are did do does has have had "
                    "the a an of in on at to for by with and or but so else about also".split())


@dataclass(frozen=True)
class Turn:
    """One earlier exchange of a conversation: what was asked and what the bot answered."""

    question: str
    answer: Answer

    def compact(self) -> Turn:
        """The same exchange with only what reading a follow-up uses: the question and the answer's first sentence.

        A bot remembers thousands of exchanges; their cited passages (a few KB each) are not needed.
        """
        answer = replace(self.answer, text="", citations=(), sentences=self.answer.sentences[:1], note=None)
        return Turn(self.question, answer)


def refers_back(question: str) -> bool:
    """Whether a question leans on the conversation before it."""
    own = [w for w in words(question) if w not in _ASKING]
    return bool(_PRONOUN.search(question) or _DEMONSTRATIVE.search(question) or _OPENER.match(question)
                or len(own) <= 1)


def in_context(question: str, before: Turn | None) -> str:
    """The text to search and score with: the question, plus what the conversation was about if it refers back."""
    if before is None or not refers_back(question):
        return question
    said = set(words(question))
    context = [w for w in words(before.question) if w not in _ASKING and w not in said]
    answer = before.answer
    if not answer.declined and answer.sentences:
        first = answer.sentences[0]
        if first.highlight:
            context += words(first.text[first.highlight[0]:first.highlight[1]])
    context = list(dict.fromkeys(w for w in context if w not in said))
    return f"{question} {' '.join(context)}" if context else question
