"""The teacher inference server: one process owning the planners (one LLM, one plan cache), answering over ZeroMQ.

Owns the process around the planners: a ROUTER socket on loopback TCP, request
validation (protocol.py), cache-first answers, dynamic batching and coalescing
(scheduler.py), one backend worker thread running ``Planner.plan_batch``, the
metrics, periodic and requested cache saving, and its own exit: on SIGTERM or
SIGINT, and when the process that started it dies (``parent_pid``), so no
server outlives its trainer.

It is env-agnostic: it holds one planner per prompt set (teachers.py's
``PROMPT_SETS``: MiniGrid and pick/place), all sharing the LLM and the cache,
and a request carries its prompt set's name and its whole query (description,
candidate skills, targets), so nothing is ever parsed back from a description.

The I/O loop never waits for the model: heartbeats and cache hits are answered
while a batch runs on the worker thread, which hands results back over an
inproc socket.
"""

from __future__ import annotations

import logging
import os
import queue
import signal
import threading
import time
from typing import TYPE_CHECKING, Any, Mapping, Optional

import zmq

from habitat_llm4teach.server import protocol
from habitat_llm4teach.server.scheduler import QueueFull, Scheduler
from habitat_llm4teach.teacher.types import PlanQuery

if TYPE_CHECKING:
    from habitat_llm4teach.teacher.planner import Planner

logger = logging.getLogger(__name__)

_RESULTS = "inproc://teacher-server-results"
SAVE_INTERVAL_S = 30.0


