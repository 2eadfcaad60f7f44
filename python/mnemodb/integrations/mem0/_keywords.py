"""Keyword search for mem0's hybrid scoring: the words of each memory's document find the
records (through the document full-text index, or by reading a small scope's documents: see
``MnemoVectorStore.keyword_search``), BM25 ranks them.

mem0 stores ``text_lemmatized`` (its BM25 text: lemmas without stop words when spaCy is
installed, the text itself otherwise) in each payload and passes the query through the same
lemmatizer. Each record's document is that text as lower-case word tokens between spaces
(``" alice like sushi "``), so ``where_document={"$contains": " sushi "}`` matches the word
and not ``"sushis"`` or ``"tsushima"``; the trigram full-text index answers it without a scan.

Ranking is Okapi BM25 (``k1 = 1.2``, ``b = 0.75``, Lucene's non-negative IDF
``ln(1 + (N - df + 0.5) / (df + 0.5))``), with the records that pass the search's filters as
the corpus: mem0 always scopes by user, agent or run, so a user's memories are their corpus and
nobody else's words move their scores. ``N`` is counted by the index (``count(where)``, no
record read), ``df`` and the term frequencies come from the matching documents, and the
average document length is that of the matching documents (an estimate: the exact one would
read every record in scope). mem0 squashes the raw score with a sigmoid centred at 5 to 12
(``mem0.utils.scoring``), the scale BM25 gives.
"""

from __future__ import annotations

import math
import re
from typing import Any, Dict, List, Optional, Sequence, Tuple

K1 = 1.2
B = 0.75
MAX_TERMS = 64  # a longer query keeps its first 64 distinct words

_WORD = re.compile(r"\w+")


def tokens(text: str) -> List[str]:
    """Lower-case word tokens (``\\w+``, Unicode)."""
    return _WORD.findall(text.lower())


def index_text(text: Optional[str]) -> Optional[str]:
    """The document stored for ``text``: its tokens between single spaces, or ``None``."""
    if not isinstance(text, str):
        return None
    words = tokens(text)
    return " " + " ".join(words) + " " if words else None


def query_terms(query: str) -> List[str]:
    """The distinct tokens of ``query``, in order."""
    seen: Dict[str, None] = {}
    for t in tokens(query):
        seen.setdefault(t, None)
        if len(seen) == MAX_TERMS:
            break
    return list(seen)


def where_document(terms: Sequence[str]) -> Dict[str, Any]:
    """The document filter of records holding at least one of ``terms`` as a word."""
    clauses: List[Dict[str, Any]] = [{"$contains": f" {t} "} for t in terms]
    return clauses[0] if len(clauses) == 1 else {"$or": clauses}


def bm25(terms: Sequence[str], documents: Sequence[str], corpus_size: int) -> List[float]:
    """BM25 scores of ``documents`` (index texts, each holding one of ``terms`` or more) for
    the query ``terms``, in a corpus of ``corpus_size`` records including them."""
    counts: List[Tuple[Dict[str, int], int]] = []
    df: Dict[str, int] = {t: 0 for t in terms}
    for doc in documents:
        words = doc.split()
        tf: Dict[str, int] = {}
        for w in words:
            if w in df:
                tf[w] = tf.get(w, 0) + 1
        for t in tf:
            df[t] += 1
        counts.append((tf, len(words)))
    if not counts:
        return []
    n = max(corpus_size, len(counts))
    avgdl = sum(length for _, length in counts) / len(counts) or 1.0
    idf = {t: math.log(1.0 + (n - f + 0.5) / (f + 0.5)) for t, f in df.items()}
    scores = []
    for tf, length in counts:
        norm = K1 * (1.0 - B + B * length / avgdl)
        scores.append(sum(idf[t] * f * (K1 + 1.0) / (f + norm) for t, f in tf.items()))
    return scores
