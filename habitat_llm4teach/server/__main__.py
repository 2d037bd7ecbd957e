"""Process entry point of the teacher server: ``python -m habitat_llm4teach.server --address tcp://127.0.0.1:PORT
--teacher-config '<llm4teach.teacher as JSON>' [--parent-pid PID]``.

Loads the LLM and plan cache with one planner per prompt set (teachers.py), binds, then serves; the first
heartbeat answered is the readiness signal. SIGTERM/SIGINT while loading end
the process at once (nothing to save yet); afterwards they stop it cleanly.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from typing import Any, Optional

from omegaconf import OmegaConf


def lower_priority(nice: int) -> int:
    """Give every thread of this process at least the nice value ``nice`` (Linux sets nice values per thread; the
    threads started later inherit it from the main thread); returns the main thread's."""
    for tid in os.listdir("/proc/self/task") if os.path.isdir("/proc/self/task") else [0]:
        try:
            current = os.getpriority(os.PRIO_PROCESS, int(tid))
            os.setpriority(os.PRIO_PROCESS, int(tid), max(current, nice))
        except ProcessLookupError:  # the thread ended meanwhile
            pass
    return os.getpriority(os.PRIO_PROCESS, 0)


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m habitat_llm4teach.server", description=__doc__)
    parser.add_argument("--address", required=True, help="ZeroMQ endpoint to bind, e.g. tcp://127.0.0.1:5555")
    parser.add_argument("--teacher-config", required=True, help="llm4teach.teacher as a JSON object")
    parser.add_argument("--parent-pid", type=int, default=None, help="exit once this process is no longer the parent")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s teacher-server %(levelname)s %(message)s", stream=sys.stderr)

    from habitat_llm4teach.server.remote import server_cpu_threads
    from habitat_llm4teach.server.server import TeacherServer, install_signal_handlers
    from habitat_llm4teach.teacher.cache import PlanCache
    from habitat_llm4teach.teacher.llm import CausalLM, resolve_device
    from habitat_llm4teach.teacher.planner import build_planner
    from habitat_llm4teach.teachers import PROMPT_SETS, teacher_kind

    config = OmegaConf.create(json.loads(args.teacher_config))
    if config.server.device:
        config.device = config.server.device
    # One LLM and one plan cache, one planner per prompt set (cache keys hold the prompt version).
    llm = CausalLM(config.model, dtype=config.dtype, device=config.device, cpu_threads=server_cpu_threads(config.server))
    cache = PlanCache(config.cache_path, read_only=config.cache_read_only)
    planners = {name: build_planner(config, prompts, llm, cache) for name, prompts in PROMPT_SETS.items()}
    # The static prefix (system prompt and examples) of the trainer's prompt set runs before the server is ready,
    # while the trainer builds its envs, instead of inside the first answer (733 tokens: 11-14 s of one core for the
    # 1.5B model beside the env start-up on 2 cores).
    start = time.perf_counter()
    tokens = llm.warm_up(planners[teacher_kind(config).prompts.name].static_prefix)
    logging.getLogger(__name__).info(f"teacher server: static prefix of {tokens} tokens run in {time.perf_counter() - start:.1f} s")
    if resolve_device(config.device) == "cpu" and config.server.cpu_nice:
        # After the static prefix, which runs while the trainer builds its envs (at nice 19 beside them it was not
        # done before the tenth update of a pick run).
        nice = lower_priority(config.server.cpu_nice)
        logging.getLogger(__name__).info(f"teacher server: LLM on the CPU at nice {nice} (llm4teach.teacher.server.cpu_nice)")
    server = TeacherServer(
        planners, args.address, config.server.max_batch, config.server.max_wait_ms, config.server.max_queue,
        args.parent_pid,
    )
    install_signal_handlers(server)
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
