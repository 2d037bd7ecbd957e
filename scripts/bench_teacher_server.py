"""Teacher server benchmark: recorded training traces replayed against one LLM call per request and the server.

Two traces, recorded with ``llm4teach.teacher.trace_path`` from real llm4teach runs
with the default model, list the query the teacher asked for each env at each
step: ``tests/data/teacher_server_trace.jsonl.gz`` (SimpleDoorKey) and
``tests/data/teacher_server_trace_rearrange.jsonl.gz`` (Habitat pick and place on
the real simulator). For each, measured in one run, with the same model and settings:

(a) naive: one LLM call per request, in trace order, in this process, no cache;
    on the first ``--naive-requests`` requests (one call costs seconds on a CPU,
    so the whole trace would take hours); req/s is requests answered / wall time
    on that prefix. ``--naive-requests 0`` runs the whole trace.
(b) server: a real teacher server process (dynamic batching, coalescing, plan
    cache starting empty; its LLM on as many CPU threads as the naive pass,
    ``--server-cpu-threads``) serving the whole trace from ``--clients`` concurrent
    clients, each with its own socket, sending its share of the requests
    (request i goes to client i mod clients) one after the other and waiting for
    each answer; req/s is requests / wall time from the first send to the last
    answer, latency is per request as the clients see it.

Besides the required figures the JSON has what cross-prompt batching alone gives
(up to ``--batching-max`` of the trace's distinct descriptions scored one LLM call
each vs in one batch, in this process, and the largest probability difference
between the two), and the agreement of the server's top plan with the naive one
on the naive prefix. The last line is one JSON object: the MiniGrid figures at its
top level and the pick/place ones under ``"rearrange"``.

    flock -x /tmp/cpu.lock .venv/bin/python scripts/bench_teacher_server.py [--naive-requests 48] [--clients 32]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
TRACE = REPO / "tests" / "data" / "teacher_server_trace.jsonl.gz"
REARRANGE_TRACE = REPO / "tests" / "data" / "teacher_server_trace_rearrange.jsonl.gz"


def load_trace(path: Path) -> tuple[str, list]:
    """The prompt set and the requests of a trace: every env's query at every step, in order.

    Lines recorded before queries were traced hold MiniGrid descriptions alone; their queries are rebuilt from
    the text (teacher/minigrid/scene.py), as the teacher would have built them.
    """
    from habitat_llm4teach.teacher.minigrid.prompts import query_from_description
    from habitat_llm4teach.teacher.types import PlanQuery, SkillCall

    opener = gzip.open if path.suffix == ".gz" else open
    prompts, queries = "minigrid", []
    with opener(path, "rt") as f:
        for line in f:
            if not line.strip():
                continue
            step = json.loads(line)
            prompts = step.get("prompts", "minigrid")
            if "queries" not in step:
                queries += [query_from_description(d) for d in step["descriptions"]]
                continue
            for description, query in zip(step["descriptions"], step["queries"]):
                candidates = [SkillCall(skill, target) for skill, target in query["candidates"]]
                queries.append(PlanQuery.make(description, candidates, query["targets"]))
    return prompts, queries


def run_naive(planner, queries: list) -> tuple[float, dict[str, str]]:
    """One LLM call per request, in order, no cache: (wall seconds, top plan per description)."""
    top: dict[str, str] = {}
    start = time.perf_counter()
    for query in queries:
        top[query.description] = planner._query(planner.prompt(query), query).plans[0].text
    return time.perf_counter() - start, top


def run_batching_only(planner, queries: list) -> dict[str, float]:
    """The trace's distinct queries one LLM call each vs one cross-prompt batch (no server, no cache)."""
    prompts = [planner.prompt(q) for q in queries]
    start = time.perf_counter()
    single = [planner._query(p, q) for p, q in zip(prompts, queries)]
    single_s = time.perf_counter() - start
    start = time.perf_counter()
    batched = planner._query_batch(prompts, queries)
    batched_s = time.perf_counter() - start
    prob = lambda answer: {p.text: p.prob for p in answer.plans}  # noqa: E731
    diff = max(abs(prob(a)[k] - prob(b)[k]) for a, b in zip(single, batched) for k in prob(a))
    return {
        "llm_single_desc_per_s": round(len(queries) / single_s, 3),
        "llm_batched_desc_per_s": round(len(queries) / batched_s, 3),
        "batched_vs_single_max_prob_diff": round(float(diff), 4),
    }


