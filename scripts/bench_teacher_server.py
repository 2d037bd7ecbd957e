"""Teacher server benchmark: a recorded training trace replayed against one LLM call per request and the server.

The trace (``tests/data/teacher_server_trace.jsonl.gz``, recorded with
``llm4teach.teacher.trace_path`` from a real SimpleDoorKey llm4teach run with the
default model) lists the description the teacher was asked for each env at
each step. Measured in one run, with the same model and settings:

(a) naive: one LLM call per request, in trace order, in this process, no cache;
    on the first ``--naive-requests`` requests (one call costs seconds on a CPU,
    so the whole trace would take hours); req/s is requests answered / wall time
    on that prefix. ``--naive-requests 0`` runs the whole trace.
(b) server: a real teacher server process (dynamic batching, coalescing, plan
    cache starting empty) serving the whole trace from ``--clients`` concurrent
    clients, each with its own socket, sending its share of the requests
    (request i goes to client i mod clients) one after the other and waiting for
    each answer; req/s is requests / wall time from the first send to the last
    answer, latency is per request as the clients see it.

Besides the required figures the JSON has what cross-prompt batching alone gives
(the trace's distinct descriptions scored one LLM call each vs in one batch,
in this process, and the largest probability difference between the two), and
the agreement of the server's top plan with the naive one on the naive prefix.
The last line is one JSON object.

    flock -x /tmp/cpu.lock .venv/bin/python scripts/bench_teacher_server.py [--naive-requests 48] [--clients 32]
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
TRACE = REPO / "tests" / "data" / "teacher_server_trace.jsonl.gz"


def load_trace(path: Path) -> list[str]:
    """The requests of a trace: every env's description at every step, in order."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt") as f:
        return [d for line in f if line.strip() for d in json.loads(line)["descriptions"]]


def run_naive(planner, requests: list[str]) -> tuple[float, dict[str, str]]:
    """One LLM call per request, in order, no cache: (wall seconds, top plan per description)."""
    from habitat_llm4teach.teacher.minigrid.scene import scene_from_description

    top: dict[str, str] = {}
    start = time.perf_counter()
    for description in requests:
        scene = scene_from_description(description)
        top[description] = planner._query(planner.prompt(description, scene), scene).plans[0].text
    return time.perf_counter() - start, top


def run_batching_only(planner, descriptions: list[str]) -> dict[str, float]:
    """The trace's distinct descriptions one LLM call each vs one cross-prompt batch (no server, no cache)."""
    from habitat_llm4teach.teacher.minigrid.scene import scene_from_description

    scenes = [scene_from_description(d) for d in descriptions]
    prompts = [planner.prompt(d, s) for d, s in zip(descriptions, scenes)]
    start = time.perf_counter()
    single = [planner._query(p, s) for p, s in zip(prompts, scenes)]
    single_s = time.perf_counter() - start
    start = time.perf_counter()
    batched = planner._query_batch(prompts, scenes)
    batched_s = time.perf_counter() - start
    prob = lambda answer: {p.text: p.prob for p in answer.plans}  # noqa: E731
    diff = max(abs(prob(a)[k] - prob(b)[k]) for a, b in zip(single, batched) for k in prob(a))
    return {
        "llm_single_desc_per_s": round(len(descriptions) / single_s, 3),
        "llm_batched_desc_per_s": round(len(descriptions) / batched_s, 3),
        "batched_vs_single_max_prob_diff": round(float(diff), 4),
    }


def run_server(config, requests: list[str], clients: int) -> dict:
    """Replay ``requests`` from ``clients`` threads against a fresh server process."""
    from omegaconf import OmegaConf

    from habitat_llm4teach.server import protocol
    from habitat_llm4teach.server.client import ServerConnection, ServerProcess, TeacherClient, free_loopback_address
    from habitat_llm4teach.teacher.llm import model_name

    address = free_loopback_address()
    process = ServerProcess(address, OmegaConf.to_container(config))
    model = model_name(config.model)
    monitor = TeacherClient(address, model, config.server, process)
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
        for description in requests[k::clients]:
            sent = time.perf_counter()
            request_id = connection.send(protocol.PLAN, model=model, description=description)
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
            answers[description] = protocol.plans_from_wire(reply.fields).plans[0].text
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


def main() -> None:
    from omegaconf import OmegaConf

    from habitat_llm4teach.config.structured import TeacherConfig

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trace", type=Path, default=TRACE)
    parser.add_argument("--model", default=TeacherConfig.model)
    parser.add_argument("--dtype", default="bfloat16")
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--naive-requests", type=int, default=48, help="trace prefix for the naive pass; 0 = all")
    parser.add_argument("--max-batch", type=int, default=32)
    parser.add_argument("--max-wait-ms", type=float, default=20.0)
    args = parser.parse_args()

    requests = load_trace(args.trace)
    naive_requests = requests[: args.naive_requests] if args.naive_requests > 0 else requests
    with tempfile.TemporaryDirectory() as tmp:
        config = OmegaConf.structured(TeacherConfig(model=args.model, dtype=args.dtype, cache_path=f"{tmp}/plans.json"))
        config.server.max_batch, config.server.max_wait_ms = args.max_batch, args.max_wait_ms
        server = run_server(config, requests, args.clients)
        from habitat_llm4teach.teacher.minigrid.prompts import MINIGRID_PROMPTS
        from habitat_llm4teach.teacher.minigrid.scene import scene_from_description
        from habitat_llm4teach.teacher.planner import build_planner

        planner = build_planner(OmegaConf.structured(TeacherConfig(model=args.model, dtype=args.dtype)), MINIGRID_PROMPTS)
        warm = scene_from_description(requests[0])
        planner._query(planner.prompt(requests[0], warm), warm)  # builds the static-prefix KV cache, untimed
        naive_wall_s, naive_top = run_naive(planner, naive_requests)
        batching_only = run_batching_only(planner, sorted(set(requests)))

    stats = server["stats"]
    naive_req_per_s = len(naive_requests) / naive_wall_s
    server_req_per_s = len(requests) / server["wall_s"]
    agreement = np.mean([server["answers"][d] == naive_top[d] for d in naive_top])
    result = {
        "trace_requests": len(requests),
        "unique_descriptions": len(set(requests)),
        "clients": args.clients,
        "naive_requests": len(naive_requests),
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
        "naive_s_per_request": round(naive_wall_s / len(naive_requests), 3),
        "server_wall_s": round(server["wall_s"], 1),
        "server_load_s": round(server["load_s"], 1),
        "top_plan_agreement_on_naive_prefix": round(float(agreement), 3),
        "model": Path(args.model).name,
        "max_batch": args.max_batch,
        "max_wait_ms": args.max_wait_ms,
    }
    width = max(len(k) for k in result)
    for key, value in result.items():
        print(f"{key:<{width}}  {value}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
