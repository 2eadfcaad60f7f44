"""Registering the ``"mnemodb"`` provider with mem0: idempotent, undoable, and mem0's own config
machinery builds ``MnemoDbConfig`` from a dict."""

from __future__ import annotations

import copy
import os
import sys

import pytest
from mem0.utils.factory import VectorStoreFactory
from mem0.vector_stores.configs import VectorStoreConfig

import mnemodb
import mnemodb.integrations.mem0 as integration
from mnemodb.integrations.mem0 import MnemoDbConfig, MnemoVectorStore


def test_mem0_builds_the_config_from_a_dict(tmp_path):
    c = VectorStoreConfig(provider="mnemodb", config={"collection_name": "mem", "path": str(tmp_path), "distance": "l2"})
    assert isinstance(c.config, MnemoDbConfig)
    assert (c.config.collection_name, c.config.path, c.config.distance) == ("mem", str(tmp_path), "l2")
    store = VectorStoreFactory.create("mnemodb", c.config)
    assert isinstance(store, MnemoVectorStore) and store.col_info()["space"] == "l2"


def test_no_tmp_default_path():
    """mem0 gives stores whose config declares `path` a default "/tmp/<provider>"; mnemodb's
    default is beside mem0's history database instead (decided by the store)."""
    assert VectorStoreConfig(provider="mnemodb", config={}).config.path is None


def test_config_refuses_unknown_fields_and_bad_distance():
    with pytest.raises(ValueError, match="host"):
        VectorStoreConfig(provider="mnemodb", config={"host": "localhost"})
    with pytest.raises(ValueError, match="distance"):
        VectorStoreConfig(provider="mnemodb", config={"distance": "dot"})


def test_a_copied_config_shares_the_client():
    """mem0 deep-copies the vector store config for its entity store."""
    client = mnemodb.EphemeralClient()
    c = MnemoDbConfig(client=client, collection_name="a")
    d = copy.deepcopy(c)
    assert d.client is client and d is not c
    d.collection_name = "b"
    assert c.collection_name == "a"


def test_register_is_idempotent_and_undoable():
    try:
        integration.register()
        integration.register()
        assert VectorStoreFactory.provider_to_class["mnemodb"] == integration.STORE_CLASS
        integration.unregister()
        assert "mnemodb" not in VectorStoreFactory.provider_to_class
        assert integration.CONFIG_MODULE not in sys.modules
        with pytest.raises(ValueError, match="Unsupported vector store provider: mnemodb"):
            VectorStoreConfig(provider="mnemodb", config={})
    finally:
        integration.register()
    assert isinstance(VectorStoreConfig(provider="mnemodb", config={}).config, MnemoDbConfig)


def test_memory_from_config_with_a_client(make_memory):
    client = mnemodb.EphemeralClient()
    try:
        m = make_memory({"provider": "mnemodb", "config": {"collection_name": "with-client", "client": client}})
        m.add("hello there", user_id="u", infer=False)
        assert client.get_collection("with-client").count() == 1
    finally:
        client.delete_collection("with-client")


def test_default_directory_is_mem0s(make_memory, monkeypatch, tmp_path):
    import mem0.memory.setup as setup

    monkeypatch.setattr(setup, "mem0_dir", str(tmp_path))
    m = make_memory({"provider": "mnemodb", "config": {"collection_name": "defaults"}})
    m.add("hello there", user_id="u", infer=False)
    assert os.path.isdir(tmp_path / "mnemodb")
    assert mnemodb.PersistentClient(path=str(tmp_path / "mnemodb")).get_collection("defaults").count() == 1
