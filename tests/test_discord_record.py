"""The question record in Discord, over real sockets: buttons under answers (votes, more sources, whole
passages) that survive a restart, /gaps for administrators, and the last week's counts in /status."""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

from discord_fixtures import ask, buttons
from fakediscord import ADMINISTRATOR, EVERYDAY

from index.config import RecordConfig
from index.record import Record

# Short notes on the seed article's story, so that a question has more passages than it cites.
NOTES = {
    f"note-{i}.md": f"---\ntitle: Minsk note {i}\n---\n\nNote {i}: the released prisoners were met in Vilnius by "
                    f"diplomats, report number {i} says, and the release followed talks in Minsk.\n"
    for i in range(6)
}


async def test_votes_are_private_one_per_user_and_changeable(start_bot: Any, make_engine: Any) -> None:
    engine = make_engine({})
    fake = (await start_bot(engine)).fake
    answer = await ask(fake, "who was released?")
    found = buttons(answer)
    assert {"👍", "👎", "More sources", "Show passage 1"} <= set(found)
    record = Record(engine.config.record_path)
    ann = fake.user("ann")
    for way in ("👍", "👎", "👍"):
        click = await fake.click(answer.message_id or 0, found[way]["custom_id"], ann)
        reply = await click.callback()
        assert reply.ephemeral
        assert "recorded" in reply.content
    await fake.click(answer.message_id or 0, found["👎"]["custom_id"], fake.user("bob"))
    await fake.wait_for(lambda: record.summary().down == 1, 10, "bob's vote")
    summary = record.summary()
    assert (summary.answered, summary.up, summary.down) == (1, 1, 1)  # ann's vote changed, not added


async def test_show_passage_and_more_sources_answer_privately(start_bot: Any, make_engine: Any,
                                                              unescape: Any) -> None:
    engine = make_engine(NOTES)
    fake = (await start_bot(engine)).fake
    answer = await ask(fake, "Where were the released prisoners met?")
    found = buttons(answer)
    cited = engine.ask("Where were the released prisoners met?")
    click = await fake.click(answer.message_id or 0, found["Show passage 1"]["custom_id"], fake.user("cy"))
    passage = await click.callback()
    assert passage.ephemeral
    description = unescape(passage.embeds[0]["description"])
    assert cited.citations[0].quote.strip().splitlines()[0] in description.replace("> ", "")
    click = await fake.click(answer.message_id or 0, found["More sources"]["custom_id"], fake.user("cy"))
    assert (await click.callback()).body["type"] == 5  # deferred, privately
    more = await click.followup()
    assert more.ephemeral
    assert more.embeds[0]["title"].startswith("More sources")
    shown = {c.quote for c in cited.citations}
    further = engine.ask("Where were the released prisoners met?", top_k=len(cited.citations) + 5).citations
    assert further[len(cited.citations):], "the corpus has more passages than the answer cites"
    assert all(c.quote not in shown for c in further[len(cited.citations):])
    assert re.search(r"\[4\]", more.embeds[0]["fields"][0]["name"])


async def test_the_buttons_keep_working_after_a_restart(start_bot: Any, make_engine: Any) -> None:
    engine = make_engine({})
    first = await start_bot(engine)
    answer = await ask(first.fake, "who was released?")
    message = first.fake.messages[answer.message_id or 0]
    await first.finish()
    second = await start_bot(engine, servers=first.fake.guild_ids)  # a new process: the same index, record, server
    second.fake.messages[answer.message_id or 0] = message
    click = await second.fake.click(answer.message_id or 0, buttons(answer)["👎"]["custom_id"],
                                    second.fake.user("dee"))
    assert "recorded" in (await click.callback()).content
    assert Record(engine.config.record_path).summary().down == 1


async def test_gaps_lists_declined_and_voted_down_questions_to_admins(start_bot: Any, make_engine: Any) -> None:
    engine = make_engine({})
    fake = (await start_bot(engine)).fake
    for question in ("How much did the trip cost?", "What did the trip cost?", "How much did the trip cost?"):
        declined = await ask(fake, question)
        assert "could not find" in declined.content
    answer = await ask(fake, "who was released?")
    await (await fake.click(answer.message_id or 0, buttons(answer)["👎"]["custom_id"], fake.user("eve"))).callback()
    refused = await (await fake.slash("gaps", fake.user("fay"))).callback()
    assert refused.ephemeral
    assert "administrator" in refused.content.lower()
    it = await fake.slash("gaps", fake.user("gil", permissions=EVERYDAY | ADMINISTRATOR), days=7)
    listing = await it.followup()
    assert listing.ephemeral
    lines = listing.content.splitlines()
    assert lines[1].startswith("• How much did the trip cost?: asked 3×")
    assert "What did the trip cost?" in lines[1]
    assert any(line.startswith("• who was released?: asked 1× (1 voted down)") for line in lines)
    status = await (await fake.slash("status", fake.user("hue"))).followup()
    fields = {f["name"]: f["value"] for f in status.embeds[0]["fields"]}
    assert fields["Last 7 days"] == "1 answered, 3 declined; votes: 0 👍, 1 👎"


async def test_with_the_record_off_nothing_is_kept_and_answers_have_no_buttons(start_bot: Any,
                                                                               make_engine: Any) -> None:
    engine = make_engine({})
    engine.config = replace(engine.config, record=RecordConfig(enabled=False))
    fake = (await start_bot(engine)).fake
    answer = await ask(fake, "who was released?")
    assert "three political prisoners" in answer.content
    assert not buttons(answer)
    assert not engine.config.record_path.exists()
    it = await fake.slash("gaps", fake.user("ivy", permissions=EVERYDAY | ADMINISTRATOR))
    assert "turned off" in (await it.callback()).content
