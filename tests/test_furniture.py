"""Site furniture in scraped text is left out of chunks; the article's sentences, and their offsets, stay."""

from __future__ import annotations

import pytest

from index.chunking import chunk_article
from index.corpus import Article, Paragraph
from index.furniture import article_spans, is_furniture
from index.text import Span, paragraphs


@pytest.mark.parametrize("sentence", [
    "When you purchase through links on our site, we may earn an affiliate commission.",
    "Sign up for breaking news, reviews, opinion, top tech deals, and more.",
    "Copyright © 2026 Salon.com, LLC. All rights reserved.",
    "+ 456.56 + 139.20 + 72.00 + 4,502.00 + 21,721.00 + 456.56 + 139.20",
    "NEWS BUSINESS MOVIES CRICKET SPORTS GET AHEAD REDIFF MONEY REDIFF-TV REDIFF ASTRO MOBILE RECHARGE",
    "This issue is preventing our website from loading properly.",
    "By submitting your email, you agree to the Privacy Policy and Terms of Use.",
    "ALSO READ | Can Tilak Varma hold off spin-bashing Shreyas Iyer from the T20I No 3 spot?",
    "August 12, 2025 18:11 IST",
    "Updated: 12 Aug 2025, 10:30 AM IST",
    "Nayib Bukele (Casa Presidencial El Salvador via Flickr)",
    "Supporters gather outside the court in New Delhi. (AP Photo/Manish Swarup)",
    "Shreyas Iyer in action. Photo: BCCI",
    "Subscribe to our Chief Editor’s Week in Review",
    "Get our pick of top stories and thought-provoking articles in your inbox",
    "Stay updated with notifications for breaking news and our best stories Get WhatsApp alerts",
    "($1 = 87.5080 Indian rupees)",
])
def test_site_furniture_is_recognised(sentence: str) -> None:
    assert is_furniture(sentence)


@pytest.mark.parametrize("sentence", [
    "Netflix said it added 8 million subscribers in the quarter, more than analysts expected.",
    "The Sensex rose 1.2 per cent to 81,500 on Friday, led by banks and IT stocks.",
    "Shares of Tata Motors fell 3 % after the results.",
    "Readers who sign up for the programme get a free ticket.",
    "On February 14, 2025, Christopher W. Smith, a deputy assistant secretary of state, arrived quietly in Minsk.",
    "Quiet Diplomatic Shift: U.S. Engages with Belarusian Leadership",
    "August 12, 2025",
    "The bill was signed on August 12, 2025 at 6 pm in a ceremony at Rashtrapati Bhavan.",
    "The agency released photos taken via Flickr accounts of the embassy, officials said.",
    "Getty Images said on Monday that it would cut 200 jobs after a fall in licensing revenue.",
    "Readers who subscribe to the paper's print edition will pay 8 % more from March.",
    "The rupee weakened to 87.5 per dollar ($1 = 87.5080 rupees was the close on Friday) before recovering.",
])
def test_news_sentences_are_kept(sentence: str) -> None:
    assert not is_furniture(sentence)


SCRAPED = ("Australia have won the toss and will bowl in this decider  When you purchase through links on our "
           "site, we may earn an affiliate commission. Here's how it works.  Sign up for breaking news, reviews, "
           "opinion, top tech deals, and more. You are now subscribed Your newsletter sign-up was successful "
           "Australia vs South Africa T20 at Cazaly's Stadium, Cairns, on Saturday is the deciding third game in a "
           "three-match series. Australia won the first game. + 62.97 + 25.45 -10.00 + 4.10 + 1.75\n")


def test_furniture_is_cut_out_and_what_is_kept_keeps_its_offsets() -> None:
    (paragraph,) = paragraphs(SCRAPED)
    kept = article_spans(SCRAPED, paragraph)
    texts = [SCRAPED[s.start:s.end] for s in kept]
    joined = " ".join(texts)
    assert "Australia have won the toss" in texts[0]
    assert "Cazaly's Stadium, Cairns" in joined
    assert "Australia won the first game." in joined
    for furniture in ("affiliate commission", "Sign up", "newsletter", "62.97"):
        assert furniture not in joined
    assert all(isinstance(s, Span) and SCRAPED[s.start:s.end].strip() for s in kept)


