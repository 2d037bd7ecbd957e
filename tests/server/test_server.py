"""The server loop on a scripted planner (real ScorePlanner and PlanCache, fake LLM), run in a thread:
cache first, batching, coalescing, and bad input that each gets a clear error while the server lives on."""

from __future__ import annotations

import json
import threading
import time

import pytest
import zmq

from habitat_llm4teach.server import protocol
from habitat_llm4teach.server.server import TeacherServer
from habitat_llm4teach.teacher.minigrid.prompts import MINIGRID_PROMPTS, query_from_description
from habitat_llm4teach.teacher.planner import ScorePlanner
from habitat_llm4teach.teacher.rearrange.prompts import REARRANGE_PROMPTS
from habitat_llm4teach.teacher.types import PlanQuery, SkillCall
from teacher.llm_fakes import FakeLLM

KEY_DOOR = "Agent sees <yellow key>, <yellow door (locked)>, holds <nothing>. Goal: open the door."
NOTHING = "Agent sees <nothing>, holds <nothing>. Goal: open the door."
HOLDING = "Agent sees <nothing>, holds <yellow key>. Goal: open the door."


class GatedLLM(FakeLLM):
    """A fake LLM whose batched scoring waits until the test opens the gate."""

    def __init__(self, batch_queries: bool = True, **kwargs) -> None:
        super().__init__(scores={"pick up yellow key": -0.1, "explore": -2.0}, **kwargs)
        self.batch_queries = batch_queries
        self.gate = threading.Event()
        self.gate.set()
        self.entered = threading.Event()
        self.fail = False

    def score_batch(self, prompts, continuations, static_prefix=""):
        self.entered.set()
        assert self.gate.wait(10)
        if self.fail:
            raise RuntimeError("backend exploded")
        return super().score_batch(prompts, continuations, static_prefix)


@pytest.fixture
def running():
    """Start a server on a free loopback port in a thread; yield (server, llm, connect)."""
    servers = []

    def start(batch_queries: bool = True, **kwargs):
        llm = GatedLLM(batch_queries)
        server = TeacherServer(planners(llm), "tcp://127.0.0.1:*", **kwargs)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        servers.append((server, thread, llm))
        return server, llm

    yield start
    for server, thread, llm in servers:
        llm.gate.set()
        server.stop()
        thread.join(10)
        assert not thread.is_alive()


def planners(llm, cache=None) -> dict[str, ScorePlanner]:
    """Both prompt sets over one LLM and one cache, as the server process builds them."""
    minigrid = ScorePlanner(llm, cache, sharpen_temperature=0.5, prompts=MINIGRID_PROMPTS)
    return {"minigrid": minigrid, "rearrange": ScorePlanner(llm, minigrid.cache, prompts=REARRANGE_PROMPTS)}


def dealer(address: str) -> zmq.Socket:
    sock = zmq.Context.instance().socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(address)
    return sock


def plan_request(request_id: int, description: str, model: str = "fake-llm", prompts: str = "minigrid") -> bytes:
    query = protocol.query_to_wire(query_from_description(description))
    return protocol.encode(protocol.PLAN, request_id, model=model, prompts=prompts, **query)


def ask(sock: zmq.Socket, request_id: int, description: str, model: str = "fake-llm") -> None:
    sock.send(plan_request(request_id, description, model))


def replies(sock: zmq.Socket, n: int, timeout_s: float = 10) -> list[protocol.Message]:
    got = []
    while len(got) < n:
        assert sock.poll(int(timeout_s * 1000)), f"got {len(got)} of {n} replies"
        got.append(protocol.decode_reply(sock.recv()))
    return got


def test_answers_batches_coalesces_and_hits_the_cache(running):
    server, llm = running(max_batch=8, max_wait_ms=50)
    a, b = dealer(server.address), dealer(server.address)
    llm.gate.clear()
    ask(a, 1, KEY_DOOR)
    assert llm.entered.wait(10)  # batch 1 runs (max_wait_ms passed) and is held at the gate
    ask(b, 2, KEY_DOOR)  # coalesced onto the running batch
    ask(a, 3, NOTHING)
    ask(b, 4, HOLDING)
    ask(a, 5, NOTHING)  # coalesced onto a waiting description
    for sock in (a, b):  # a pong proves the server has read this client's earlier requests
        sock.send(protocol.encode(protocol.PING, 0))
        assert replies(sock, 1)[0].type == protocol.PONG
    llm.gate.set()
    got = {m.id: m for m in replies(a, 3) + replies(b, 2)}
    assert all(m.type == protocol.RESULT for m in got.values())
    assert protocol.plans_from_wire(got[1].fields) == protocol.plans_from_wire(got[2].fields)
    assert protocol.plans_from_wire(got[1].fields).plans[0].steps[0].target == "yellow key"
    assert llm.score_batch_sizes == [1, 2]  # KEY_DOOR alone, then NOTHING and HOLDING as one batch
    ask(b, 6, KEY_DOOR)
    (hit,) = replies(b, 1)
    assert hit.fields["source"] == "cache" and llm.score_batch_sizes == [1, 2]  # no model call
    b.send(protocol.encode(protocol.PING, 7))
    (pong,) = replies(b, 1)
    stats = pong.fields["stats"]
    assert (stats["requests"], stats["computed"], stats["coalesced"], stats["cache_hits"], stats["batches"]) == (6, 3, 2, 1, 2)
    assert pong.fields["model"] == "fake-llm" and stats["queue_depth"] == 0 and stats["errors"] == 0


