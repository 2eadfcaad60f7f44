#!/usr/bin/env python3
"""Peak memory of `mnemodb serve` for hostile request bodies (issue 21, item 5).

Starts the binary ($MNEMODB_BIN, default target/release/mnemodb) over a temporary directory,
and for each case reads the process's peak resident size (VmHWM in /proc) before and after
one request, printing the rise in MiB and the reply. Each case runs in a fresh server, so
one case's peak does not hide the next. Linux only; stdlib only.

    python3 scripts/body_memory.py            # all cases
    MNEMODB_BIN=/tmp/old-mnemodb python3 scripts/body_memory.py
"""

import http.client
import json
import os
import subprocess
import sys
import tempfile

BIN = os.environ.get("MNEMODB_BIN", "target/release/mnemodb")
T = "/api/v2/tenants/default_tenant/databases/default_database"


def hwm_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise RuntimeError("no VmHWM")


def request(port, method, path, body=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    headers = {"content-type": "application/json"} if body is not None else {}
    conn.request(method, path, body=body, headers=headers)
    resp = conn.getresponse()
    data = resp.read()
    conn.close()
    return resp.status, data


def one_case(name, make_body):
    with tempfile.TemporaryDirectory() as d:
        proc = subprocess.Popen(
            [BIN, "serve", "--port", "0", "--path", d],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env={**os.environ, "RUST_LOG": "error"},
        )
        try:
            line = proc.stdout.readline().decode()
            port = int(line.strip().rsplit(":", 1)[1])
            status, data = request(port, "POST", f"{T}/collections", json.dumps({"name": "coll"}))
            if status != 200:
                raise RuntimeError(f"create collection: {status} {data!r}")
            cid = json.loads(data)["id"]
            # Warm up: one small add, so the rise below is the big body's alone.
            request(port, "POST", f"{T}/collections/{cid}/add",
                    json.dumps({"ids": ["w"], "embeddings": [[0.5, 0.5]]}))
            body = make_body()
            before = hwm_kib(proc.pid)
            status, data = request(port, "POST", f"{T}/collections/{cid}/add", body)
            after = hwm_kib(proc.pid)
            msg = data[:120].decode(errors="replace")
            print(f"{name:<44} body {len(body) / 2**20:6.1f} MiB  peak RSS +{(after - before) / 1024:7.1f} MiB"
                  f"  -> {status} {msg}")
        finally:
            proc.kill()
            proc.wait()


CASES = {
    # The case: one embedding of 10 million floats, 39 MiB.
    "one 10M-float embedding": lambda: (
        b'{"ids":["a"],"embeddings":[[' + b",".join([b"0.5"] * 10_000_000) + b"]]}"),
    # The same size spread over many ids of one dimension.
    "ids: 12.5M empty strings (batch cap 5461)": lambda: (
        b'{"ids":[' + b",".join([b'""'] * 12_500_000) + b'],"embeddings":[[0.5]]}'),
    # A list of null metadatas beside one id.
    "metadatas: 7M nulls beside one id": lambda: (
        b'{"ids":["a"],"embeddings":[[0.5]],"metadatas":['
        + b",".join([b"null"] * 7_000_000) + b"]}"),
    # A metadata list value (accepted: the engine has no limit on list length).
    "metadata: one list of 10M numbers": lambda: (
        b'{"ids":["a"],"embeddings":[[0.5,0.5]],"metadatas":[{"k":['
        + b",".join([b"1"] * 10_000_000) + b"]}]}"),
}

if __name__ == "__main__":
    wanted = sys.argv[1:] or list(CASES)
    print(f"binary: {BIN}")
    for name in wanted:
        one_case(name, CASES[name])
