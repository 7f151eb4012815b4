"""The training script's own bookkeeping (the tests never train)."""

from __future__ import annotations

import sys
from pathlib import Path

import torch

from index.embedders import resolve_model_path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "training"))

from train_reader import Pair, _attention, _by_length, _in_order, build_model, drop_out  # noqa: E402


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


def test_drop_out_zeroes_about_p_of_the_weights_and_leaves_the_rest_as_they_were() -> None:
    weights = torch.rand(8, 12, 64, 64) + 0.5
    first, second = drop_out(weights, 0.1), drop_out(weights, 0.1)
    dropped = first == 0
    assert 0.095 < dropped.float().mean().item() < 0.105
    assert torch.equal(first[~dropped], weights[~dropped])  # no rescaling: the caller does it
    assert not torch.equal(dropped, second == 0)  # fresh coins each call
    # Each of the four 16-bit quarters of a random word drops its own share, none favoured.
    quarters = dropped.flatten()[:(dropped.numel() // 4) * 4].view(-1, 4).float().mean(0)
    assert all(0.09 < q < 0.11 for q in quarters.tolist())


def test_with_fast_dropout_the_model_reads_as_the_exported_one_and_minds_the_padding() -> None:
    base = Path(resolve_model_path("all-MiniLM-L6-v2"))
    shipped = build_model(base)  # the shipped recipe keeps torch's dropout and transformers' attention
    assert any(isinstance(m, torch.nn.Dropout) for m in shipped.modules())
    assert shipped.transformer.config._attn_implementation == "eager"
    model = build_model(base, fast_dropout=True)
    assert not any(isinstance(m, torch.nn.Dropout) for m in model.modules())  # all replaced by the cheaper one
    ids = torch.randint(1000, 5000, (2, 20))
    types = torch.zeros_like(ids)
    types[:, 8:] = 1
    mask = torch.ones_like(ids)
    mask[1, 14:] = 0
    model.eval()
    with torch.no_grad():
        ours = model(ids, mask, types)
        alone = model(ids[1:, :14], mask[1:, :14], types[1:, :14])
        model.transformer.set_attn_implementation("eager")  # transformers' own, as exported
        eager = model(ids, mask, types)
    for a, b in zip(ours, eager, strict=True):
        assert torch.equal(a, b)
    assert abs(ours[0][1].item() - alone[0][0].item()) < 1e-4  # the padded row reads as the row alone
    model.train()
    with torch.no_grad():
        model.transformer.set_attn_implementation("eager_drop_out")
        assert not torch.equal(model(ids, mask, types)[0], model(ids, mask, types)[0])  # dropout is on


def test_under_bfloat16_autocast_the_fast_attention_stays_in_bfloat16_and_ignores_the_padding() -> None:
    query, key, value = (torch.randn(2, 12, 10, 32, dtype=torch.bfloat16) for _ in range(3))
    mask = torch.zeros(2, 1, 10, 10)  # transformers' padding mask: float32, the dtype's minimum where padded
    mask[1, :, :, 7:] = torch.finfo(torch.float32).min
    module = torch.nn.Module()
    module.eval()
    out, weights = _attention(module, query, key, value, mask)
    assert weights.dtype == out.dtype == torch.bfloat16  # a float32 mask made all of it float32, at twice the time
    assert torch.all(weights[1, :, :, 7:] == 0)
    alone, _ = _attention(module, query[1:, :, :, :], key[1:, :, :7], value[1:, :, :7], None)
    assert torch.allclose(out[1:].float(), alone.float(), atol=1e-2)
