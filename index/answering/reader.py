"""The reading model: reads a question with each candidate sentence and says which one answers.

A cross-encoder trained by training/train_reader.py (model card: index/models/reader/MODEL_CARD.md)
and shipped in the repository as 8-bit ONNX. For each (question, sentence) pair it gives a logit
for "this sentence answers the question" and, inside the sentence, where the answer starts and
ends. It runs with onnxruntime and the embedding model's own tokenizer; it is loaded on first use,
once, and never needs torch or the network.

A model of the other kind, which reads a whole passage at once and gives a logit per sentence
(training/train_passage_reader.py; tried, not shipped: see the model card), is read with
`read_passages` when the file is one (`whole_passages`), laid out by `lay_out` as in its training.
"""

from __future__ import annotations

import functools
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

MODEL_PATH = Path(__file__).resolve().parent.parent / "models" / "reader" / "reader.onnx"
_MAX_LENGTH = 160  # word pieces of question, context and sentence together, as in training
_MAX_ANSWER = 24  # word pieces a marked answer may span
_CONTEXT_CHARS = 160  # the end of the sentence before, as context: about 32 word pieces
PASSAGE_QUESTION = 48  # word pieces of the question the passage model reads, as in training


def first_segment(question: str, previous: str = "") -> str:
    """What the model reads before the sentence: the question and, after a separator, the sentence before it.

    A sentence often answers with "he" or "it" what the one before set up; the model sees the end of
    that sentence (training/train_reader.py builds its examples with this same function).
    """
    previous = " ".join(previous.split())
    if len(previous) > _CONTEXT_CHARS:
        cut = previous[-_CONTEXT_CHARS:]
        previous = cut[cut.find(" ") + 1:] if " " in cut else cut
    return f"{question} [SEP] {previous}" if previous else question


MARKER = 1  # [unused0]: opens each sentence of a passage read whole; the model scores it
PASSAGE_LENGTH = 384  # word pieces of question, markers and passage together, special tokens included
_CLS, _SEP = 101, 102


@dataclass(frozen=True)
class Layout:
    """A question and a passage's sentences as the passage model reads them.

    `[CLS] question [SEP] M sentence M sentence … [SEP]`, each sentence opened by the MARKER word
    piece (whose output is that sentence's logit); `markers[i]` is sentence i's marker, `pieces[i]`
    its word pieces as (position, first character, end character) in the sentence. Sentences that
    do not fit are left out: `len(markers)` says how many were laid out.
    """

    ids: list[int]
    types: list[int]
    markers: list[int]
    pieces: list[list[tuple[int, int, int]]]


def lay_out(question: Sequence[int], sentences: Sequence[tuple[Sequence[int], Sequence[tuple[int, int]]]],
            limit: int = PASSAGE_LENGTH) -> Layout:
    """Lay out the question's word pieces and each sentence's (word pieces, character offsets) in order.

    Training (training/train_passage_reader.py) and the engine build their input with this function.
    A sentence longer than the room left is cut; a sentence with no room for a word piece is left out.
    """
    ids = [_CLS, *question, _SEP]
    types = [0] * len(ids)
    markers: list[int] = []
    pieces: list[list[tuple[int, int, int]]] = []
    for sentence_ids, offsets in sentences:
        room = limit - len(ids) - 2  # word pieces that fit after this sentence's marker and before the final [SEP]
        if room < 0 or (len(sentence_ids) and room < 1):
            break
        markers.append(len(ids))
        ids.append(MARKER)
        here = [(len(ids) + k, a, b) for k, (a, b) in enumerate(offsets[:room])]
        ids += sentence_ids[:room]
        types += [1] * (len(here) + 1)
        pieces.append(here)
    ids.append(_SEP)
    types.append(1)
    return Layout(ids, types, markers, pieces)


@dataclass(frozen=True)
class SentenceVerdict:
    """What the model read in one sentence: how sure it is that it answers, and the answer's characters."""

    logit: float
    answer: tuple[int, int] | None
    # The marked span's start and end scores added up: how sharply the model points at one phrase
    # (a sentence that answers has a clear span; one that is merely about the topic seldom does).
    span: float = 0.0

    @property
    def probability(self) -> float:
        """The logit as a probability, 0..1."""
        return float(1 / (1 + np.exp(-self.logit)))