def test_a_backend_that_scores_one_prompt_at_a_time_answers_each_description_as_soon_as_it_is_scored(running):
    # CausalLM on the CPU (batch_queries false) loops over a batch's prompts: a batch of 2 would hold the first
    # answer back until the second is scored.
    server, llm = running(batch_queries=False, max_batch=8, max_wait_ms=50)
    a = dealer(server.address)
    llm.gate.clear()
    ask(a, 1, KEY_DOOR)
    assert llm.entered.wait(10)
    ask(a, 2, NOTHING)
    ask(a, 3, HOLDING)
    a.send(protocol.encode(protocol.PING, 0))
    assert replies(a, 1)[0].type == protocol.PONG  # the server has read both
    llm.gate.set()
    got = replies(a, 3)
    assert sorted(m.id for m in got) == [1, 2, 3] and all(m.type == protocol.RESULT for m in got)
    assert llm.score_batch_sizes == [1, 1, 1]


def _plan(request_id: int, **changes) -> bytes:
    """A plan request for NOTHING with some fields changed (None: removed)."""
    fields = {"model": "fake-llm", "prompts": "minigrid", **protocol.query_to_wire(query_from_description(NOTHING))}
    fields.update(changes)
    return protocol.encode(protocol.PLAN, request_id, **{k: v for k, v in fields.items() if v is not None})


@pytest.mark.parametrize(
    "frames, code, match",
    [
        ([b"{oops"], protocol.MALFORMED, "not JSON"),
        ([b"a", b"b"], protocol.MALFORMED, "one frame"),
        ([json.dumps({"v": 2, "type": "plan", "id": 3, "model": "m"}).encode()], protocol.MALFORMED, "prompts"),
        ([_plan(3, candidates=None)], protocol.MALFORMED, "'candidates' as a JSON list"),
        ([_plan(4, model="qwen-9000b")], protocol.UNKNOWN_MODEL, "serves 'fake-llm', not 'qwen-9000b'"),
        ([_plan(5, prompts="atari")], protocol.UNKNOWN_PROMPTS, "no prompt set 'atari'; it has ['minigrid', 'rearrange']"),
        ([_plan(6, candidates=[["explore"]])], protocol.BAD_CANDIDATES, "[skill, target or null]"),
        ([_plan(7, candidates=[])], protocol.BAD_CANDIDATES, "no candidate skills"),
        ([_plan(8, candidates=[["teleport", "moon"]])], protocol.BAD_CANDIDATES, "['teleport'] are not in this prompt set"),
        ([_plan(9, targets={"open": "yellow door"})], protocol.BAD_CANDIDATES, "must be a list"),
        ([_plan(10, prompts="rearrange")], protocol.BAD_CANDIDATES, "'explore', 'go to', 'open', 'pick up'] are not in this prompt set"),
        ([_plan(11, description="x" * (protocol.MAX_DESCRIPTION_CHARS + 1))], protocol.TOO_LARGE, "longer than"),
        ([_plan(12, candidates=[["explore", None]] * (protocol.MAX_CANDIDATES + 1))], protocol.TOO_LARGE, "candidates"),
        ([json.dumps({"v": 99, "type": "ping", "id": 13}).encode()], protocol.VERSION_MISMATCH, "version 99"),
    ],
)
def test_bad_input_gets_a_clear_error_and_the_server_lives_on(running, frames, code, match):
    server, _ = running()
    sock = dealer(server.address)
    sock.send_multipart(frames)
    if code == protocol.VERSION_MISMATCH:  # answered in the sender's version, which this side cannot decode
        error = json.loads(sock.recv())
        assert (error["v"], error["type"], error["code"]) == (99, "error", code)
    else:
        (error,) = replies(sock, 1)
        assert error.type == protocol.ERROR and error.fields["code"] == code
        error = error.fields
    assert match in error["message"]
    ask(sock, 9, NOTHING)
    (ok,) = replies(sock, 1)
    assert ok.type == protocol.RESULT and ok.id == 9


