"""``keyword_search``: whole words, found through the document full-text index, ranked by BM25
over the records in the filters' scope (python/mnemodb/integrations/mem0/_keywords.py)."""

from __future__ import annotations

import math
import re

import pytest

from mnemodb.integrations.mem0 import MnemoVectorStore, _store
from mnemodb.integrations.mem0._keywords import index_text, query_terms

V = [1.0, 0.0, 0.0, 0.0]


@pytest.fixture(autouse=True, params=["full-text index", "scope scan"])
def plan(request, monkeypatch):
    """Every test runs with each way of finding the records forced."""
    if request.param in ("chosen", "off"):
        return request.param
    if request.param == "full-text index":
        monkeypatch.setattr(_store, "SCAN_SCOPE_MAX", -1)
    else:
        monkeypatch.setattr(_store, "SCAN_SCOPE_MAX", 10**9)
        monkeypatch.setattr(_store, "SCAN_SCOPE_FRACTION", 0)
    return request.param


def add(store, rid, text, **payload):
    store.insert(vectors=[V], payloads=[{"data": text, **payload}], ids=[rid])


def ids(hits):
    return [h.id for h in hits]


def test_index_text_and_terms():
    assert index_text("Alice likes SUSHI, and ramen!") == " alice likes sushi and ramen "
    assert index_text("...") is None and index_text(None) is None
    assert query_terms("Sushi? sushi, RAMEN") == ["sushi", "ramen"]


def test_whole_words_only_and_case_insensitive(store):
    add(store, "exact", "I like Sushi.")
    add(store, "plural", "two sushis")
    add(store, "inside", "a trip to Tsushima")
    add(store, "prefix", "sushiya is a shop")
    assert ids(store.keyword_search("SUSHI")) == ["exact"]
    assert set(ids(store.keyword_search("sushis tsushima"))) == {"plural", "inside"}


def test_short_and_unicode_words(store):
    add(store, "c", "I write C and go")
    add(store, "cafe", "Le Café du coin")
    add(store, "cafe2", "cafe culture")
    assert ids(store.keyword_search("c")) == ["c"]
    assert ids(store.keyword_search("go")) == ["c"]
    assert ids(store.keyword_search("CAFÉ")) == ["cafe"]


def test_the_bm25_text_is_text_lemmatized_when_present(store):
    add(store, "lem", "She attended the meetings", text_lemmatized="attend meeting meetings")
    assert ids(store.keyword_search("attend")) == ["lem"]
    assert ids(store.keyword_search("attended")) == []


def test_nothing_to_search(store):
    add(store, "a", "words here")
    assert store.keyword_search("") == [] and store.keyword_search("?!") == []
    assert store.keyword_search("absent") == []
    assert store.keyword_search("words", top_k=0) == []


def _reference_bm25(query, docs, k1=1.2, b=0.75):
    """BM25 written out from the definition, over ``docs`` (the corpus: every record in
    scope), with the average length of the documents holding a query word."""
    terms = list(dict.fromkeys(re.findall(r"\w+", query.lower())))
    toks = {rid: re.findall(r"\w+", text.lower()) for rid, text in docs.items()}
    hit = {rid: t for rid, t in toks.items() if any(w in t for w in terms)}
    n = len(docs)
    avgdl = sum(len(t) for t in hit.values()) / len(hit)
    out = {}
    for rid, t in hit.items():
        s = 0.0
        for w in terms:
            f = t.count(w)
            if f:
                df = sum(1 for u in hit.values() if w in u)
                idf = math.log(1 + (n - df + 0.5) / (df + 0.5))
                s += idf * f * (k1 + 1) / (f + k1 * (1 - b + b * len(t) / avgdl))
        out[rid] = s
    return out


CORPUS = {
    "r0": "alice likes sushi",
    "r1": "alice likes sushi and sushi rolls with friends on sundays",
    "r2": "bob plays tennis",
    "r3": "the tennis club meets on sundays",
    "r4": "sushi",
    "r5": "alice alice alice",
    "r6": "nothing in common here",
}


