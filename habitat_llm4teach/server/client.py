"""The trainer's side of the teacher server: transport, the server process, fault handling, ``ServerTeacher``.

- :class:`ServerConnection`: one ZeroMQ DEALER socket with request ids.
- :class:`ServerProcess`: starts ``python -m habitat_llm4teach.server`` in its own
  session (a Ctrl-C meant for the trainer does not kill it mid-save) and stops it;
  the server also exits by itself when this process dies.
- :class:`TeacherClient`: readiness, heartbeat, request timeouts, restarts with
  back-off, giving up (training goes on as plain PPO), and the table of answers,
  so each description is asked once.
- :class:`ServerTeacher`: :class:`InprocTeacher`'s interface (``guide``,
  ``pop_stats``, ``save_cache``, ``cache_path``, ``close``) on top of it;
  non-blocking by default.
- :func:`build_training_teacher`: the teacher ``llm4teach.teacher.server.enabled`` selects.
"""

from __future__ import annotations

import atexit
import json
import os
import signal
import socket
import subprocess
import sys
import time
from typing import Any, Optional, Union

import numpy as np
import torch
import zmq
from gym import spaces
from habitat import logger
from omegaconf import OmegaConf

from habitat_llm4teach.errors import ConfigError
from habitat_llm4teach.server import protocol
from habitat_llm4teach.teacher.guidance import GUIDED_FRAC, PLAN_CACHE_HIT_RATE, DescriptionTrace, TeacherGuidance
from habitat_llm4teach.teacher.llm import model_name
from habitat_llm4teach.teacher.minigrid.guidance import (
    TEACHER_ACTION_SPACE,
    InprocTeacher,
    MiniGridGuidance,
    check_teacher_env,
)
from habitat_llm4teach.teacher.minigrid.teacher import teacher_action_distribution
from habitat_llm4teach.teacher.types import PlanDistribution
from habitat_llm4teach.teachers import build_teacher

# Server statistics, logged beside the teacher's (teacher/*).
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


def free_loopback_address() -> str:
    """A tcp endpoint on 127.0.0.1 whose port was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return f"tcp://127.0.0.1:{probe.getsockname()[1]}"


class ServerConnection:
    """One DEALER socket to a server: numbered requests out, validated replies in."""

    def __init__(self, address: str) -> None:
        self.address = address
        self._context = zmq.Context.instance()
        self._socket: Optional[zmq.Socket] = None
        self._next_id = 0
        self.malformed_replies = 0
        self.reconnect()

    def reconnect(self) -> None:
        """A fresh socket: replies to earlier requests are not received any more."""
        if self._socket is not None:
            self._socket.close(linger=0)
        self._socket = self._context.socket(zmq.DEALER)
        self._socket.setsockopt(zmq.LINGER, 0)
        self._socket.connect(self.address)

    def send(self, type_: str, **fields: Any) -> int:
        self._next_id += 1
        try:
            self._socket.send(protocol.encode(type_, self._next_id, **fields), zmq.NOBLOCK)
        except zmq.Again:  # high-water mark reached (server gone for long): the request is lost, like a timeout
            pass
        return self._next_id

    def receive(self, timeout_s: float = 0.0) -> list[protocol.Message]:
        """Every reply available now, waiting up to ``timeout_s`` for the first."""
        messages = []
        if not self._socket.poll(int(timeout_s * 1000)):
            return messages
        while self._socket.poll(0):
            frame = self._socket.recv()
            try:
                messages.append(protocol.decode_reply(frame))
            except protocol.ProtocolError as error:
                self.malformed_replies += 1
                logger.warning(f"teacher client: ignoring a malformed reply: {error}")
        return messages

    def close(self) -> None:
        if self._socket is not None:
            self._socket.close(linger=0)
            self._socket = None


class ServerProcess:
    """The server process this rank owns: started, restarted and stopped here, never left behind."""

    def __init__(self, address: str, teacher_config: dict) -> None:
        self.address = address
        self.teacher_config = teacher_config
        self.process: Optional[subprocess.Popen] = None
        atexit.register(self.stop)

    def start(self) -> None:
        cmd = [
            sys.executable, "-m", "habitat_llm4teach.server", "--address", self.address,
            "--teacher-config", json.dumps(self.teacher_config), "--parent-pid", str(os.getpid()),
        ]
        # Own session: a terminal's SIGINT reaches only the trainer, which then stops the server cleanly.
        self.process = subprocess.Popen(cmd, start_new_session=True)

    @property
    def exit_code(self) -> Optional[int]:
        return None if self.process is None else self.process.poll()

    @property
    def pid(self) -> Optional[int]:
        return None if self.process is None else self.process.pid

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def stop(self, timeout_s: float = 15.0) -> None:
        """SIGTERM (the server saves its cache), then SIGKILL after ``timeout_s``."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.kill()