def run_server(config, prompts: str, requests: list, clients: int) -> dict:
    """Replay ``requests`` (queries of prompt set ``prompts``) from ``clients`` threads against a fresh server."""
    from omegaconf import OmegaConf

    from habitat_llm4teach.server import protocol
    from habitat_llm4teach.server.client import TeacherClient
    from habitat_llm4teach.server.connection import ServerConnection, free_loopback_address
    from habitat_llm4teach.server.process import ServerProcess
    from habitat_llm4teach.teacher.llm import model_name

    address = free_loopback_address()
    process = ServerProcess(address, OmegaConf.to_container(config))
    model = model_name(config.model)
    monitor = TeacherClient(address, model, prompts, config.server, process)
    load_start = time.perf_counter()
    while not monitor.ready:
        if monitor.gave_up:
            raise RuntimeError("the teacher server did not start")
        monitor.pump(0.1)
    load_s = time.perf_counter() - load_start

    latencies_ms: list[list[float]] = [[] for _ in range(clients)]
    answers: dict[str, str] = {}
    errors: list[str] = []
    barrier = threading.Barrier(clients + 1)

    def replay(k: int) -> None:
        connection = ServerConnection(address)
        barrier.wait()
        for query in requests[k::clients]:
            sent = time.perf_counter()
            request_id = connection.send(protocol.PLAN, model=model, prompts=prompts, **protocol.query_to_wire(query))
            reply = None
            while reply is None:
                got = connection.receive(timeout_s=600)
                if not got:
                    errors.append(f"client {k}: no answer in 600 s")
                    return
                reply = next((m for m in got if m.id == request_id), None)
            latencies_ms[k].append((time.perf_counter() - sent) * 1000)
            if reply.type != protocol.RESULT:
                errors.append(f"client {k}: {reply.fields}")
                return
            answers[query.description] = protocol.plans_from_wire(reply.fields).plans[0].text
        connection.close()

    threads = [threading.Thread(target=replay, args=(k,)) for k in range(clients)]
    for thread in threads:
        thread.start()
    barrier.wait()
    start = time.perf_counter()
    for thread in threads:
        thread.join()
    wall_s = time.perf_counter() - start
    if errors:
        raise RuntimeError(f"{len(errors)} clients failed, first: {errors[0]}")
    monitor.server_stats = None
    while monitor.server_stats is None or monitor.server_stats["requests"] < len(requests):
        monitor.pump(0.2)  # the heartbeat brings the server's counters
    stats = monitor.server_stats
    monitor.close()
    flat = np.concatenate([np.asarray(l) for l in latencies_ms])
    return {
        "wall_s": wall_s, "load_s": load_s, "stats": stats, "answers": answers,
        "p50_ms": float(np.percentile(flat, 50)), "p95_ms": float(np.percentile(flat, 95)),
    }