def test_a_version_1_client_gets_an_error_it_can_read_naming_the_mismatch(running):
    server, _ = running()
    sock = dealer(server.address)
    sock.send(json.dumps({"v": 1, "type": "plan", "id": 4, "model": "fake-llm", "description": NOTHING}).encode())
    error = json.loads(sock.recv())
    # Version 1 knows no "version" code: it gets "malformed", in its own version, with the reason.
    assert (error["v"], error["id"], error["code"]) == (1, 4, protocol.MALFORMED)
    assert "speaks teacher-server protocol version 1, this side speaks 2" in error["message"]


def test_one_server_answers_minigrid_and_rearrange_queries_without_reading_descriptions(running):
    server, llm = running(max_batch=8, max_wait_ms=50)
    sock = dealer(server.address)
    pick = PlanQuery.make(
        "any text at all: the server never parses it", [SkillCall("navigate to", "apple"), SkillCall("look around")],
        {"navigate to": ["apple"], "look around": []},
    )
    llm.scores["navigate to apple"] = -0.1
    sock.send(protocol.encode(protocol.PLAN, 1, model="fake-llm", prompts="rearrange", **protocol.query_to_wire(pick)))
    ask(sock, 2, KEY_DOOR)
    got = {m.id: protocol.plans_from_wire(m.fields) for m in replies(sock, 2)}
    assert got[1].plans[0].steps == (SkillCall("navigate to", "apple"),) and len(got[1].plans) == 2
    assert got[2].plans[0].steps == (SkillCall("pick up", "yellow key"),)
    assert llm.score_batch_sizes == [1, 1]  # one backend call per prompt set in the batch
    # The same text under the other prompt set is another question: not a cache hit.
    sock.send(protocol.encode(protocol.PLAN, 3, model="fake-llm", prompts="rearrange",
                              **protocol.query_to_wire(PlanQuery.make(KEY_DOOR, [SkillCall("look around")], {}))))
    (other,) = replies(sock, 1)
    assert other.fields["source"] == "llm" and other.fields["plans"][0]["skills"] == [["look around", None]]


def test_full_queue_is_refused_and_later_requests_are_served(running):
    server, llm = running(max_batch=1, max_wait_ms=0, max_queue=1)
    sock = dealer(server.address)
    llm.gate.clear()
    ask(sock, 1, KEY_DOOR)
    assert llm.entered.wait(10)  # running
    ask(sock, 2, NOTHING)  # waits: the queue is full now
    ask(sock, 3, HOLDING)
    (full,) = replies(sock, 1)
    assert (full.id, full.fields["code"]) == (3, protocol.QUEUE_FULL) and "ask again later" in full.fields["message"]
    llm.gate.set()
    assert sorted(m.id for m in replies(sock, 2)) == [1, 2]
    ask(sock, 4, HOLDING)
    assert replies(sock, 1)[0].type == protocol.RESULT


def test_a_client_that_disconnects_mid_request_is_counted_and_others_are_served(running):
    server, llm = running(max_batch=4, max_wait_ms=0)
    leaving, staying = dealer(server.address), dealer(server.address)
    llm.gate.clear()
    ask(leaving, 1, KEY_DOOR)
    assert llm.entered.wait(10)
    leaving.close(linger=0)
    # ZeroMQ's I/O thread must see the disconnect before the reply goes out, or the reply is queued to the
    # dead peer and silently lost (nothing to count); on a loaded 2-core machine that can take a moment.
    time.sleep(1.0)
    ask(staying, 2, KEY_DOOR)  # coalesced with the request whose client left
    llm.gate.set()
    (answer,) = replies(staying, 1)
    assert answer.type == protocol.RESULT
    staying.send(protocol.encode(protocol.PING, 3))
    (pong,) = replies(staying, 1)
    assert pong.fields["stats"]["dropped_replies"] == 1


def test_a_failing_backend_answers_internal_errors_and_recovers(running):
    server, llm = running(max_wait_ms=0)
    sock = dealer(server.address)
    llm.fail = True
    ask(sock, 1, KEY_DOOR)
    (error,) = replies(sock, 1)
    assert error.fields["code"] == protocol.INTERNAL and "backend exploded" in error.fields["message"]
    llm.fail = False
    ask(sock, 2, KEY_DOOR)
    assert replies(sock, 1)[0].type == protocol.RESULT


def test_save_request_persists_the_cache(tmp_path):
    from habitat_llm4teach.teacher.cache import PlanCache

    path = tmp_path / "plans.json"
    server = TeacherServer(planners(GatedLLM(), PlanCache(path)), "tcp://127.0.0.1:*", max_wait_ms=0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        sock = dealer(server.address)
        ask(sock, 1, NOTHING)
        replies(sock, 1)
        sock.send(protocol.encode(protocol.SAVE, 2))
        (saved,) = replies(sock, 1)
        assert saved.type == protocol.SAVED and len(PlanCache(path)) == 1
    finally:
        server.stop()
        thread.join(10)
