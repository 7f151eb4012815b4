"""A BERT encoder's ONNX graph, written from its safetensors weights with the `onnx` package: no torch.

The graph is the one torch's exporter traced from the transformer (index/embedders/onnx_runtime.py keeps that
route for models this cannot read): it takes `input_ids`, `attention_mask` and `token_type_ids`
(int64, batch x sequence, both axes dynamic) and returns `last_hidden_state` (float32, batch x
sequence x hidden). Pooling and normalisation stay outside, in numpy, as before. Written by hand
because the exporters that could do it (torch.onnx, optimum) need torch, the very thing the slim
install leaves out; a BERT encoder is a few dozen standard ONNX operators.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from index.errors import ConfigError

# Bump when the graph changes, so a cached file from an older builder is never reused.
BUILDER_VERSION = 1
_OPSET = 17  # LayerNormalization is in 17; the exporter used 17 too, and the quantiser reads it


def can_build(folder: Path) -> bool:
    """Whether the folder holds a BERT encoder (absolute positions, exact GELU) with safetensors weights."""
    try:
        config = json.loads((folder / "config.json").read_text())
    except (OSError, ValueError):
        return False
    return (config.get("model_type") == "bert" and config.get("hidden_act") == "gelu"
            and config.get("position_embedding_type", "absolute") == "absolute"
            and (folder / "model.safetensors").is_file())


def build_bert_onnx(folder: Path, target: Path) -> None:
    """Write the encoder in `folder` (config.json, model.safetensors) as an ONNX file at `target`."""
    import onnx
    from onnx import TensorProto, helper
    from safetensors.numpy import load_file

    if not can_build(folder):
        raise ConfigError(f"{folder} does not hold a BERT encoder with model.safetensors")
    config = json.loads((folder / "config.json").read_text())
    weights = load_file(str(folder / "model.safetensors"))
    if "bert.embeddings.word_embeddings.weight" in weights:  # saved from BertFor... rather than BertModel
        weights = {k.removeprefix("bert."): v for k, v in weights.items()}
    graph = _Graph(weights)
    hidden, heads = int(config["hidden_size"]), int(config["num_attention_heads"])
    eps = float(config.get("layer_norm_eps", 1e-12))

    x = graph.node("Add", [graph.node("Gather", [graph.weight("embeddings.word_embeddings.weight"), "input_ids"]),
                           graph.node("Gather", [graph.weight("embeddings.token_type_embeddings.weight"),
                                                 "token_type_ids"])])
    width = graph.node("Gather", [graph.node("Shape", ["input_ids"]), graph.constant(np.array(1, np.int64))])
    positions = graph.node("Range", [graph.constant(np.array(0, np.int64)), width,
                                     graph.constant(np.array(1, np.int64))])
    x = graph.node("Add", [x, graph.node("Gather", [graph.weight("embeddings.position_embeddings.weight"),
                                                    positions])])
    x = graph.layer_norm(x, "embeddings.LayerNorm", eps)

    # Padding as the transformer masks it: the lowest float added to the scores of padded keys.
    keep = graph.node("Cast", ["attention_mask"], to=TensorProto.FLOAT)
    dropped = graph.node("Sub", [graph.constant(np.array(1, np.float32)), keep])
    bias = graph.node("Mul", [dropped, graph.constant(np.array(np.finfo(np.float32).min, np.float32))])
    bias = graph.node("Unsqueeze", [bias, graph.constant(np.array([1, 2], np.int64))])  # batch x 1 x 1 x keys

    for i in range(int(config["num_hidden_layers"])):
        x = graph.encoder_layer(x, f"encoder.layer.{i}", bias, hidden=hidden, heads=heads, eps=eps)

    inputs = [helper.make_tensor_value_info(name, TensorProto.INT64, ["batch", "sequence"])
              for name in ("input_ids", "attention_mask", "token_type_ids")]
    output = helper.make_tensor_value_info("last_hidden_state", TensorProto.FLOAT, ["batch", "sequence", hidden])
    graph.nodes.append(helper.make_node("Identity", [x], ["last_hidden_state"]))
    model = helper.make_model(helper.make_graph(graph.nodes, "bert", inputs, [output], graph.initializers),
                              opset_imports=[helper.make_opsetid("", _OPSET)], producer_name="articlebot")
    onnx.checker.check_model(model)
    onnx.save(model, str(target))


class _Graph:
    """The nodes and initialisers of the graph being written, with fresh names for every value."""

    def __init__(self, weights: dict[str, np.ndarray]) -> None:
        self.weights = weights
        self.nodes: list[Any] = []
        self.initializers: list[Any] = []
        self._count = 0

    def _name(self, hint: str) -> str:
        self._count += 1
        return f"{hint}_{self._count}"

    def weight(self, key: str, *, transpose: bool = False) -> str:
        """A weight of the model as an initialiser; a linear layer's is transposed for MatMul."""
        from onnx import numpy_helper

        try:
            value = self.weights[key]
        except KeyError:
            raise ConfigError(f"model.safetensors has no {key!r}: not a BERT encoder this can read") from None
        value = np.ascontiguousarray(value.T if transpose else value, dtype=np.float32)
        self.initializers.append(numpy_helper.from_array(value, key))
        return key

    def constant(self, value: np.ndarray) -> str:
        """A constant value as an initialiser."""
        from onnx import numpy_helper

        name = self._name("const")
        self.initializers.append(numpy_helper.from_array(value, name))
        return name

    def node(self, op: str, inputs: list[str], **attributes: Any) -> str:
        """Append one operator and return the name of its output."""
        from onnx import helper

        output = self._name(op.lower())
        self.nodes.append(helper.make_node(op, inputs, [output], **attributes))
        return output

    def linear(self, x: str, prefix: str) -> str:
        """x @ W.T + b, as torch's Linear computes it."""
        return self.node("Add", [self.node("MatMul", [x, self.weight(f"{prefix}.weight", transpose=True)]),
                                 self.weight(f"{prefix}.bias")])

    def layer_norm(self, x: str, prefix: str, eps: float) -> str:
        """Layer normalisation over the last axis."""
        return self.node("LayerNormalization", [x, self.weight(f"{prefix}.weight"), self.weight(f"{prefix}.bias")],
                         axis=-1, epsilon=eps)

    def heads(self, x: str, heads: int, size: int) -> str:
        """batch x sequence x hidden into batch x heads x sequence x head size."""
        split = self.node("Reshape", [x, self.constant(np.array([0, 0, heads, size], np.int64))])
        return self.node("Transpose", [split], perm=[0, 2, 1, 3])

    def encoder_layer(self, x: str, prefix: str, bias: str, *, hidden: int, heads: int, eps: float) -> str:
        """Self-attention and the feed-forward block, each with its residual and layer norm (post-norm)."""
        size = hidden // heads
        query = self.heads(self.linear(x, f"{prefix}.attention.self.query"), heads, size)
        key = self.heads(self.linear(x, f"{prefix}.attention.self.key"), heads, size)
        value = self.heads(self.linear(x, f"{prefix}.attention.self.value"), heads, size)
        scores = self.node("MatMul", [query, self.node("Transpose", [key], perm=[0, 1, 3, 2])])
        scores = self.node("Add", [self.node("Mul", [scores, self.constant(np.array(1 / math.sqrt(size),
                                                                                      np.float32))]), bias])
        context = self.node("MatMul", [self.node("Softmax", [scores], axis=-1), value])
        context = self.node("Reshape", [self.node("Transpose", [context], perm=[0, 2, 1, 3]),
                                        self.constant(np.array([0, 0, hidden], np.int64))])
        attended = self.node("Add", [self.linear(context, f"{prefix}.attention.output.dense"), x])
        attended = self.layer_norm(attended, f"{prefix}.attention.output.LayerNorm", eps)
        inner = self.linear(attended, f"{prefix}.intermediate.dense")
        # The exact GELU: x * (1 + erf(x / sqrt 2)) / 2 (onnxruntime fuses it back into one kernel).
        erf = self.node("Erf", [self.node("Div", [inner, self.constant(np.array(math.sqrt(2), np.float32))])])
        gelu = self.node("Mul", [self.node("Mul", [inner, self.node("Add", [erf, self.constant(
            np.array(1, np.float32))])]), self.constant(np.array(0.5, np.float32))])
        out = self.node("Add", [self.linear(gelu, f"{prefix}.output.dense"), attended])
        return self.layer_norm(out, f"{prefix}.output.LayerNorm", eps)
