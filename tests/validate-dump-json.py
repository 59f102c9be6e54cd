#!/usr/bin/python3
"""Validates task dumps in JSON against the installed schema (data/dump-schema-2.json),
and checks what a JSON Schema cannot say: every index points into its table, a task
has one wait per backtrace of its trace, deadlocks and holders name tasks of the dump.
A file may also hold the dump endpoint's answer (asyncrt-dump --json): then every
runtime's "dump" is checked.

usage: validate-dump-json.py SCHEMA FILE...
Exit status: 0 every file is valid, 1 some is not (each problem printed), 2 usage,
77 python3-jsonschema is not installed (the automake "skip" status).
"""
import json
import sys

try:
    import jsonschema
except ImportError:
    print("validate-dump-json: python3-jsonschema is not installed", file=sys.stderr)
    sys.exit(77)


def cross_check(d):
    problems = []
    n_functions, n_frames = len(d["functions"]), len(d["frames"])
    n_traces, n_spawns = len(d["traces"]), len(d["spawn_sites"])
    for i, f in enumerate(d["frames"]):
        for s in f["symbols"]:
            if s["function"] >= n_functions:
                problems.append(f"frames[{i}]: function {s['function']} out of range")

    def check_node(where, node):
        if node["function"] is not None and node["function"] >= n_functions:
            problems.append(f"{where}: function {node['function']} out of range")
        if node["function"] is None and node.get("truncated") is not True:
            problems.append(f"{where}: a node without a function must be the cut marker")
        for k, c in enumerate(node["children"]):
            check_node(f"{where}.children[{k}]", c)

    for i, t in enumerate(d["traces"]):
        for b in t["backtraces"]:
            for fr in b["frames"]:
                if fr >= n_frames:
                    problems.append(f"traces[{i}]: frame {fr} out of range")
        for k, node in enumerate(t["tree"]):
            check_node(f"traces[{i}].tree[{k}]", node)
    ids = [t["id"] for t in d["tasks"]]
    if ids != sorted(set(ids)):
        problems.append("task ids are not unique and ascending")
    known = set(ids)
    for t in d["tasks"]:
        where = f"task {t['id']}"
        if t["trace"] is None:
            if t["waits"]:
                problems.append(f"{where}: waits without a trace")
            if t["no_trace"] is None:
                problems.append(f"{where}: no trace and no reason")
        elif t["trace"] >= n_traces:
            problems.append(f"{where}: trace {t['trace']} out of range")
        elif t["trace_kind"] == "native":
            if t["waits"]:
                problems.append(f"{where}: waits with a native stack")
            if t["state"] != "running" or t["native_stack"] != "ok":
                problems.append(f"{where}: a native stack, but {t['state']}, {t['native_stack']}")
        elif t["trace_kind"] != "async":
            problems.append(f"{where}: a trace of kind {t['trace_kind']}")
        elif len(t["waits"]) != len(d["traces"][t["trace"]]["backtraces"]):
            problems.append(f"{where}: {len(t['waits'])} waits for "
                            f"{len(d['traces'][t['trace']]['backtraces'])} backtraces")
        if t["spawn"] is not None and t["spawn"] >= n_spawns:
            problems.append(f"{where}: spawn site {t['spawn']} out of range")
        if t["deadlock"] is not None:
            if t["deadlock"] >= len(d["deadlocks"]) or \
               t["id"] not in d["deadlocks"][t["deadlock"]]["tasks"]:
                problems.append(f"{where}: deadlock {t['deadlock']} does not list it")
    for k, w in enumerate(d["missing_workers"]):
        if w["trace"] is not None and w["trace"] >= n_traces:
            problems.append(f"missing_workers[{k}]: trace out of range")
    for k, j in enumerate(d["blocking_jobs"]):
        if j["trace"] is not None and j["trace"] >= n_traces:
            problems.append(f"blocking_jobs[{k}]: trace out of range")
    for k, dl in enumerate(d["deadlocks"]):
        if dl["tasks"] != sorted(dl["tasks"]):
            problems.append(f"deadlocks[{k}]: tasks not ascending")
        for tid in dl["tasks"]:
            if tid not in known:
                problems.append(f"deadlocks[{k}]: task {tid} is not in the dump")
    for k, h in enumerate(d["holders"]):
        if h["in_dump"] != (h["task_id"] in known):
            problems.append(f"holders[{k}]: in_dump is wrong")
        for tid in h["waiters"]:
            if tid not in known:
                problems.append(f"holders[{k}]: waiter {tid} is not in the dump")
        if h["blocks"] < len(h["waiters"]) - (1 if h["task_id"] in h["waiters"] else 0):
            problems.append(f"holders[{k}]: blocks fewer tasks than wait on it")
    grouped = []
    for k, g in enumerate(d.get("groups", [])):
        if g["count"] != len(g["tasks"]):
            problems.append(f"groups[{k}]: count is not the number of tasks")
        if g["trace"] is not None and g["trace"] >= n_traces:
            problems.append(f"groups[{k}]: trace out of range")
        grouped.extend(g["tasks"])
    if "groups" in d and sorted(grouped) != ids:
        problems.append("groups do not list every task exactly once")
    return problems


def main():
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    with open(sys.argv[1], encoding="utf-8") as f:
        schema = json.load(f)
    validator = jsonschema.Draft202012Validator(schema)
    bad = 0
    for path in sys.argv[2:]:
        try:
            with open(path, encoding="utf-8") as f:
                d = json.load(f)
        except (OSError, ValueError) as e:
            print(f"{path}: not JSON: {e}")
            bad += 1
            continue
        if isinstance(d, dict) and "runtimes" in d:
            dumps = [(f"runtimes/{i}/dump/", r["dump"]) for i, r in enumerate(d["runtimes"])
                     if r.get("dump") is not None]
        else:
            dumps = [("", d)]
        problems = []
        for prefix, dump in dumps:
            errors = [f"{prefix}{'/'.join(map(str, e.absolute_path))}: {e.message}"
                      for e in validator.iter_errors(dump)]
            problems += errors or [prefix + p for p in cross_check(dump)]
        for p in problems[:20]:
            print(f"{path}: {p}")
        bad += bool(problems)
    print(f"validate-dump-json: {len(sys.argv) - 2 - bad} valid, {bad} invalid")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