class TeacherClient:
    """Asks a teacher server for plan distributions without ever blocking on it, and survives it failing.

    ``pump`` (called every step) reads replies, sends heartbeats and detects a dead
    or hung server: no reply to a heartbeat within ``timeout_s`` (``ready_timeout_s``
    while it loads), or, for the owner, the process exiting. The owner then kills
    it, restarts it after a back-off (doubling per consecutive failure) and the new
    server reloads the persisted plan cache; after ``max_restarts`` consecutive
    failed starts the client gives up and answers nothing (plain PPO).
    """

    def __init__(self, address: str, model: str, config: Any, process: Optional[ServerProcess] = None) -> None:
        self.model = model
        self.config = config
        self.process = process
        self.connection = ServerConnection(address)
        self.answers: dict[str, PlanDistribution] = {}
        self._outstanding: dict[int, tuple[str, float]] = {}  # request id -> (description, sent at)
        self._in_flight: set[str] = set()
        self._late: dict[int, str] = {}  # timed-out request id -> description: a late answer is still used
        self._ready_at = 0.0
        self.ready = False
        self.ever_ready = False  # some server answered a heartbeat during this run
        self.gave_up = False
        self.restarts = self.timeouts = self.dropped = 0
        self.errors: dict[str, int] = {}
        self.latencies_ms: list[float] = []
        self.server_stats: Optional[dict[str, float]] = None
        self._failures = 0  # consecutive failed starts or deaths without a ready in between
        self._restart_at: Optional[float] = None
        now = time.monotonic()
        self._started_at = self._last_heard = now
        self._unanswered_ping_at: Optional[float] = None
        self._last_ping_at = -float("inf")
        if process is not None:
            process.start()
        self._ping(now)

    # -- requests ---------------------------------------------------------------------------------------

    def request(self, description: str) -> None:
        """Ask for ``description`` unless it is answered or asked already."""
        if self.gave_up or description in self.answers or description in self._in_flight:
            return
        request_id = self.connection.send(protocol.PLAN, model=self.model, description=description)
        self._outstanding[request_id] = (description, time.monotonic())
        self._in_flight.add(description)

    def save(self) -> None:
        if self.ready:
            self.connection.send(protocol.SAVE)

    def wait_for(self, descriptions: set[str], max_wait_s: float) -> None:
        """Blocking mode: pump until every description is answered, the client gives up, or ``max_wait_s``."""
        deadline = time.monotonic() + max_wait_s
        while not self.gave_up and time.monotonic() < deadline:
            missing = [d for d in descriptions if d not in self.answers]
            if not missing:
                return
            for description in missing:
                self.request(description)  # again after a restart dropped it
            self.pump(timeout_s=min(0.05, max(0.0, deadline - time.monotonic())))

    # -- the loop ---------------------------------------------------------------------------------------

    def pump(self, timeout_s: float = 0.0) -> None:
        """Handle replies, heartbeat, timeouts and restarts; waits up to ``timeout_s`` for a reply."""
        if self.gave_up:
            return
        for message in self.connection.receive(timeout_s):
            self._on_message(message)
        now = time.monotonic()
        if self._restart_at is not None:
            if now >= self._restart_at:
                self._restart(now)
            return
        if self.process is not None and self.process.exit_code is not None:
            self._fail(now, f"the teacher server exited with code {self.process.exit_code}")
            return
        limit = self.config.timeout_s if self.ready else self.config.ready_timeout_s
        silent_since = self._unanswered_ping_at if self.ready else self._started_at
        if silent_since is not None and now - max(silent_since, self._last_heard) > limit:
            self.timeouts += 1
            state = "did not answer a heartbeat" if self.ready else "did not become ready"
            self._fail(now, f"the teacher server at {self.connection.address} {state} within {limit:g} s")
            return
        for request_id, (description, sent_at) in list(self._outstanding.items()):
            if self.ready and now - max(sent_at, self._ready_at) > self.config.timeout_s:
                self.timeouts += 1
                self.dropped += 1
                self._forget(request_id)
                self._late[request_id] = description
        if now - self._last_ping_at >= self.config.heartbeat_s:
            self._ping(now)

    def _ping(self, now: float) -> None:
        self.connection.send(protocol.PING)
        self._last_ping_at = now
        if self._unanswered_ping_at is None:
            self._unanswered_ping_at = now

    def _forget(self, request_id: Optional[int]) -> Optional[str]:
        found = self._outstanding.pop(request_id, None)
        if found is None:
            return self._late.pop(request_id, None)  # a reply to a request that timed out, or none
        self._in_flight.discard(found[0])
        return found[0]

    def _on_message(self, message: protocol.Message) -> None:
        now = time.monotonic()
        self._last_heard = now
        self._unanswered_ping_at = None
        if message.type == protocol.PONG:
            self.server_stats = message.fields.get("stats")
            if not self.ready:
                self._on_ready(message, now)
        elif message.type == protocol.RESULT:
            sent_at = self._outstanding.get(message.id, (None, now))[1]
            description = self._forget(message.id)
            if description is not None:
                self.answers[description] = protocol.plans_from_wire(message.fields)
                self.latencies_ms.append((now - sent_at) * 1000)
        elif message.type == protocol.ERROR:
            code = message.fields["code"]
            self.errors[code] = self.errors.get(code, 0) + 1
            description = self._forget(message.id)
            if code == protocol.BAD_DESCRIPTION and description is not None:
                self.answers[description] = PlanDistribution(())  # never guidance; do not ask again
            if code in (protocol.UNKNOWN_MODEL, protocol.MALFORMED, protocol.INTERNAL):
                logger.warning(f"teacher server error ({code}): {message.fields.get('message')}")

    def _on_ready(self, pong: protocol.Message, now: float) -> None:
        served = pong.fields.get("model")
        if served != self.model:
            self._give_up(f"the teacher server at {self.connection.address} serves '{served}', not '{self.model}'")
            return
        self.ready = True
        self._ready_at = now
        self._failures = 0
        self.ever_ready = True
        logger.info(
            f"llm4teach: teacher server ready at {self.connection.address} (pid {pong.fields.get('pid')}, "
            f"model {served}) after {now - self._started_at:.1f} s"
        )

    def _fail(self, now: float, reason: str) -> None:
        self.ready = False
        self.dropped += len(self._outstanding)
        self._outstanding.clear()
        self._in_flight.clear()
        self._late.clear()
        self._failures += 1
        if self.process is None:  # attached: whoever owns the server restarts it; reconnect and keep waiting
            logger.warning(f"llm4teach: {reason}; steps go unguided until it answers again")
            self.connection.reconnect()
            self._started_at = now
            self._unanswered_ping_at = None
            return
        self.process.kill()
        if self._failures > self.config.max_restarts:
            self._give_up(f"{reason}; {self._failures} consecutive failures")
            return
        delay = min(self.config.restart_backoff_s * 2 ** (self._failures - 1), self.config.restart_backoff_max_s)
        logger.warning(f"llm4teach: {reason}; steps go unguided; restarting it in {delay:g} s")
        self._restart_at = now + delay

    def _restart(self, now: float) -> None:
        self._restart_at = None
        self.restarts += 1
        self.process.start()
        self.connection.reconnect()
        self._started_at = self._last_heard = now
        self._unanswered_ping_at = None
        self._ping(now)

    def _give_up(self, reason: str) -> None:
        self.gave_up = True
        self.ready = False
        if self.process is not None:
            self.process.stop()
        logger.warning(f"llm4teach: {reason}: no teacher any more, training continues as plain PPO (no guidance)")

    def close(self) -> None:
        if not self.ever_ready and not self.gave_up:
            # Training can end before a failing server is detected: say what the run was.
            logger.warning(
                f"llm4teach: the teacher server at {self.connection.address} never answered during this run: "
                "it trained as plain PPO (no guidance)"
            )
        self.connection.close()
        if self.process is not None:
            self.process.stop()


