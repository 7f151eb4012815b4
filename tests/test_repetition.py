"""Lines that recur on several pages of one site are counted, incrementally, as that site's furniture."""

from __future__ import annotations

import random
import time

import pytest

from index.articles.repetition import RepetitionCounts, for_page, key, normalise, page_keys, site_of

TOPIC = "Topic:Tennis"
PROMPT = "Spotted an error?  Tell the desk and we will fix it"


def _page(*lines: str) -> frozenset[str]:
    return page_keys(lines)


def test_a_line_on_three_pages_of_one_site_is_furniture_there_only() -> None:
    counts = RepetitionCounts()
    counts.add("a.md", "news.example", _page(PROMPT, "The minister resigned on Monday."))
    counts.add("b.md", "news.example", _page(PROMPT, "Rain stopped play at Lord's."))
    assert counts.repeated("news.example") == frozenset()  # two pages: could still be a quoted sentence
    counts.add("c.md", "news.example", _page(PROMPT.replace("  ", " "), "Prices rose by 4 per cent."))
    assert counts.repeated("news.example") == {key(PROMPT)}
    assert counts.repeated_on("a.md") == {key(PROMPT)}
    counts.add("d.md", "other.example", _page(PROMPT))
    assert counts.repeated_on("d.md") == frozenset()  # another site's page: its own count


def test_adding_the_third_page_names_the_older_pages_to_chunk_again() -> None:
    counts = RepetitionCounts()
    assert counts.add("a.md", "s", _page(TOPIC, "First story.")) == set()
    assert counts.add("b.md", "s", _page(TOPIC, "Second story.")) == set()
    assert counts.add("x.md", "s", _page("Unrelated story.")) == set()
    assert counts.add("c.md", "s", _page(TOPIC, "Third story.")) == {"a.md", "b.md"}
    assert counts.add("d.md", "s", _page(TOPIC, "Fourth story.")) == set()  # already furniture: nothing changes
    assert counts.remove("d.md") == set()  # still on three pages
    assert counts.remove("c.md") == {"a.md", "b.md"}  # back to two: no longer furniture
    assert counts.repeated("s") == frozenset()


def test_replacing_a_page_counts_its_new_lines_only() -> None:
    counts = RepetitionCounts()
    for source in ("a.md", "b.md", "c.md"):
        counts.add(source, "s", _page(TOPIC, f"Story {source}."))
    assert counts.add("c.md", "s", _page("The page was edited and lost its tag.")) == {"a.md", "b.md"}
    assert counts.repeated("s") == frozenset()


def test_counts_rebuilt_from_stored_keys_agree() -> None:
    counts = RepetitionCounts()
    for source in ("a.md", "b.md", "c.md"):
        counts.add(source, "s", _page(TOPIC, f"Story {source}."))
    again = RepetitionCounts.from_pages({s: (site, sorted(keys)) for s, (site, keys) in counts.pages.items()})
    assert again.repeated("s") == counts.repeated("s") == {key(TOPIC)}


def test_lines_differing_in_numbers_spaces_or_case_are_one_line() -> None:
    assert normalise("Updated  12:40 GMT") == normalise("updated 09:15 gmt") == "updated 0:0 gmt"
    assert key("Updated 12:40") == key("UPDATED 9:05")
    assert key("2.") == key("—") == ""  # too short to say anything
    # A sentence that differs only in its figures is another sentence: a site's daily market report
    assert key("The Sensex closed at 81,204 points on Monday.") != key("The Sensex closed at 80,990 points on Monday.")
    assert page_keys(["Share this", "Share  this", "share this"]) == {key("share this")}


def test_site_is_the_url_host_or_the_folder() -> None:
    assert site_of("https://www.bbc.com/sport/x", "a.md") == "bbc.com"
    assert site_of(None, "rediff/a.txt") == "folder:rediff"
    assert site_of(None, "a.txt") == "folder:"


def test_a_threshold_below_two_is_refused() -> None:
    with pytest.raises(ValueError, match="use 2 or more"):
        RepetitionCounts(threshold=1)


def test_a_page_whose_repeated_lines_are_most_of_it_is_a_copy_and_keeps_them() -> None:
    story = ["The minister resigned on Monday after a week of pressure from her own party.",
             "Her successor will be named by Friday, officials said."]
    repeated = page_keys([*story, TOPIC])
    assert for_page([*story, TOPIC], repeated) == frozenset()  # the same story saved three times: kept
    page = ["Rain stopped play at Lord's with England on 120 for 6 after tea on the second day.", TOPIC]
    assert for_page(page, repeated) == repeated  # a tag on a page of its own: left out


def test_what_add_and_remove_say_changed_is_what_did() -> None:
    """Random pages added, replaced and removed: each time, the pages said to have changed are exactly those whose
    repeated lines changed (judged the slow way, from every page), and the counts are those rebuilt from the pages."""
    rng = random.Random(7)
    counts = RepetitionCounts(threshold=3)
    for step in range(600):
        before = {s: counts.repeated_on(s) for s in counts.pages}
        source = f"page-{rng.randrange(40)}"
        if source in counts.pages and rng.random() < 0.4:
            said = counts.remove(source)
        else:
            keys = frozenset(f"k{rng.randrange(12)}" for _ in range(rng.randint(1, 5)))
            said = counts.add(source, rng.choice(["a.example", "b.example"]), keys)
        changed = {s for s, was in before.items() if s != source and s in counts.pages and counts.repeated_on(s) != was}
        assert said == changed, step
        rebuilt = RepetitionCounts.from_pages(counts.pages, threshold=3)
        assert {s: rebuilt.repeated_on(s) for s in counts.pages} == {s: counts.repeated_on(s) for s in counts.pages}


def test_a_site_of_many_pages_is_counted_in_time_that_grows_with_its_pages() -> None:
    """Thirty thousand pages of one site sharing their lines (the benchmarks' synthetic corpus): under seconds
    (judging the whole site at each page took hours)."""
    counts = RepetitionCounts()
    began = time.perf_counter()
    for n in range(30_000):
        counts.add(f"page-{n}", "folder:", frozenset(f"line-{(n * 7 + i) % 3_000}" for i in range(15)))
    assert time.perf_counter() - began < 20
    assert len(counts.repeated("folder:")) == 3_000
