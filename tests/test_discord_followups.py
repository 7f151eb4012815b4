"""Follow-up questions in Discord, over real sockets: a reply to one of the bot's answers is read with
the exchange it replies to; a question that does not refer back is answered on its own."""

from __future__ import annotations

from typing import Any

from fakediscord import FakeDiscord, Sent

from index.engine import Engine


async def mention_reply(fake: FakeDiscord, text: str, user: Any, *, reply_to: int | None = None) -> Sent:
    """Post `text` mentioning the bot (a reply pings it anyway) and wait for the bot's reply."""
    before = len(fake.replies())
    await fake.post(f"<@{fake.me.id}> {text}" if reply_to is None else text, user, mentions=(fake.me,),
                    reply_to=reply_to)
    return (await fake.wait_for(lambda: fake.replies()[before:], 20, f"the reply to {text!r}"))[0]


async def test_a_reply_to_an_answer_is_read_as_a_follow_up(start_bot: Any, seed_engine: Engine) -> None:
    fake = (await start_bot()).fake
    ann = fake.user("ann")
    first = await mention_reply(fake, "Who visited Belarus?", ann)
    assert "Christopher W. Smith" in first.content or "diplomat" in first.content
    alone = seed_engine.ask("When did he arrive?")
    assert alone.tier != "answer"  # on its own, "he" is nobody: at most the closest sentence, said to be tentative
    follow_up = await mention_reply(fake, "When did he arrive?", ann, reply_to=first.message_id)
    assert "February 14, 2025" in follow_up.content
    # A chain: a reply to the follow-up's answer carries the conversation on.
    third = await mention_reply(fake, "What is his job?", ann, reply_to=follow_up.message_id)
    assert "deputy assistant secretary of state" in third.content


async def test_a_reply_to_a_slash_answer_is_a_follow_up_too(start_bot: Any) -> None:
    fake = (await start_bot()).fake
    it = await fake.slash("ask", fake.user("bo"), question="Who was released?")
    answer = await it.followup()
    follow_up = await mention_reply(fake, "Who was among them?", fake.user("bo"), reply_to=answer.message_id)
    assert "including an American" in follow_up.content


async def test_a_reply_that_does_not_refer_back_is_answered_on_its_own(start_bot: Any) -> None:
    fake = (await start_bot()).fake
    first = await mention_reply(fake, "Who visited Belarus?", fake.user("cy"))
    other = await mention_reply(fake, "How long has Lukashenko been in power?", fake.user("cy"),
                                reply_to=first.message_id)
    assert "nearly three decades" in other.content


async def test_mentions_are_answered_in_a_thread_where_configured(start_bot: Any) -> None:
    fake = (await start_bot(thread_channel_ids=lambda f: (f.channel_id,))).fake
    ann = fake.user("ann")
    await fake.post(f"<@{fake.me.id}> Who visited Belarus?", ann, mentions=(fake.me,))
    started = await fake.wait_for(lambda: [s for s in fake.sent if s.kind == "thread"], 20, "a thread")
    assert started[0].body["name"] == "Who visited Belarus?"
    thread_id = started[0].message_id or 0
    answer = (await fake.wait_for(lambda: [s for s in fake.replies() if s.channel_id == thread_id], 20,
                                  "the answer in the thread"))[0]
    assert "Smith" in answer.content or "diplomat" in answer.content
    assert "message_reference" not in answer.body  # in the thread, not a reply in the channel
    # In the thread, a question that leans on the conversation is a follow-up.
    await fake.post(f"<@{fake.me.id}> When did he arrive?", ann, mentions=(fake.me,), channel_id=thread_id)
    follow_up = (await fake.wait_for(lambda: [s for s in fake.replies() if s.channel_id == thread_id][1:], 20,
                                     "the follow-up's answer"))[0]
    assert "February 14, 2025" in follow_up.content
    assert len([s for s in fake.sent if s.kind == "thread"]) == 1  # no thread inside the thread