_COUNTERS = ("requests", "cache_hits", "computed", "coalesced", "batches", "uptime_s")


def _delta_stats(now: dict[str, float], before: Optional[dict[str, float]]) -> dict[str, float]:
    """Server counters since ``before``; a restarted server (uptime went back) counts from zero."""
    if before is None or now["uptime_s"] < before["uptime_s"]:
        before = dict.fromkeys(_COUNTERS, 0.0)
    return {k: now[k] - before[k] for k in _COUNTERS}


def _nan_div(a: float, b: float) -> float:
    return a / b if b else float("nan")


class ServerTeacher(MiniGridGuidance):
    """The teacher as the trainer sees it (same interface as InprocTeacher), answered by a teacher server.

    Perception, description and skills run here (they need the observation);
    only description -> plan distribution goes to the server. Non-blocking: a
    description without an answer yet leaves its step unguided, and the answer is
    used from the step it arrives. ``blocking`` waits for every answer (exact
    paper replication) up to the client's timeouts.
    """

    def __init__(
        self, client: TeacherClient, grid_size: tuple[int, int], mission: str, blocking: bool = False,
        cache_path: Optional[str] = None, trace: Optional[DescriptionTrace] = None,
    ) -> None:
        self.client = client
        self.grid_size = grid_size
        self.mission = mission
        self.blocking = blocking
        self._cache_path = cache_path
        self.trace = trace
        self.num_actions = int(TEACHER_ACTION_SPACE.n)
        self._steps = self._guided_steps = self._lookups = self._table_hits = 0
        self._stats_before: Optional[dict[str, float]] = None

    @classmethod
    def from_config(
        cls, teacher_config: Any, observation_space: spaces.Dict, action_space: spaces.Space
    ) -> "ServerTeacher":
        """Local rank 0 starts the server (unless ``server.spawn`` is False); every rank connects to its node's."""
        grid_size = check_teacher_env(observation_space, action_space)
        server_config = teacher_config.server
        if server_config.timeout_s <= 0 or server_config.heartbeat_s <= 0 or server_config.max_restarts < 0:
            raise ConfigError("llm4teach.teacher.server needs timeout_s > 0, heartbeat_s > 0 and max_restarts >= 0")
        if not server_config.spawn and not server_config.address:
            raise ConfigError("llm4teach.teacher.server.spawn=false attaches to a running server: set server.address")
        local_rank = int(os.environ.get("LOCAL_RANK", os.environ.get("SLURM_LOCALID", 0)))
        owner = server_config.spawn and local_rank == 0
        address = node_address(server_config.address or (free_loopback_address() if owner else ""), owner)
        process = None
        if owner:
            config = OmegaConf.to_container(teacher_config, resolve=True) if OmegaConf.is_config(teacher_config) else teacher_config
            process = ServerProcess(address, config)
        client = TeacherClient(address, model_name(teacher_config.model), server_config, process)
        logger.info(
            f"llm4teach: teacher server at {address} ({'started here' if owner else 'attached'}, "
            f"{'blocking' if server_config.blocking else 'non-blocking'})"
        )
        return cls(
            client, grid_size, teacher_config.mission, server_config.blocking,
            None if teacher_config.cache_path is None else os.path.abspath(teacher_config.cache_path),
            DescriptionTrace(teacher_config.trace_path) if teacher_config.trace_path else None,
        )

    @property
    def cache_path(self) -> Optional[str]:
        return self._cache_path

    def guide(self, symbolic: torch.Tensor) -> TeacherGuidance:
        """``symbolic``: [N, S] observations -> guidance; steps whose description has no answer yet are unguided."""
        perceptions, descriptions = self.describe_batch(symbolic)
        self.client.pump()
        missing = {d for d in descriptions if d not in self.client.answers}
        self._lookups += len(descriptions)
        self._table_hits += sum(d in self.client.answers for d in descriptions)
        for description in missing:
            self.client.request(description)
        if self.blocking and missing:
            limit = self.client.config.timeout_s if self.client.ready else self.client.config.ready_timeout_s
            self.client.wait_for(missing, limit)
        teacher_probs = np.full((len(descriptions), self.num_actions), 1 / self.num_actions, dtype=np.float32)  # [N, A]
        teacher_guided = np.zeros((len(descriptions), 1), dtype=bool)  # [N, 1]
        for env_index, (description, perception) in enumerate(zip(descriptions, perceptions)):
            plans = self.client.answers.get(description)
            if plans is not None:
                output = teacher_action_distribution(plans, perception, self.num_actions)
                teacher_probs[env_index] = output.probs
                teacher_guided[env_index, 0] = output.guided
        self._steps += len(descriptions)
        self._guided_steps += int(teacher_guided.sum())
        return TeacherGuidance(torch.from_numpy(teacher_probs), torch.from_numpy(teacher_guided))

    def pop_stats(self) -> dict[str, float]:
        """Guided fraction and answer-table hit rate since the last call, and the server's metrics."""
        client = self.client
        client.pump()
        stats = {
            PLAN_CACHE_HIT_RATE: _nan_div(self._table_hits, self._lookups),
            GUIDED_FRAC: _nan_div(self._guided_steps, self._steps),
            LATENCY_P50_MS: float(np.percentile(client.latencies_ms, 50)) if client.latencies_ms else float("nan"),
            LATENCY_P95_MS: float(np.percentile(client.latencies_ms, 95)) if client.latencies_ms else float("nan"),
            RESTARTS: float(client.restarts),
            TIMEOUTS: float(client.timeouts),
            DROPPED: float(client.dropped),
            UP: float(client.ready),
        }
        # The same keys on every rank and every update: DD-PPO all-reduces them as one sorted vector.
        server = client.server_stats
        delta = _delta_stats(server, self._stats_before) if server is not None else dict.fromkeys(_COUNTERS, 0.0)
        stats.update({
            REQUESTS_PER_S: _nan_div(delta["requests"], delta["uptime_s"]),
            MEAN_BATCH_SIZE: _nan_div(delta["computed"], delta["batches"]),
            COALESCED: delta["coalesced"],
            SERVER_CACHE_HIT_RATE: _nan_div(delta["cache_hits"], delta["requests"]),
            QUEUE_DEPTH: float(server["queue_depth"]) if server is not None else float("nan"),
        })
        self._stats_before = server
        client.latencies_ms = []
        self._steps = self._guided_steps = self._lookups = self._table_hits = 0
        return stats

    def save_cache(self) -> None:
        """Ask the server to persist its plan cache (it also saves periodically and when it stops)."""
        self.client.save()

    def close(self) -> None:
        self.client.close()
        if self.trace is not None:
            self.trace.close()