@pytest.mark.parametrize("query", ["sushi", "alice sushi", "tennis sundays", "friends", "Sushi ALICE tennis club"])
def test_scores_are_bm25(store, query):
    for rid, text in CORPUS.items():
        add(store, rid, text, user_id="u")
    want = _reference_bm25(query, CORPUS)
    hits = store.keyword_search(query, top_k=20)
    assert {h.id: h.score for h in hits} == pytest.approx(want)
    scores = [h.score for h in hits]
    assert scores == sorted(scores, reverse=True)
    assert all(h.payload == {"data": CORPUS[h.id], "user_id": "u"} for h in hits)


def test_top_k_and_ties_in_insertion_order(store):
    for i in range(6):
        add(store, f"t{i}", "same words here")
    assert ids(store.keyword_search("words", top_k=4)) == ["t0", "t1", "t2", "t3"]


def test_the_corpus_is_the_filters_scope(store):
    """Another user's records change neither which records come back nor their scores."""
    for rid, text in CORPUS.items():
        add(store, rid, text, user_id="alice")
    before = {h.id: h.score for h in store.keyword_search("sushi tennis", top_k=20, filters={"user_id": "alice"})}
    for i in range(30):
        add(store, f"bob{i}", "sushi sushi tennis" if i % 2 else "sushi", user_id="bob")
    after = store.keyword_search("sushi tennis", top_k=20, filters={"user_id": "alice"})
    assert {h.id: h.score for h in after} == pytest.approx(before)
    assert before == pytest.approx(_reference_bm25("sushi tennis", CORPUS))
    bob = store.keyword_search("sushi", top_k=50, filters={"user_id": "bob"})
    assert {h.id for h in bob} == {f"bob{i}" for i in range(30)}


def test_filters_checked_in_python_apply(store):
    add(store, "a", "sushi for lunch", topic="Food and drink")
    add(store, "b", "sushi again", topic="travel")
    assert ids(store.keyword_search("sushi", filters={"topic": {"icontains": "FOOD"}})) == ["a"]


def test_scores_on_a_store_opened_on_a_chromadb_style_client(tmp_path, chromadb):
    """Counting the corpus falls back to a get when the collection is not mnemodb's (a
    client of another chromadb-compatible store)."""
    client = chromadb.EphemeralClient()
    try:
        s = MnemoVectorStore(collection_name="other", client=client)
        for rid, text in CORPUS.items():
            s.insert(vectors=[V], payloads=[{"data": text, "user_id": "u" if rid != "r6" else "v"}], ids=[rid])
        scoped = {rid: t for rid, t in CORPUS.items() if rid != "r6"}
        got = {h.id: h.score for h in s.keyword_search("alice sushi", top_k=20, filters={"user_id": "u"})}
        assert got == pytest.approx(_reference_bm25("alice sushi", scoped))
    finally:
        client.delete_collection("other")


@pytest.mark.parametrize("plan", ["chosen"], indirect=True)
def test_the_plan_follows_the_scope(store, monkeypatch):
    """A user's memories among many users' are read directly; a scope that is most of the
    collection goes through the full-text index."""
    monkeypatch.setattr(_store, "SCAN_SCOPE_MAX", 4096)
    monkeypatch.setattr(_store, "SCAN_SCOPE_FRACTION", 8)
    for u in range(10):
        store.insert(vectors=[V] * 5, payloads=[{"data": f"note {i} of user {u}", "user_id": f"u{u}"} for i in range(5)], ids=[f"u{u}-{i}" for i in range(5)])
    calls = []
    real_get = store.collection.get

    def spy(**kwargs):
        calls.append("where_document" in kwargs)
        return real_get(**kwargs)

    store.collection.get = spy
    assert len(store.keyword_search("note", top_k=50, filters={"user_id": "u3"})) == 5
    assert calls[0] is False  # 5 of 50 records: read them
    calls.clear()
    assert len(store.keyword_search("note", top_k=50, filters={"user_id": {"ne": "u3"}})) == 45
    assert calls[0] is True  # 45 of 50: ask the index


@pytest.mark.parametrize("plan", ["off"], indirect=True)
def test_keyword_search_can_be_turned_off(tmp_path):
    s = MnemoVectorStore(collection_name="no-keywords", path=str(tmp_path), keyword_search=False)
    add(s, "a", "sushi")
    assert s.keyword_search("sushi") is None
