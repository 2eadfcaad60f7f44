"""Embedding functions persisted with the collection, as chromadb 1.5.9 persists them: the
description in the configuration, the function rebuilt by ``get_collection`` without one, the
conflicts refused with chromadb's messages. Each behaviour is compared with the real chromadb."""

from __future__ import annotations

import os
import subprocess
import sys
import warnings
from typing import Any, Dict, List

import numpy as np
import pytest

import mnemodb
from mnemodb.embedding_functions import HashEmbeddingFunction, known_embedding_functions


class LengthEF:
    """A local embedding function with chromadb's persistence methods."""

    def __init__(self, dim: int = 3) -> None:
        self.dim = dim

    def __call__(self, input: List[str]) -> List[np.ndarray]:
        return [np.array([len(t)] + [1.0] * (self.dim - 1), dtype=np.float32) for t in input]

    @staticmethod
    def name() -> str:
        return "test_length_ef"

    def get_config(self) -> Dict[str, Any]:
        return {"dim": self.dim}

    @staticmethod
    def build_from_config(config: Dict[str, Any]) -> "LengthEF":
        return LengthEF(int(config["dim"]))

    def is_legacy(self) -> bool:
        return False

    def default_space(self) -> str:
        return "ip"

    def supported_spaces(self) -> List[str]:
        return ["cosine", "l2", "ip"]


class OtherEF(LengthEF):
    @staticmethod
    def name() -> str:
        return "test_other_ef"


class PlainEF:
    """No name, no config: chromadb calls it legacy."""

    def __call__(self, input: List[str]) -> List[np.ndarray]:
        return [np.ones(3, dtype=np.float32) for _ in input]


def _both(chromadb: Any, tmp_path: Any) -> Dict[str, Any]:
    return {
        "chromadb": chromadb.PersistentClient(str(tmp_path / "chroma")),
        "mnemodb": mnemodb.PersistentClient(str(tmp_path / "mnemo")),
    }


# Child processes block the network as conftest.py does for this one.
_BLOCK = (
    "import socket\n"
    "def _refuse(*a, **k):\n"
    "    raise OSError('network access is blocked in mnemodb tests')\n"
    "socket.socket.connect = _refuse\n"
    "socket.create_connection = _refuse\n"
    "socket.getaddrinfo = _refuse\n"
)


def _run(code: str, **env: str) -> str:
    r = subprocess.run([sys.executable, "-c", _BLOCK + code], capture_output=True, text=True, env={**os.environ, **env})
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


def test_description_is_chromadbs(chromadb: Any, tmp_path: Any) -> None:
    for kind, client in _both(chromadb, tmp_path).items():
        col = client.create_collection("known", embedding_function=LengthEF(4))
        assert col.configuration_json["embedding_function"] == {
            "type": "known",
            "name": "test_length_ef",
            "config": {"dim": 4},
        }, kind
        assert isinstance(col.configuration["embedding_function"], LengthEF), kind
        assert col.configuration_json["hnsw"]["space"] == "ip", kind  # the function's default_space
        named = client.create_collection("named", embedding_function=LengthEF(), configuration={"hnsw": {"space": "l2"}})
        assert named.configuration_json["hnsw"]["space"] == "l2", kind
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            legacy = client.create_collection("legacy", embedding_function=PlainEF())
        assert legacy.configuration_json["embedding_function"] == {"type": "legacy"}, kind
        assert any(issubclass(w.category, DeprecationWarning) for w in caught), kind


def test_conflicts_raise_chromadbs_errors(chromadb: Any, tmp_path: Any) -> None:
    messages: Dict[str, List[str]] = {}
    for kind, client in _both(chromadb, tmp_path).items():
        client.create_collection("notes", embedding_function=LengthEF())
        got = messages.setdefault(kind, [])
        for call in (
            lambda: client.get_collection("notes", embedding_function=OtherEF()),
            lambda: client.get_or_create_collection("notes", embedding_function=OtherEF()),
            lambda: client.create_collection(
                "other", embedding_function=OtherEF(), configuration={"embedding_function": LengthEF()}
            ),
        ):
            with pytest.raises(ValueError) as e:
                call()
            got.append(str(e.value))
        # the same function, or none, is no conflict
        assert client.get_collection("notes", embedding_function=LengthEF()).name == "notes"
        assert client.get_collection("notes").name == "notes"
    assert messages["mnemodb"] == messages["chromadb"]
    assert "conflict" in messages["mnemodb"][0]