class Reader:
    """Scores (question, sentence) pairs with the shipped cross-encoder; thread-safe."""

    def __init__(self, model: Path = MODEL_PATH, *, tokenizer_model: str = "all-MiniLM-L6-v2") -> None:
        self._path = model
        self._tokenizer_model = tokenizer_model
        self._session: Any = None
        self._tokenizer: Any = None
        self._load_lock = threading.Lock()
        self._run_lock = threading.Lock()
        self._run_options: Any = None
        self._passages = False

    def read(self, question: str, sentences: Sequence[str],
             previous: Sequence[str] | None = None) -> list[SentenceVerdict]:
        """One SentenceVerdict per sentence, in order; `previous[i]` is the sentence before `sentences[i]` ("" if none).

        Each sentence is read in a run of its own. The 8-bit model quantises its activations with
        one scale per run, so in a batch a sentence's reading depended on the sentences read beside
        it: the same candidates read in one batch or in three shorter ones disagreed on the best of
        them for 1 news-dev question in 10, and a probability moved by up to 0.1 with its company
        (the bundled article's release question). Alone, a sentence's reading depends only on the
        question, the sentence and the one before it, whatever else a corpus holds, and
        nothing is padded: over news-dev's questions the reader's CPU time fell by 29 % (batches
        of 16 were a third padding), its latency about the same (benchmarks/RESULTS.md).
        """
        if not sentences:
            return []
        session, tokenizer = self._load()
        before = previous if previous is not None else [""] * len(sentences)
        encodings = tokenizer.encode_batch([(first_segment(question, p), s)
                                            for s, p in zip(sentences, before, strict=True)])
        readings = []
        for encoding in encodings:
            ids = np.array([encoding.ids], dtype=np.int64)
            types = np.array([encoding.type_ids], dtype=np.int64)
            logits, starts, ends = self._run(session, ids, np.ones_like(ids), types)
            marked, span = _answer(starts[0], ends[0], encoding, types[0])
            readings.append(SentenceVerdict(float(logits[0]), marked, span))
        return readings

    @property
    def whole_passages(self) -> bool:
        """Whether the model reads a passage's sentences in one run (`read_passages`) rather than one by one."""
        self._load()
        return self._passages

    def read_passages(self, question: str, passages: Sequence[Sequence[str]]) -> list[list[SentenceVerdict]]:
        """One SentenceVerdict per sentence of each passage; each passage is read whole, in runs of its own.

        The passage model reads `[CLS] question [SEP] M sentence M sentence … [SEP]` (`lay_out`):
        each sentence beside the others, its logit at its marker M. A passage longer than the model's
        input goes on in another run, from the first sentence that did not fit.
        """
        session, tokenizer = self._load()
        asked = tokenizer.encode(question, add_special_tokens=False).ids[:PASSAGE_QUESTION]
        out: list[list[SentenceVerdict]] = []
        for passage in passages:
            encoded = [(e.ids, e.offsets) for e in tokenizer.encode_batch(list(passage), add_special_tokens=False)]
            readings: list[SentenceVerdict] = []
            while len(readings) < len(encoded):
                layout = lay_out(asked, encoded[len(readings):])
                if not layout.markers:  # not even a marker fits: cannot happen with a question of 48 pieces
                    readings += [SentenceVerdict(-10.0, None)] * (len(encoded) - len(readings))
                    break
                ids = np.array([layout.ids], dtype=np.int64)
                logits, starts, ends = self._run(session, ids, np.ones_like(ids),
                                                 np.array([layout.types], dtype=np.int64))
                for marker, pieces in zip(layout.markers, layout.pieces, strict=True):
                    marked, span = _marked(starts[0], ends[0], pieces)
                    readings.append(SentenceVerdict(float(logits[0, marker]), marked, span))
            out.append(readings)
        return out

    def reserve(self) -> None:
        """Read once a pair of the longest kind: the model loaded and run before the first question.

        It used to leave onnxruntime's arena at its full size for good. Since every run hands back
        the regions it added (`_run`), it only spares the first question the model's first run.
        """
        session, _ = self._load()
        shape = (1, PASSAGE_LENGTH if self._passages else _MAX_LENGTH)
        self._run(session, np.full(shape, 1000, dtype=np.int64), np.ones(shape, dtype=np.int64),
                  np.zeros(shape, dtype=np.int64))

    def _run(self, session: Any, ids: np.ndarray, mask: np.ndarray,
             types: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The model's logits and start and end scores, written into arrays of ours.

        Every run hands back the arena regions it added. A run whose working memory did not fit in
        the arena's free space (once in ~6,000 of the soak's questions) added a region of twice the
        last one's size, 128 MB (21 MB of it touched), and kept it: the soak's step after its first
        reindex, caught with gdb on the bot's `mmap` calls (issue 15). Handed back, the bot also
        holds ~100 MB less between questions (292 MB after the soak's first 1,000, was 398).
        Outputs go into arrays of ours so that none is left in the arena to keep a region from
        being handed back.
        """
        rows, width = ids.shape
        logits = np.empty((rows, width) if self._passages else rows, dtype=np.float32)
        starts = np.empty((rows, width), dtype=np.float32)
        ends = np.empty((rows, width), dtype=np.float32)
        binding = session.io_binding()
        binding.bind_cpu_input("input_ids", ids)
        binding.bind_cpu_input("attention_mask", mask)
        binding.bind_cpu_input("token_type_ids", types)
        for name, out in (("answers", logits), ("start", starts), ("end", ends)):
            binding.bind_output(name, "cpu", 0, np.float32, list(out.shape), out.ctypes.data)
        with self._run_lock:
            session.run_with_iobinding(binding, self._run_options)
        return logits, starts, ends

    def _load(self) -> tuple[Any, Any]:
        with self._load_lock:
            if self._session is None:
                from tokenizers import Tokenizer

                from index.embedders import resolve_model_path
                from index.embedders.onnx_runtime import cpu_session, handing_back

                if not self._path.is_file():
                    from index.errors import ConfigError

                    raise ConfigError(f"the reading model {self._path} is missing; reinstall articlebot, "
                                      "or set answer.reader = false")
                tokenizer = Tokenizer.from_file(str(Path(resolve_model_path(self._tokenizer_model)) / "tokenizer.json"))
                tokenizer.no_padding()
                session = cpu_session(self._path)
                # The sentence model gives one logit a pair, the passage model one a word piece.
                self._passages = len(session.get_outputs()[0].shape) == 2
                if self._passages:
                    tokenizer.no_truncation()  # lay_out cuts
                else:
                    tokenizer.enable_truncation(_MAX_LENGTH, strategy="longest_first")
                self._tokenizer = tokenizer
                self._session = session
                self._run_options = handing_back()
            return self._session, self._tokenizer


@functools.cache
def shared_reader(model: Path = MODEL_PATH) -> Reader:
    """One Reader per model file in this process: every engine (eval, tests, several corpora) shares it."""
    return Reader(model)


def _answer(starts: np.ndarray, ends: np.ndarray, encoding: Any,
            types: np.ndarray) -> tuple[tuple[int, int] | None, float]:
    """The best (start, end) word pieces of the sentence, as characters of the sentence, and their summed score."""
    inside = [t for t in range(len(encoding.ids)) if types[t] == 1 and encoding.offsets[t][1] > encoding.offsets[t][0]]
    if not inside:
        return None, 0.0
    i, j, score = _best_span(starts, ends, inside)
    return (encoding.offsets[inside[i]][0], encoding.offsets[inside[j]][1]), score


def _marked(starts: np.ndarray, ends: np.ndarray,
            pieces: Sequence[tuple[int, int, int]]) -> tuple[tuple[int, int] | None, float]:
    """The best (start, end) word pieces of one sentence of a passage, as its characters, and their score."""
    inside = [p for p in pieces if p[2] > p[1]]
    if not inside:
        return None, 0.0
    i, j, score = _best_span(starts, ends, [p[0] for p in inside])
    return (inside[i][1], inside[j][2]), score


def _best_span(starts: np.ndarray, ends: np.ndarray, positions: Sequence[int]) -> tuple[int, int, float]:
    """Which of `positions` (word pieces, in order) best start and end an answer of under _MAX_ANSWER pieces.

    Also the pair's start and end scores added up.
    """
    index = np.array(positions)
    pairs = starts[index][:, None] + ends[index][None, :]
    gap = index[None, :] - index[:, None]
    pairs = np.where((gap >= 0) & (gap < _MAX_ANSWER), pairs, -np.inf)
    i, j = np.unravel_index(int(np.argmax(pairs)), pairs.shape)
    return int(i), int(j), float(pairs[i, j])
