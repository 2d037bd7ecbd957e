"""The teacher server as a plan source, and the training teacher ``llm4teach.teacher.server.enabled`` selects.

- :class:`RemotePlanSource`: teacher/source.py's ``PlanSource`` answered by the
  node's inference server, for any teacher kind (it sends the query whole, with
  its prompt set's name). Non-blocking by default: a query without an answer yet
  gets ``None`` (its step goes unguided, and the answer is used from the step it
  arrives); ``blocking`` waits for every answer (exact paper replication) up to
  the client's timeouts. Its statistics include the server's.
- :func:`start_server` / :func:`remote_source`: local rank 0 starts the server
  (unless ``server.spawn`` is false; the trainer starts it before its envs, so
  the LLM loads while they are built) and every rank connects to its node's.
- :func:`build_training_teacher`: the kind's teacher over the server, or over the
  planner in process with ``server.enabled=false``.
"""

from __future__ import annotations

import functools
import os
from typing import Any, Optional, Sequence

import numpy as np
from gym import spaces
from habitat import logger
from omegaconf import OmegaConf

from habitat_llm4teach.errors import ConfigError
from habitat_llm4teach.server.client import TeacherClient
from habitat_llm4teach.server.connection import free_loopback_address, node_address
from habitat_llm4teach.server.process import ServerProcess
from habitat_llm4teach.teacher.guidance import Teacher
from habitat_llm4teach.teacher.llm import model_name, resolve_device
from habitat_llm4teach.teacher.planner import PromptSet
from habitat_llm4teach.teacher.source import PLAN_CACHE_HIT_RATE, PlanSource, local_source
from habitat_llm4teach.teacher.types import PlanDistribution, PlanQuery
from habitat_llm4teach.teachers import build_teacher

# Server statistics, logged beside the teacher's (teacher/*): the same keys on every rank and every update, since
# DD-PPO all-reduces them as one sorted vector.
REQUESTS_PER_S = "teacher/server/requests_per_s"
MEAN_BATCH_SIZE = "teacher/server/mean_batch_size"
COALESCED = "teacher/server/coalesced"
SERVER_CACHE_HIT_RATE = "teacher/server/cache_hit_rate"
LATENCY_P50_MS = "teacher/server/latency_p50_ms"
LATENCY_P95_MS = "teacher/server/latency_p95_ms"
QUEUE_DEPTH = "teacher/server/queue_depth"
RESTARTS = "teacher/server/restarts"
TIMEOUTS = "teacher/server/timeouts"
DROPPED = "teacher/server/dropped"
UP = "teacher/server/up"
ERRORS = "teacher/server/errors"  # error replies this rank received (refused, queue full, backend failures)
MALFORMED_REPLIES = "teacher/server/malformed_replies"  # replies this rank could not read
SERVER_ERRORS = "teacher/server/server_errors"  # error replies the server sent to all its clients
DROPPED_REPLIES = "teacher/server/dropped_replies"  # replies the server could not deliver (client gone)

_COUNTERS = ("requests", "cache_hits", "computed", "coalesced", "batches", "errors", "dropped_replies", "uptime_s")


def _delta_stats(now: dict[str, float], before: Optional[dict[str, float]]) -> dict[str, float]:
    """Server counters since ``before``; a restarted server (uptime went back) counts from zero."""
    if before is None or now["uptime_s"] < before["uptime_s"]:
        before = dict.fromkeys(_COUNTERS, 0.0)
    return {k: now[k] - before[k] for k in _COUNTERS}


def _nan_div(a: float, b: float) -> float:
    return a / b if b else float("nan")


