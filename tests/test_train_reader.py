"""The training script's own bookkeeping (the tests never train)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "training"))

from train_reader import Pair, _by_length, _in_order  # noqa: E402


def pair(sentence: str, label: int = 0) -> Pair:
    return Pair("Who won?", sentence, label, None, "an article")


def test_held_out_pairs_read_by_length_come_back_in_their_own_order() -> None:
    pairs = [pair("x" * n) for n in (90, 5, 40, 5, 200, 1, 60)]
    batches = _by_length(pairs, size=3)
    assert [len(b) for b in batches] == [3, 3, 1]
    read = [b for batch in batches for b in batch]
    assert [len(p.sentence) for p in read] == sorted(len(p.sentence) for p in pairs)
    logits = [float(len(p.sentence)) for p in read]  # a "logit" that names its pair
    assert _in_order(pairs, logits) == [float(len(p.sentence)) for p in pairs]