def test_get_collection_rebuilds_the_function_in_a_new_process(tmp_path: Any) -> None:
    path = str(tmp_path / "db")
    client = mnemodb.PersistentClient(path)
    ef = HashEmbeddingFunction(32)
    col = client.create_collection("notes", embedding_function=ef)
    col.add(ids=["a", "b", "c"], documents=["apples and pears", "bicycles", "apple pie"])
    expected = col.query(query_embeddings=ef(["apple"]), n_results=2)["ids"]
    out = _run(
        "import mnemodb\n"
        f"col = mnemodb.PersistentClient({path!r}).get_collection('notes')\n"
        "print(type(col.embedding_function).__name__, col.embedding_function.get_config()['dim'])\n"
        "print(col.query(query_texts=['apple'], n_results=2)['ids'])\n"
        "col.add(ids=['d'], documents=['apple cider'])\n"
        "print(col.count())\n"
    )
    assert out.splitlines() == ["HashEmbeddingFunction 32", repr(expected), "4"]


def test_chromadbs_registry_names_are_rebuilt(chromadb: Any, tmp_path: Any) -> None:
    """A function from chromadb's registry (``openai``: it builds without the network) is
    described as chromadb describes it and rebuilt by name in a new process."""
    from chromadb.utils.embedding_functions import OpenAIEmbeddingFunction

    os.environ.setdefault("OPENAI_API_KEY", "sk-test-not-used")
    descriptions = {}
    for kind, client in _both(chromadb, tmp_path).items():
        ef = OpenAIEmbeddingFunction(model_name="text-embedding-3-small", api_key_env_var="OPENAI_API_KEY")
        descriptions[kind] = client.create_collection("remote", embedding_function=ef).configuration_json["embedding_function"]
    assert descriptions["mnemodb"] == descriptions["chromadb"]
    assert descriptions["mnemodb"]["name"] == "openai"
    out = _run(
        "import mnemodb\n"
        f"col = mnemodb.PersistentClient({str(tmp_path / 'mnemo')!r}).get_collection('remote')\n"
        "ef = col.embedding_function\n"
        "print(type(ef).__module__.split('.')[0], type(ef).__name__, ef.get_config()['model_name'])\n",
        OPENAI_API_KEY="sk-test-not-used",
        ANONYMIZED_TELEMETRY="False",
    )
    assert out == "chromadb OpenAIEmbeddingFunction text-embedding-3-small"


def test_unknown_function_is_a_clear_error_when_embedding(chromadb: Any, tmp_path: Any) -> None:
    """Getting a collection whose function cannot be rebuilt works (chromadb's too); embedding
    texts raises ValueError saying why; explicit embeddings still work."""
    code = (
        "import numpy as np\n"
        "{client}\n"
        "class LengthEF:\n"
        "    def __init__(self, dim=3): self.dim = dim\n"
        "    def __call__(self, input): return [np.ones(self.dim, dtype=np.float32) for _ in input]\n"
        "    @staticmethod\n"
        "    def name(): return {name!r}\n"
        "    def get_config(self): return {{'dim': self.dim}}\n"
        "    @staticmethod\n"
        "    def build_from_config(c): return LengthEF(c['dim'])\n"
        "    def is_legacy(self): return False\n"
        "    def default_space(self): return 'l2'\n"
        "    def supported_spaces(self): return ['l2']\n"
        "client.create_collection('notes', embedding_function=LengthEF())\n"
    )
    errors = {}
    for kind, make in (
        ("chromadb", "import chromadb; client = chromadb.PersistentClient({path!r})"),
        ("mnemodb", "import mnemodb; client = mnemodb.PersistentClient({path!r})"),
    ):
        path = str(tmp_path / kind)
        client_line = make.format(path=path)
        _run(code.format(client=client_line, name="unregistered_ef"), ANONYMIZED_TELEMETRY="False")
        errors[kind] = _run(
            f"{client_line}\n"
            "col = client.get_collection('notes')\n"
            "col.add(ids=['a'], embeddings=[[1.0, 2.0, 3.0]])\n"
            "try:\n"
            "    col.query(query_texts=['x'], n_results=1)\n"
            "except ValueError as e:\n"
            "    print(e)\n",
            ANONYMIZED_TELEMETRY="False",
        )
    assert "unregistered_ef not found" in errors["chromadb"]
    assert "unregistered_ef not found" in errors["mnemodb"]
    assert "register_embedding_function" in errors["mnemodb"]


def test_chromadbs_default_function_is_rebuilt_as_mnemodbs(tmp_path: Any) -> None:
    """A collection persisted with chromadb's ``default`` function is rebuilt with mnemodb's
    (the same model, computed in Rust from an installed package, never downloaded)."""

    class Default(LengthEF):
        @staticmethod
        def name() -> str:
            return "default"

    path = str(tmp_path / "db")
    mnemodb.PersistentClient(path).create_collection("notes", embedding_function=Default())
    known_embedding_functions.pop("default", None)  # as in a new process
    from mnemodb.embedding_functions import DefaultEmbeddingFunction, register_embedding_function

    try:
        col = mnemodb.PersistentClient(path).get_collection("notes")
        assert type(col.embedding_function) is DefaultEmbeddingFunction
    finally:
        register_embedding_function(DefaultEmbeddingFunction)