class RemotePlanSource(PlanSource):
    """Plans from a teacher server through a :class:`TeacherClient`; ``None`` for queries not answered yet."""

    def __init__(self, client: TeacherClient, blocking: bool = False, cache_path: Optional[str] = None) -> None:
        self.client = client
        self.blocking = blocking
        self._cache_path = cache_path
        self._lookups = self._table_hits = 0
        self._cache_replies_seen = 0
        self._errors_seen = self._malformed_seen = 0
        self._stats_before: Optional[dict[str, float]] = None

    def plans(self, queries: Sequence[PlanQuery]) -> list[Optional[PlanDistribution]]:
        client = self.client
        client.pump()
        missing = [q for q in queries if q.description not in client.answers]
        missing_descriptions = {q.description for q in missing}
        for query in missing:
            client.request(query)
        if self.blocking and missing:
            limit = client.config.timeout_s if client.ready else client.config.ready_timeout_s
            client.wait_for(missing, limit)
        answers = [client.answers.get(q.description) for q in queries]
        self._lookups += len(queries)
        self._table_hits += sum(q.description not in missing_descriptions for q in queries)
        return answers

    def llm_at_work(self) -> bool:
        """This rank has queries in flight: the server is scoring them (or has them queued)."""
        return self.client.in_flight > 0

    def pop_stats(self) -> dict[str, float]:
        """This rank's lookups, latency and failures since the last call, and the server's counters."""
        client = self.client
        client.pump()
        cache_replies = client.cache_replies - self._cache_replies_seen
        errors = sum(client.errors.values())
        stats = {
            # The same meaning as in process: the share of lookups answered from a plan cache (here the answer
            # table, or the server's cache for a description this rank sent); a lookup that waits for the LLM is not.
            PLAN_CACHE_HIT_RATE: _nan_div(min(self._table_hits + cache_replies, self._lookups), self._lookups),
            LATENCY_P50_MS: float(np.percentile(client.latencies_ms, 50)) if client.latencies_ms else float("nan"),
            LATENCY_P95_MS: float(np.percentile(client.latencies_ms, 95)) if client.latencies_ms else float("nan"),
            RESTARTS: float(client.restarts),
            TIMEOUTS: float(client.timeouts),
            DROPPED: float(client.dropped),
            UP: float(client.ready),
            ERRORS: float(errors - self._errors_seen),
            MALFORMED_REPLIES: float(client.connection.malformed_replies - self._malformed_seen),
        }
        server = client.server_stats
        delta = _delta_stats(server, self._stats_before) if server is not None else dict.fromkeys(_COUNTERS, 0.0)
        stats.update({
            REQUESTS_PER_S: _nan_div(delta["requests"], delta["uptime_s"]),
            MEAN_BATCH_SIZE: _nan_div(delta["computed"], delta["batches"]),
            COALESCED: delta["coalesced"],
            SERVER_CACHE_HIT_RATE: _nan_div(delta["cache_hits"], delta["requests"]),
            QUEUE_DEPTH: float(server["queue_depth"]) if server is not None else float("nan"),
            SERVER_ERRORS: delta["errors"],
            DROPPED_REPLIES: delta["dropped_replies"],
        })
        self._stats_before = server
        self._lookups = self._table_hits = 0
        self._cache_replies_seen = client.cache_replies
        self._errors_seen, self._malformed_seen = errors, client.connection.malformed_replies
        client.latencies_ms = []
        return stats

    @property
    def cache_path(self) -> Optional[str]:
        return self._cache_path

    def save(self) -> None:
        """Ask the server to persist its plan cache (it also saves periodically and when it stops)."""
        self.client.save()

    def close(self) -> None:
        self.client.close()


def _check_server_config(server_config: Any) -> None:
    if server_config.timeout_s <= 0 or server_config.heartbeat_s <= 0 or server_config.max_restarts < 0:
        raise ConfigError("llm4teach.teacher.server needs timeout_s > 0, heartbeat_s > 0 and max_restarts >= 0")
    if server_config.cpu_threads < 0:
        raise ConfigError(f"llm4teach.teacher.server.cpu_threads must be >= 0 (0: half the cores), got {server_config.cpu_threads}")
    if not 0 <= server_config.cpu_nice <= 19:
        raise ConfigError(f"llm4teach.teacher.server.cpu_nice must be a nice value from 0 to 19, got {server_config.cpu_nice}")
    if not server_config.spawn and not server_config.address:
        raise ConfigError("llm4teach.teacher.server.spawn=false attaches to a running server: set server.address")