def bench_trace(args, trace: Path, naive_requests: int, tmp: str, max_requests: int = 0) -> dict:
    """(a) naive and (b) server on one trace (its first ``max_requests``; 0: all), same model and settings; the
    figures of one env kind."""
    from omegaconf import OmegaConf

    from habitat_llm4teach.config.structured import TeacherConfig
    from habitat_llm4teach.teacher.planner import build_planner
    from habitat_llm4teach.teachers import PROMPT_SETS

    prompts, requests = load_trace(trace)
    whole_trace = len(requests), len({q.description for q in requests})
    if max_requests > 0:
        requests = requests[:max_requests]
    naive = requests[:naive_requests] if naive_requests > 0 else requests
    config = OmegaConf.structured(TeacherConfig(model=args.model, dtype=args.dtype, cache_path=f"{tmp}/{prompts}.json"))
    config.server.max_batch, config.server.max_wait_ms = args.max_batch, args.max_wait_ms
    config.server.cpu_threads = args.server_cpu_threads
    print(f"{trace.name}: {len(requests)} {prompts} requests, {len({q.description for q in requests})} distinct; "
          "server replay ...", flush=True)
    server = run_server(config, prompts, requests, args.clients)
    planner = build_planner(OmegaConf.structured(TeacherConfig(model=args.model, dtype=args.dtype)), PROMPT_SETS[prompts])
    planner._query(planner.prompt(requests[0]), requests[0])  # builds the static-prefix KV cache, untimed
    print(f"{trace.name}: naive pass on {len(naive)} requests ...", flush=True)
    naive_wall_s, naive_top = run_naive(planner, naive)
    distinct = list({q.description: q for q in requests}.values())
    batching_only = run_batching_only(planner, distinct[: args.batching_max]) if args.batching_max else {}

    stats = server["stats"]
    naive_req_per_s = len(naive) / naive_wall_s
    server_req_per_s = len(requests) / server["wall_s"]
    agreement = np.mean([server["answers"][d] == naive_top[d] for d in naive_top])
    return {
        "trace_requests": len(requests),
        "unique_descriptions": len(distinct),
        "whole_trace_requests": whole_trace[0],
        "whole_trace_unique_descriptions": whole_trace[1],
        "clients": args.clients,
        "naive_requests": len(naive),
        "naive_req_per_s": round(naive_req_per_s, 3),
        "server_req_per_s": round(server_req_per_s, 3),
        "speedup": round(server_req_per_s / naive_req_per_s, 2),
        "cache_hit_rate": round(stats["cache_hits"] / stats["requests"], 4),
        "coalesced": int(stats["coalesced"]),
        "computed": int(stats["computed"]),
        "batches": int(stats["batches"]),
        "mean_batch_size": round(stats["computed"] / max(stats["batches"], 1), 2),
        "p50_latency_ms": round(server["p50_ms"], 1),
        "p95_latency_ms": round(server["p95_ms"], 1),
        **batching_only,
        "naive_s_per_request": round(naive_wall_s / len(naive), 3),
        "server_wall_s": round(server["wall_s"], 1),
        "server_load_s": round(server["load_s"], 1),
        "top_plan_agreement_on_naive_prefix": round(float(agreement), 3),
    }


def main() -> None:
    from habitat_llm4teach.config.structured import TeacherConfig

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trace", type=Path, default=TRACE, help="the MiniGrid trace")
    parser.add_argument("--rearrange-trace", type=Path, default=REARRANGE_TRACE, help="the pick/place trace; 'none': skip")
    parser.add_argument("--model", default=TeacherConfig.model)
    parser.add_argument("--dtype", default=TeacherConfig.dtype, help="llm4teach.teacher.dtype (auto: what the teacher picks here)")
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--naive-requests", type=int, default=48, help="MiniGrid trace prefix for the naive pass; 0 = all")
    parser.add_argument("--rearrange-naive-requests", type=int, default=32, help="the same for the pick/place trace")
    parser.add_argument("--rearrange-requests", type=int, default=0,
                        help="pick/place trace prefix the server replays (0 = all: 1536 requests, 100 distinct)")
    parser.add_argument("--batching-max", type=int, default=32, help="distinct queries in the batching-only figure; 0: skip")
    parser.add_argument("--max-batch", type=int, default=32)
    parser.add_argument("--max-wait-ms", type=float, default=20.0)
    parser.add_argument("--server-cpu-threads", type=int, default=len(os.sched_getaffinity(0)),
                        help="the server's torch threads on a CPU (default: every core, as the naive pass has; "
                        "training's default, half the cores, leaves the others to the trainer and the renderer)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        result = bench_trace(args, args.trace, args.naive_requests, tmp)
        if str(args.rearrange_trace) != "none":
            rearrange = bench_trace(
                args, args.rearrange_trace, args.rearrange_naive_requests, tmp, args.rearrange_requests
            )
    result.update({"model": Path(args.model).name, "max_batch": args.max_batch, "max_wait_ms": args.max_wait_ms,
                   "server_cpu_threads": args.server_cpu_threads})
    if str(args.rearrange_trace) != "none":
        result["rearrange"] = rearrange
    width = max(len(k) for k in result)
    for key, value in result.items():
        print(f"{key:<{width}}  {value}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
