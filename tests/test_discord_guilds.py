"""One bot, many servers, over real sockets: the real bot against a fake Discord with several servers.

Two servers have corpora of their own whose articles answer the same question differently; the
shared corpus is the seed article. Neither server's articles ever reach the other's answers,
citations, buttons, /sources, /status or /add, and a DM is answered from the shared corpus alone.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from discord_fixtures import ask, buttons, mention
from fakediscord import ADMINISTRATOR, FakeDiscord, Sent

from index.articles.corpus import SHARED_PREFIX
from tests.support import SEED
from tests.two_servers import NORTH_ARTICLE, QUESTION, corpora


async def reply_to(fake: FakeDiscord, asked: int) -> Sent:
    return await fake.wait_for(lambda: next((r for r in fake.replies()
                                             if r.body["message_reference"]["message_id"] == asked), None),
                               30, f"the reply to {asked}")


async def test_each_server_is_answered_from_its_own_articles_and_a_dm_from_the_shared_ones(
        start_bot: Any, make_engine: Any, tmp_path: Path) -> None:
    fake = (await start_bot(make_engine({}), servers=2, corpora=corpora(tmp_path))).fake
    north, east = fake.guild_ids
    assert set(fake.synced) == {north, east}

    in_north = await ask(fake, QUESTION, guild_id=north)
    assert "Anna Berg" in in_north.text
    assert "Tomas Lind" not in in_north.text
    assert "regatta-east" not in in_north.text
    asked = await fake.post(f"{mention(fake)} {QUESTION}", fake.user("eve"), mentions=(fake.me,), guild_id=east)
    in_east = await reply_to(fake, asked)
    assert "Tomas Lind" in in_east.text
    assert "Anna Berg" not in in_east.text
    # The shared article is seen in both servers, and named as shared there.
    minsk = await ask(fake, "Who visited Minsk?", guild_id=east)
    assert "Smith" in minsk.content
    assert "Quiet Diplomatic Shift" in minsk.text

    # A DM is answered from the shared corpus alone.
    dm_regatta = await fake.post(QUESTION, fake.user("dora"), dm=True)
    dm_minsk = await fake.post("Who visited Minsk?", fake.user("dora"), dm=True)
    regatta_reply, minsk_reply = await reply_to(fake, dm_regatta), await reply_to(fake, dm_minsk)
    assert "Anna Berg" not in regatta_reply.text
    assert "Tomas Lind" not in regatta_reply.text
    assert "Smith" in minsk_reply.content

    # /sources and /status list and count each server's own corpus.
    north_sources = await (await fake.slash("sources", fake.user("sam"), guild_id=north)).followup()
    east_sources = await (await fake.slash("sources", fake.user("sam"), guild_id=east)).followup()
    assert "regatta-north.txt" in north_sources.text
    assert f"{SHARED_PREFIX}{SEED.name}" in north_sources.text
    assert "regatta-east.txt" not in north_sources.text
    assert "harbour-fees.txt" not in north_sources.text
    assert "regatta-east.txt" in east_sources.text
    assert "regatta-north.txt" not in east_sources.text

    def field(sent: Sent, name: str) -> str:
        return next(f["value"] for f in sent.embeds[0]["fields"] if f["name"] == name)

    north_status = await (await fake.slash("status", fake.user("sam"), guild_id=north)).followup()
    east_status = await (await fake.slash("status", fake.user("sam"), guild_id=east)).followup()
    assert (field(north_status, "Articles"), field(east_status, "Articles")) == ("2", "3")
    assert field(north_status, "Last 7 days").startswith("1 answered")  # its own record: the DMs are not in it
    assert field(east_status, "Last 7 days").startswith("2 answered")


async def test_the_buttons_under_an_answer_read_the_record_and_index_of_their_server(
        start_bot: Any, make_engine: Any, tmp_path: Path) -> None:
    fake = (await start_bot(make_engine({}), servers=4, corpora=corpora(tmp_path))).fake
    north, east, third, fourth = fake.guild_ids
    # Each server's record numbers its own answers from 1, so these two carry the same ids.
    in_north, in_east = await ask(fake, QUESTION, guild_id=north), await ask(fake, QUESTION, guild_id=east)
    assert buttons(in_north)["Show passage 1"]["custom_id"] == buttons(in_east)["Show passage 1"]["custom_id"]

    for answer, guild, own, other, other_file in ((in_north, north, "Anna Berg", "Tomas Lind", "regatta-east"),
                                                  (in_east, east, "Tomas Lind", "Anna Berg", "regatta-north")):
        found = buttons(answer)
        click = await fake.click(answer.message_id or 0, found["Show passage 1"]["custom_id"], fake.user("cy"),
                                 guild_id=guild)
        passage = await click.callback()
        assert own in passage.text
        assert other not in passage.text
        assert other_file not in passage.text
        click = await fake.click(answer.message_id or 0, found["More sources"]["custom_id"], fake.user("cy"),
                                 guild_id=guild)
        more = await click.followup()
        assert more.ephemeral
        assert other not in more.text

    # Servers without a corpus share the shared corpus's record: a button is read only where its answer was given.
    in_third = await ask(fake, "Who visited Minsk?", guild_id=third)
    custom_id = buttons(in_third)["Show passage 1"]["custom_id"]
    shown = await (await fake.click(in_third.message_id or 0, custom_id, fake.user("cy"), guild_id=third)).callback()
    assert "Smith" in shown.text
    elsewhere = await (await fake.click(in_third.message_id or 0, custom_id, fake.user("cy"),
                                        guild_id=fourth)).callback()
    assert "Smith" not in elsewhere.text
    assert elsewhere.ephemeral


async def test_add_and_remove_change_only_the_corpus_of_the_server_they_are_used_in(
        start_bot: Any, make_engine: Any, tmp_path: Path) -> None:
    engine = make_engine({})
    fake = (await start_bot(engine, servers=2, corpora=corpora(tmp_path))).fake
    north, east = fake.guild_ids
    admin = fake.user("root", permissions=ADMINISTRATOR)
    shared_before = sorted(p.name for p in engine.config.index.corpus_dir.iterdir())

    upload = fake.attachment("late-result.txt", NORTH_ARTICLE.replace("Anna Berg", "Ines Marr").encode())
    it = await fake.slash("add", admin, file=upload, guild_id=east)
    await it.callback()
    added = await it.edit(lambda s: bool(s.content), 120)
    assert added.content.startswith("Added")
    assert (tmp_path / "corpora" / "east" / "late-result.txt").is_file()
    assert not (tmp_path / "corpora" / "north" / "late-result.txt").exists()
    assert sorted(p.name for p in engine.config.index.corpus_dir.iterdir()) == shared_before
    assert "Ines Marr" not in (await ask(fake, QUESTION, guild_id=north)).text
    east_sources = await (await fake.slash("sources", fake.user("sam"), guild_id=east)).followup()
    assert "late-result.txt" in east_sources.text

    # Removing is offered, and allowed, for the server's own articles only.
    offered = await fake.autocomplete("remove", admin, "article", "", guild_id=north)
    choices = [c["value"] for c in (await offered.callback()).body["data"]["choices"]]
    assert choices == ["regatta-north.txt"]
    it = await fake.slash("remove", admin, article=f"{SHARED_PREFIX}{SEED.name}", guild_id=north)
    await it.callback()
    refused = await it.edit(lambda s: bool(s.content))
    assert refused.content.startswith("Not removed")
    assert "one of the shared articles" in refused.content
    assert (engine.config.index.corpus_dir / SEED.name).is_file()
    it = await fake.slash("remove", admin, article="regatta-east.txt", guild_id=north)
    await it.callback()
    assert "is not an article" in (await it.edit(lambda s: bool(s.content))).content
    assert (tmp_path / "corpora" / "east" / "regatta-east.txt").is_file()


async def test_without_sharing_only_servers_with_a_corpus_have_articles(
        start_bot: Any, make_engine: Any, tmp_path: Path) -> None:
    given = corpora(tmp_path)
    newcomer = tmp_path / "corpora" / "newcomer"  # configured, but no folder yet: nothing to index

    def with_newcomer(fake: FakeDiscord) -> dict[int, Path]:
        return {**given(fake), fake.guild_ids[2]: newcomer}

    bot = await start_bot(make_engine({}), servers=4, corpora=with_newcomer, share_corpus=False)
    fake = bot.fake
    north, _, new, elsewhere = fake.guild_ids
    assert any(f"server {new} has no index" in line for line in bot.logs.lines)
    in_north = await ask(fake, "Who visited Minsk?", guild_id=north)
    assert "Smith" not in in_north.content
    sources = await (await fake.slash("sources", fake.user("sam"), guild_id=north)).followup()
    assert "regatta-north.txt" in sources.text
    assert SEED.name not in sources.text

    it = await fake.slash("ask", fake.user("ola"), question=QUESTION, guild_id=elsewhere)
    refused = await it.callback()
    assert refused.ephemeral
    assert "This server has no articles: the bot's operator has not given it a corpus" in refused.content
    asked = await fake.post(QUESTION, fake.user("dora"), dm=True)
    assert "no articles to answer from in direct messages" in (await reply_to(fake, asked)).content

    # The configured server with no articles yet is told so, until an administrator adds the first.
    it = await fake.slash("ask", fake.user("ola"), question=QUESTION, guild_id=new)
    assert "no articles yet" in (await it.callback()).content
    upload = fake.attachment("regatta.txt", NORTH_ARTICLE.replace("Anna Berg", "Ines Marr").encode())
    it = await fake.slash("add", fake.user("root", permissions=ADMINISTRATOR), file=upload, guild_id=new)
    await it.callback()
    assert (await it.edit(lambda s: bool(s.content), 120)).content.startswith("Added")
    assert (newcomer / "regatta.txt").is_file()
    assert "Ines Marr" in (await ask(fake, QUESTION, guild_id=new)).content