def server_cpu_threads(server_config: Any) -> int:
    """``server.cpu_threads``, where 0 means half the cores this process may use (at least one); a negative count
    is refused by the trainer's config check and by ``CausalLM``."""
    return server_config.cpu_threads or max(1, len(os.sched_getaffinity(0)) // 2)


def server_shares_cpu(teacher_config: Any) -> bool:
    """Whether this node's teacher server runs its LLM on the CPU this rank trains on: a server this node starts
    (``server.spawn``), on the device it resolves to (``server.device``, else ``llm4teach.teacher.device``)."""
    server_config = teacher_config.server
    if not server_config.enabled or not server_config.spawn:
        return False  # in process (the rank's own blocking planner), or a server started elsewhere
    return resolve_device(server_config.device or teacher_config.device) == "cpu"


def _owns_server(server_config: Any) -> bool:
    """Local rank 0 starts the node's server, unless ``server.spawn`` is false (known before torch.distributed starts)."""
    local_rank = int(os.environ.get("LOCAL_RANK", os.environ.get("SLURM_LOCALID", 0)))
    return bool(server_config.spawn) and local_rank == 0


def start_server(teacher_config: Any) -> Optional[ServerProcess]:
    """The node's teacher server process, started now if this rank owns it (else None).

    The trainer calls this before it builds its envs, so the LLM loads while they do (on a 2-core machine
    loading the 1.5B model beside the first rollout slowed it several-fold); :func:`remote_source` then
    connects to it.
    """
    server_config = teacher_config.server
    _check_server_config(server_config)
    if not server_config.enabled or not _owns_server(server_config):
        return None
    config = OmegaConf.to_container(teacher_config, resolve=True) if OmegaConf.is_config(teacher_config) else teacher_config
    process = ServerProcess(server_config.address or free_loopback_address(), config)
    process.start()
    return process


def remote_source(teacher_config: Any, prompts: PromptSet, started: Optional[ServerProcess] = None) -> RemotePlanSource:
    """The node's teacher server as a plan source: local rank 0 starts it (unless ``server.spawn`` is false or
    ``started``, from :func:`start_server`, is the one it started already)."""
    server_config = teacher_config.server
    _check_server_config(server_config)
    owner = _owns_server(server_config)
    if started is not None and not owner:
        raise ValueError("a rank that does not own the teacher server was given one it started")
    own_address = started.address if started is not None else server_config.address or (free_loopback_address() if owner else "")
    address = node_address(own_address, owner)
    process = started
    if owner and process is None:
        config = OmegaConf.to_container(teacher_config, resolve=True) if OmegaConf.is_config(teacher_config) else teacher_config
        process = ServerProcess(address, config)
    client = TeacherClient(address, model_name(teacher_config.model), prompts.name, server_config, process)
    logger.info(
        f"llm4teach: {prompts.name} teacher server at {address} ({'started here' if owner else 'attached'}, "
        f"{'blocking' if server_config.blocking else 'non-blocking'})"
    )
    cache_path = None if teacher_config.cache_path is None else os.path.abspath(teacher_config.cache_path)
    return RemotePlanSource(client, server_config.blocking, cache_path)


def build_training_teacher(
    teacher_config: Any, observation_space: spaces.Dict, action_space: spaces.Space,
    started: Optional[ServerProcess] = None,
) -> Teacher:
    """The teacher of ``llm4teach.teacher.env`` over the node's server (``started``: the one :func:`start_server`
    started for this rank), or over the planner in this process with ``llm4teach.teacher.server.enabled=false``
    (every rank then loads its own LLM and blocks on it)."""
    if not teacher_config.server.enabled:
        return build_teacher(teacher_config, observation_space, action_space, local_source)
    return build_teacher(
        teacher_config, observation_space, action_space, functools.partial(remote_source, started=started)
    )
