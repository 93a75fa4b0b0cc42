"""The merge benchmark's pycrdt side (Yjs's Rust core, Yrs, through Python).

Reads the record that veld-bench wrote (base fields, then two concurrent edits), builds
the same situation in pycrdt, times merging, and prints one JSON line.

  - base: a Doc whose Map "fields" holds every field of the ~1 KB record (client 1).
  - A: base + set "summary" and "observations" (client 2).
  - B: base + set "summary" and "followUp" (client 3): concurrent with A, both write
    "summary" (Yjs keeps one of them, by client id; Veld keeps both as a conflict).
  - uA, uB: each side's full state as a Yjs update (what would travel or be stored).

Timed, `iterations` times each:
  - merge_updates: pycrdt.merge_updates(uA, uB) -> the merged update (bytes in, bytes out;
    Yrs decodes both, merges the block stores and encodes the result).
  - apply: a new Doc that applies uB then uA (decodes and integrates both into a live
    document: the state a replica holding B has after receiving A, built from scratch).

Usage: python pycrdt_merge.py SPEC.json ITERATIONS
"""
import json
import sys
import time

import pycrdt


def doc_from(update=None, client_id=None):
    doc = pycrdt.Doc(client_id=client_id)
    fields = doc.get("fields", type=pycrdt.Map)
    if update is not None:
        doc.apply_update(update)
    return doc, fields


def main():
    spec = json.load(open(sys.argv[1], encoding="utf-8"))
    iterations = int(sys.argv[2])

    base, base_fields = doc_from(client_id=1)
    with base.transaction():
        for name, value in spec["base"].items():
            base_fields[name] = value
    base_update = base.get_update()

    a, a_fields = doc_from(base_update, client_id=2)
    with a.transaction():
        for name, value in spec["a"].items():
            a_fields[name] = value
    b, b_fields = doc_from(base_update, client_id=3)
    with b.transaction():
        for name, value in spec["b"].items():
            b_fields[name] = value
    ua, ub = a.get_update(), b.get_update()

    # Check that both paths merge what they should.
    merged, merged_fields = doc_from(pycrdt.merge_updates(ua, ub))
    values = merged_fields.to_py()
    assert values["observations"] == spec["a"]["observations"], "A's edit lost"
    assert values["followUp"] == spec["b"]["followUp"], "B's edit lost"
    assert values["summary"] in (spec["a"]["summary"], spec["b"]["summary"])

    sink = 0
    start = time.perf_counter()
    for _ in range(iterations):
        sink += len(pycrdt.merge_updates(ua, ub))
    merge_seconds = time.perf_counter() - start

    start = time.perf_counter()
    for _ in range(iterations):
        doc = pycrdt.Doc()
        doc.get("fields", type=pycrdt.Map)
        doc.apply_update(ub)
        doc.apply_update(ua)
    apply_seconds = time.perf_counter() - start

    print(json.dumps({
        "merge_updates_per_s": iterations / merge_seconds,
        "apply_per_s": iterations / apply_seconds,
        "update_bytes": [len(ua), len(ub)],
        "merged_bytes": sink // iterations,
        "pycrdt": getattr(pycrdt, "__version__", "?"),
    }))


if __name__ == "__main__":
    main()
