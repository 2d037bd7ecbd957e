"""The heartbeat, restart and give-up policy of a trainer's link to its teacher server, and the answer table.

:class:`TeacherClient` asks a teacher server for plan distributions without ever
blocking on it and survives the server failing: readiness, heartbeat, request
timeouts, restarts with back-off, giving up (training goes on as plain PPO),
and the table of answers, so each description is asked once. Transport is
connection.py's, the process process.py's; the plan source the teachers use is
remote.py's ``RemotePlanSource``.
"""

from __future__ import annotations

import time
from typing import Any, Optional

from habitat import logger

from habitat_llm4teach.server import protocol
from habitat_llm4teach.server.connection import ServerConnection
from habitat_llm4teach.server.process import ServerProcess
from habitat_llm4teach.teacher.types import PlanDistribution, PlanQuery

# Error codes after which asking again cannot help: the step stays unguided and the description is not asked again.
REFUSED_FOR_GOOD = (protocol.UNKNOWN_PROMPTS, protocol.BAD_CANDIDATES, protocol.TOO_LARGE)


class TeacherClient:
    """Asks a teacher server for plan distributions without ever blocking on it, and survives it failing.

    ``pump`` (called every step) reads replies, sends heartbeats and detects a dead
    or hung server: no reply to a heartbeat within ``timeout_s`` (``ready_timeout_s``
    while it loads), or, for the owner, the process exiting. The owner then kills
    it, restarts it after a back-off (doubling per consecutive failure) and the new
    server reloads the persisted plan cache; after ``max_restarts`` consecutive
    failed starts the client gives up and answers nothing (plain PPO).
    """

    def __init__(
        self, address: str, model: str, prompts: str, config: Any, process: Optional[ServerProcess] = None
    ) -> None:
        self.model = model
        self.prompts = prompts  # the prompt set every request names (one client per teacher)
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
        self.errors: dict[str, int] = {}  # error replies by code
        self.cache_replies = 0  # answers the server had in its plan cache (no LLM run for our request)
        self.latencies_ms: list[float] = []
        self.server_stats: Optional[dict[str, float]] = None
        self._failures = 0  # consecutive failed starts or deaths without a ready in between
        self._restart_at: Optional[float] = None
        now = time.monotonic()
        self._started_at = self._last_heard = now
        self._unanswered_ping_at: Optional[float] = None
        self._last_ping_at = -float("inf")
        if process is not None and not process.started:  # remote.start_server may have started it already
            process.start()
        self._ping(now)

    # -- requests ---------------------------------------------------------------------------------------

    def request(self, query: PlanQuery) -> None:
        """Ask for ``query`` unless its description is answered or asked already."""
        description = query.description
        if self.gave_up or description in self.answers or description in self._in_flight:
            return
        request_id = self.connection.send(
            protocol.PLAN, model=self.model, prompts=self.prompts, **protocol.query_to_wire(query)
        )
        self._outstanding[request_id] = (description, time.monotonic())
        self._in_flight.add(description)

    @property
    def in_flight(self) -> int:
        """Descriptions asked and not answered yet (a timed-out request no longer counts)."""
        return len(self._in_flight)

    def save(self) -> None:
        if self.ready:
            self.connection.send(protocol.SAVE)

    def wait_for(self, queries: list[PlanQuery], max_wait_s: float) -> None:
        """Blocking mode: pump until every query is answered, the client gives up, or ``max_wait_s``."""
        deadline = time.monotonic() + max_wait_s
        while not self.gave_up and time.monotonic() < deadline:
            missing = [q for q in queries if q.description not in self.answers]
            if not missing:
                return
            for query in missing:
                self.request(query)  # again after a restart dropped it
            self.pump(timeout_s=min(0.05, max(0.0, deadline - time.monotonic())))

    # -- the loop ---------------------------------------------------------------------------------------

    def pump(self, timeout_s: float = 0.0) -> None:
        """Handle replies, heartbeat, timeouts and restarts; waits up to ``timeout_s`` for a reply."""
        if self.gave_up:
            return
        for message in self.connection.receive(timeout_s):
            self._on_message(message)
        if self.connection.version_error is not None:  # waiting longer cannot help
            self._give_up(f"the teacher server at {self.connection.address} cannot be used: {self.connection.version_error}")
            return
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
                answer = protocol.plans_from_wire(message.fields)
                self.answers[description] = answer
                self.cache_replies += answer.source == "cache"
                self.latencies_ms.append((now - sent_at) * 1000)
        elif message.type == protocol.ERROR:
            code = message.fields["code"]
            self.errors[code] = self.errors.get(code, 0) + 1
            description = self._forget(message.id)
            if code in REFUSED_FOR_GOOD and description is not None:
                self.answers[description] = PlanDistribution(())  # never guidance; do not ask again
            if code != protocol.QUEUE_FULL:  # a full queue is asked again next step; the rest is worth a line
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