class TeacherServer:
    def __init__(
        self, planners: Mapping[str, "Planner"], address: str, max_batch: int = 32, max_wait_ms: float = 20.0,
        max_queue: int = 4096, parent_pid: Optional[int] = None,
    ) -> None:
        if not planners:
            raise ValueError("the teacher server needs at least one planner")
        self.planners = dict(planners)  # prompt set name -> its planner; one LLM and one cache shared by all
        any_planner = next(iter(self.planners.values()))
        self.model = any_planner.llm.name
        self.cache = any_planner.cache
        if not any_planner.llm.batch_queries:
            # The backend scores one prompt at a time (on the CPU): a batch would hold its first answers back until
            # its last is scored, so each description is answered as soon as it is scored.
            max_batch = 1
        # Waiting requests, keyed by (prompt set, description): who asked, with which id, since when.
        self.scheduler: Scheduler[tuple[bytes, int, float]] = Scheduler(max_batch, max_wait_ms, max_queue)
        self.parent_pid = parent_pid
        self._context = zmq.Context()
        self._router = self._context.socket(zmq.ROUTER)
        # Replies to a client that went away raise (and are counted) instead of vanishing silently.
        self._router.setsockopt(zmq.ROUTER_MANDATORY, 1)
        self._router.setsockopt(zmq.LINGER, 0)
        self._router.bind(address)
        self.address = self._router.getsockopt(zmq.LAST_ENDPOINT).decode()
        self._results = self._context.socket(zmq.PAIR)
        self._results.bind(_RESULTS)
        self._batches: "queue.Queue[Optional[list[tuple[Any, PlanQuery]]]]" = queue.Queue()
        self._stop = threading.Event()
        self.stats = {
            "requests": 0, "cache_hits": 0, "computed": 0, "coalesced": 0, "batches": 0, "errors": 0,
            "dropped_replies": 0,
        }
        self._started = time.monotonic()

    # -- the worker thread: the only code that runs the model -------------------------------------------

    def _work(self) -> None:
        results = self._context.socket(zmq.PAIR)
        results.connect(_RESULTS)
        try:
            self._work_on(results)
        except zmq.ContextTerminated:  # the server stopped while a batch ran: its answers are not wanted any more
            logger.debug("teacher server: stopped during a batch")
        finally:
            results.close()

    def _work_on(self, results: "zmq.Socket") -> None:
        while (batch := self._batches.get()) is not None:
            try:
                # One backend call per prompt set in the batch; answers back in the batch's order.
                answers: list[Any] = [None] * len(batch)
                by_prompts: dict[str, list[int]] = {}
                for index, ((prompts, _), _) in enumerate(batch):
                    by_prompts.setdefault(prompts, []).append(index)
                for prompts, indices in by_prompts.items():
                    for index, answer in zip(indices, self.planners[prompts].plan_batch([batch[i][1] for i in indices])):
                        answers[index] = answer
                results.send_pyobj(("ok", answers))
            except zmq.ContextTerminated:
                raise
            except Exception as error:  # a failed batch is answered with errors; the server lives on
                logger.exception("teacher server: backend failed on a batch of %d", len(batch))
                results.send_pyobj(("error", f"{type(error).__name__}: {error}"))

    # -- the I/O loop -----------------------------------------------------------------------------------

    def stop(self, *_: Any) -> None:
        self._stop.set()

    def serve_forever(self) -> None:
        worker = threading.Thread(target=self._work, name="teacher-backend", daemon=True)
        worker.start()
        poller = zmq.Poller()
        poller.register(self._router, zmq.POLLIN)
        poller.register(self._results, zmq.POLLIN)
        last_save = time.monotonic()
        logger.info("teacher server: %s ready on %s (pid %d)", self.model, self.address, os.getpid())
        try:
            while not self._stop.is_set():
                if self.parent_pid is not None and os.getppid() != self.parent_pid:
                    logger.warning("teacher server: parent %d is gone; exiting", self.parent_pid)
                    break
                due = self.scheduler.seconds_until_due(time.monotonic())
                timeout_ms = 1000 if due is None else min(1000, int(due * 1000) + 1)
                events = dict(poller.poll(timeout_ms))
                if self._results in events:
                    self._finish_batch(*self._results.recv_pyobj())
                while self._router.poll(0):
                    self._handle(*self._router.recv_multipart())
                batch = self.scheduler.take_batch(time.monotonic())
                if batch:
                    self.stats["batches"] += 1
                    self._batches.put(batch)
                if time.monotonic() - last_save > SAVE_INTERVAL_S:
                    self.cache.save()
                    last_save = time.monotonic()
        finally:
            self._batches.put(None)
            self.cache.save()
            self._router.close()
            worker.join(timeout=5)
            self._results.close()
            self._context.term()
            logger.info("teacher server: stopped")

    def _reply(
        self, identity: bytes, type_: str, request_id: Optional[int], version: object = protocol.VERSION, **fields: Any
    ) -> None:
        try:
            self._router.send_multipart([identity, protocol.encode(type_, request_id, version, **fields)], zmq.NOBLOCK)
        except zmq.ZMQError:  # EHOSTUNREACH: the client disconnected; EAGAIN: it stopped reading
            self.stats["dropped_replies"] += 1

    def _error(
        self, identity: bytes, request_id: Optional[int], code: str, message: str, version: object = protocol.VERSION
    ) -> None:
        self.stats["errors"] += 1
        self._reply(identity, protocol.ERROR, request_id, version, code=code, message=message)

    def _handle(self, identity: bytes, *frames: bytes) -> None:
        if len(frames) != 1:
            self._error(identity, None, protocol.MALFORMED, f"expected one frame per message, got {len(frames)}")
            return
        try:
            message = protocol.decode_request(frames[0])
        except protocol.ProtocolError as error:
            if error.code == protocol.VERSION_MISMATCH:
                # Answered in the sender's own version so that it can read why; version-1 clients know no
                # "version" code, so they get theirs for a bad message (and log the text).
                version = protocol.version_of(frames[0])
                code = protocol.MALFORMED if version == 1 else protocol.VERSION_MISMATCH
                self._error(identity, error.request_id, code, str(error), version)
                return
            self._error(identity, error.request_id, error.code, str(error))
            return
        if message.type == protocol.PING:
            self._reply(identity, protocol.PONG, message.id, model=self.model, pid=os.getpid(), stats=self.snapshot())
        elif message.type == protocol.SAVE:
            self.cache.save()
            self._reply(identity, protocol.SAVED, message.id, path=str(self.cache.path))
        else:
            self._plan(identity, message)

    def _plan(self, identity: bytes, message: protocol.Message) -> None:
        self.stats["requests"] += 1
        now = time.monotonic()
        model, prompts = message.fields["model"], message.fields["prompts"]
        if model != self.model:
            self._error(identity, message.id, protocol.UNKNOWN_MODEL, f"this server serves '{self.model}', not '{model}'")
            return
        planner = self.planners.get(prompts)
        if planner is None:
            self._error(
                identity, message.id, protocol.UNKNOWN_PROMPTS,
                f"this server has no prompt set '{prompts}'; it has {sorted(self.planners)}",
            )
            return
        try:
            query = protocol.query_from_wire(message.fields, planner.prompts.skills)
        except protocol.ProtocolError as error:
            self._error(identity, message.id, error.code, str(error))
            return
        cached = self.cache.get(planner.cache_key(query.description))
        if cached is not None:  # a hit never touches the model
            self.stats["cache_hits"] += 1
            self._answer(identity, message.id, cached)
            return
        try:
            self.stats["coalesced"] += self.scheduler.add(
                (prompts, query.description), query, (identity, message.id, now), now
            )
        except QueueFull as error:
            self._error(identity, message.id, protocol.QUEUE_FULL, f"{error}; ask again later")

    def _answer(self, identity: bytes, request_id: int, answer: Any) -> None:
        self._reply(identity, protocol.RESULT, request_id, **protocol.plans_to_wire(answer))

    def _finish_batch(self, status: str, outcome: Any) -> None:
        waiting = self.scheduler.finish()
        if status == "ok":
            self.stats["computed"] += len(waiting)
            for answer, waiters in zip(outcome, waiting.values()):
                for identity, request_id, _ in waiters:
                    self._answer(identity, request_id, answer)
            return
        for waiters in waiting.values():
            for identity, request_id, _ in waiters:
                self._error(identity, request_id, protocol.INTERNAL, f"the backend failed: {outcome}")

    def snapshot(self) -> dict[str, float]:
        """Cumulative counters and the queue depth now (the heartbeat's ``stats``; latency is measured by clients)."""
        return {**self.stats, "queue_depth": self.scheduler.depth, "uptime_s": time.monotonic() - self._started}


def install_signal_handlers(server: TeacherServer) -> None:
    """SIGTERM and SIGINT end the loop cleanly (cache saved, sockets closed)."""
    signal.signal(signal.SIGTERM, server.stop)
    signal.signal(signal.SIGINT, server.stop)
