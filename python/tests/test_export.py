"""``client.export`` / ``client.import_`` and ``mnemodb.codec`` through ``_native``: every
format round-trips records bit for bit, a bad file leaves no collection, the codec keeps
Python values exactly."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

import mnemodb
from mnemodb import codec
from mnemodb.errors import InvalidArgumentError

FORMATS = ["json", "json+zstd", "msgpack", "msgpack+zstd", "postcard", "postcard+zstd"]


def _records() -> dict:
    rng = np.random.default_rng(7)
    emb = rng.standard_normal((40, 5)).astype(np.float32)
    emb[0, 0] = -0.0
    emb[1, 1] = np.float32(1e-42)  # subnormal
    return dict(
        ids=[f"id{i}" for i in range(40)],
        embeddings=emb,
        documents=[f"doc {i} ✓" if i % 3 else None for i in range(40)],
        uris=[f"s3://b/{i}" if i % 4 == 0 else None for i in range(40)],
        metadatas=[
            None
            if i % 5 == 0
            else {
                "i": i - 20,
                "f": i / 7,
                "b": i % 2 == 0,
                "s": "x" * (i % 4),
                "il": [i, -i],
                "fl": [0.1, float(i)],
                "sl": ["a", "é"],
                "bl": [True],
            }
            for i in range(40)
        ],
    )


def _everything(col: "mnemodb.Collection") -> dict:
    return col.get(include=["embeddings", "documents", "metadatas", "uris"])


@pytest.mark.parametrize("fmt", FORMATS)
def test_export_then_import_gives_every_record_back_bit_for_bit(tmp_path: Path, fmt: str) -> None:
    src = mnemodb.PersistentClient(str(tmp_path / "src"))
    col = src.create_collection("notes", configuration={"hnsw": {"space": "ip"}}, metadata={"topic": "t"})
    col.add(**_records())
    # A record with a uri and no metadata: `get` shows {} for it, as chromadb.
    col.add(ids=["uri-only"], embeddings=[[1.0, 2.0, 3.0, 4.0, 5.0]], uris=["s3://only"])
    want = _everything(col)
    out = tmp_path / f"notes.{fmt}"
    assert src.export("notes", out, format=fmt) == 41
    dst = mnemodb.PersistentClient(str(tmp_path / "dst"))
    back = dst.import_(out, name="copy")
    assert back.name == "copy" and back.metadata == {"topic": "t"}
    assert back.configuration_json["hnsw"]["space"] == "ip"
    got = _everything(back)
    assert got["ids"] == want["ids"]
    assert got["documents"] == want["documents"]
    assert got["uris"] == want["uris"]
    assert got["metadatas"] == want["metadatas"]
    assert np.array_equal(np.asarray(got["embeddings"]).view(np.uint32), np.asarray(want["embeddings"]).view(np.uint32))
    src.close()
    dst.close()


def test_a_bad_record_raises_naming_its_line_and_leaves_no_collection(tmp_path: Path) -> None:
    client = mnemodb.PersistentClient(str(tmp_path / "db"))
    col = client.create_collection("notes")
    col.add(ids=[f"r{i}" for i in range(10)], embeddings=np.eye(10, dtype=np.float32))
    good = tmp_path / "notes.jsonl"
    client.export(col, good)
    lines = good.read_text().splitlines()
    lines[6] = '{"id": "r5", "embedding": [1.0, 2.0]}'  # line 7: the wrong dimension
    bad = tmp_path / "bad.jsonl"
    bad.write_text("\n".join(lines) + "\n")
    with pytest.raises(InvalidArgumentError, match="bad.jsonl line 7: .*dimension 2"):
        client.import_(bad, name="copy")
    assert [c.name for c in client.list_collections()] == ["notes"]
    copy = client.import_(good, name="copy")  # nothing blocks the re-run
    assert copy.count() == 10
    with pytest.raises(InvalidArgumentError, match="unknown format"):
        client.export("notes", tmp_path / "x", format="yaml")
    client.close()


VALUES = [
    None,
    True,
    0,
    -(2**63),
    2**63 - 1,
    0.1,
    -0.0,
    "héllo ✓",
    b"\x00\xff",
    [],
    {},
    {"messages": [{"type": "human", "content": "hi", "id": 1}, {"type": "ai", "content": "", "n": 2.5}], "blob": b"xyz"},
]


@pytest.mark.parametrize("fmt", FORMATS)
def test_the_codec_gives_python_values_back_exactly(fmt: str) -> None:
    for v in VALUES:
        back = codec.decode(codec.encode(v, fmt))
        assert back == v and type(back) is type(v), (fmt, v, back)
    assert codec.decode(codec.encode((1, "a"), fmt)) == [1, "a"]
    nested = {"b": 1, "a": 2}
    assert list(codec.decode(codec.encode(nested, fmt))) == ["b", "a"], "dict order kept"
    if not fmt.startswith("json"):
        assert math.isnan(codec.decode(codec.encode(float("nan"), fmt)))


def test_the_codec_refuses_what_it_cannot_hold() -> None:
    with pytest.raises(ValueError, match="64 bits"):
        codec.encode(2**64)
    with pytest.raises(TypeError, match="dict keys must be str"):
        codec.encode({1: "a"})
    with pytest.raises(TypeError, match="not set"):
        codec.encode({1, 2})
    with pytest.raises(InvalidArgumentError, match="use msgpack or postcard"):
        codec.encode(float("inf"), "json")
    with pytest.raises(InvalidArgumentError, match="not a mnemodb codec stream"):
        codec.decode(b"not a stream at all")
    deep: list = []
    for _ in range(200):
        deep = [deep]
    with pytest.raises(ValueError, match="nested more than 128"):
        codec.encode(deep)