def node_address(address: str, owner: bool) -> str:
    """The server address of this node: the owner's, shared with the node's other ranks under torch.distributed."""
    if not (torch.distributed.is_available() and torch.distributed.is_initialized()):
        if not address:
            raise ConfigError("no teacher server address: set llm4teach.teacher.server.address or server.spawn=true")
        return address
    gathered: list[Any] = [None] * torch.distributed.get_world_size()
    torch.distributed.all_gather_object(gathered, (socket.gethostname(), address if owner else ""))
    if address and not owner:
        return address  # a configured address: every rank already knows it
    found = [a for host, a in gathered if host == socket.gethostname() and a]
    if not found:
        raise ConfigError(
            "no rank on this node starts a teacher server (local rank 0 with server.spawn=true) and no "
            "llm4teach.teacher.server.address is set"
        )
    return found[0]


def build_training_teacher(
    teacher_config: Any, observation_space: spaces.Dict, action_space: spaces.Space
) -> Union[InprocTeacher, ServerTeacher]:
    """The server-backed teacher, or the in-process one with ``llm4teach.teacher.server.enabled=false``.

    The server answers MiniGrid descriptions (it rebuilds their candidates with teacher/minigrid/scene.py); the
    Habitat pick/place teacher runs in process.
    """
    if teacher_config.env == "minigrid" and teacher_config.server.enabled:
        return ServerTeacher.from_config(teacher_config, observation_space, action_space)
    if teacher_config.env != "minigrid" and teacher_config.server.enabled:
        logger.info(f"llm4teach: the teacher server speaks MiniGrid only; the {teacher_config.env} teacher runs in process")
    return build_teacher(teacher_config, observation_space, action_space)