def test_no_chunk_holds_furniture_or_spans_across_it() -> None:
    spans = paragraphs(SCRAPED)
    article = Article("scraped.txt", "0", SCRAPED, "How to watch", None, None, None,
                      tuple(Paragraph(s, i + 1) for i, s in enumerate(spans)))
    chunks = chunk_article(article, lambda texts: [len(t.split()) for t in texts], max_tokens=254, min_words=40)
    assert chunks
    for chunk in chunks:
        assert SCRAPED[chunk.start:chunk.end] == chunk.text
        assert "affiliate" not in chunk.text
        assert "Sign up" not in chunk.text
        assert "62.97" not in chunk.text
    assert any("Cazaly's Stadium, Cairns" in c.text for c in chunks)


def test_a_clean_paragraph_is_one_span() -> None:
    text = "The council met on Monday. It approved the budget."
    assert article_spans(text, Span(0, len(text))) == [Span(0, len(text))]


def test_an_exchange_rate_note_closing_a_sentence_is_cut_off_and_the_sentence_kept() -> None:
    text = ("The latest round of trade talks set for August 25-29 has also been called off. ($1 = 87.5080 Indian "
            "rupees)         Subscribe to our Chief Editor’s Week in Review")
    kept = article_spans(text, Span(0, len(text)))
    assert [text[s.start:s.end] for s in kept] == [
        "The latest round of trade talks set for August 25-29 has also been called off."]


def kept(text: str) -> list[str]:
    return [text[s.start:s.end] for s in article_spans(text, Span(0, len(text)))]


def test_a_caption_glued_before_the_sentence_that_names_the_same_person_is_cut_off() -> None:
    text = ("Ann Lee made her debut for Kent aged 16 Ann Lee will miss the rest of the season with a back injury. "
            "Kent said she would be out for three months.")
    assert kept(text) == ["Ann Lee will miss the rest of the season with a back injury. "
                          "Kent said she would be out for three months."]


def test_a_caption_naming_the_person_the_sentence_calls_by_title_and_surname_is_cut_off() -> None:
    text = ("Ann Lee scored a century the last time Kent won the cup at Lord's in 2019 Captain Lee replaced the "
            "injured opener for the final.")
    assert kept(text) == ["Captain Lee replaced the injured opener for the final."]


def test_a_dateline_glued_before_a_sentence_and_a_separator_inside_one_are_cut_off() -> None:
    text = ("August 18, 2025 13:35 IST 'In consultations, several stakeholders asked for more time,' the minister "
            "said. ********** The tournament was first held in 1909.")
    assert kept(text) == ["'In consultations, several stakeholders asked for more time,' the minister said.",
                          "The tournament was first held in 1909."]
    # a date and time opening the article's own sentence stay
    own = "August 18, 2025 13:35 The council met again and approved the budget."
    assert kept(own) == [own[len("August 18, 2025 13:35 "):]]


def test_related_headlines_run_together_are_left_out() -> None:
    text = ("The match was moved to Colombo. Ann Lee: England head coach on World Cup hopes Who should be in "
            "England team for World Cup? The squad is named on Monday.")
    assert kept(text) == ["The match was moved to Colombo.", "The squad is named on Monday."]


def test_a_related_story_headline_glued_before_a_sentence_is_cut_off() -> None:
    text = ("Who should lead the side? 'Budget cuts hit hard' - Lee on The Cup and League Ann Lee replaced the "
            "former coach in April, after a poor season.")
    assert kept(text) == ["Who should lead the side?",
                          "Ann Lee replaced the former coach in April, after a poor season."]


@pytest.mark.parametrize("text", [
    # the name again, but joined to what comes before it, or not opening a sentence
    "China Daily then says that the title was granted in 1587, but China Daily does not mention who granted it.",
    "San Francisco sued the state last year, and the court ordered it to reimburse San Francisco for the costs.",
    "Ann Lee met the minister on Monday in Delhi, Ann Lee said in a statement to reporters afterwards.",
    "Ann Lee won the final in 2019 and then Ann Lee retired from the sport the following spring.",
    "The Associated Press reported the figures first in 2016 The Associated Press said on Monday.",
    # a quotation and a dash that are the article's own
    "'We will appeal' - the lawyer said on Friday, adding that the ruling was unfair.",
    # a forum post's run-on question speaks as "I" or to "you"; a headline does not
    "Trying to keep it cheap within budget What is your budget for the whole build?",
    "Ann Lee met Prime Minister Lee on Monday and the two agreed to meet again in May.",
])
def test_sentences_that_repeat_a_name_or_quote_are_kept_whole(text: str) -> None:
    assert kept(text) == [text]
