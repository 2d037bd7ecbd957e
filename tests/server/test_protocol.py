"""The wire format: round trips and every kind of malformed message named with its error code."""

from __future__ import annotations

import re

import pytest

from habitat_llm4teach.server import protocol
from habitat_llm4teach.teacher.types import Plan, PlanDistribution, PlanQuery, SkillCall


QUERY = PlanQuery.make(
    "Agent sees <yellow key>, holds <nothing>.", [SkillCall("explore"), SkillCall("pick up", "yellow key")],
    {"explore": [], "pick up": ["yellow key"]},
)


def test_plan_request_and_result_round_trip():
    frame = protocol.encode(protocol.PLAN, 7, model="m", prompts="minigrid", **protocol.query_to_wire(QUERY))
    message = protocol.decode_request(frame)
    assert (message.type, message.id, message.fields["model"], message.fields["prompts"]) == (protocol.PLAN, 7, "m", "minigrid")
    assert protocol.query_from_wire(message.fields, ("explore", "pick up")) == QUERY
    answer = PlanDistribution((Plan((SkillCall("pick up", "yellow key"), SkillCall("explore")), 0.75),), invalid=2, source="cache")
    reply = protocol.decode_reply(protocol.encode(protocol.RESULT, 7, **protocol.plans_to_wire(answer)))
    assert protocol.plans_from_wire(reply.fields) == answer


@pytest.mark.parametrize(
    "frame, match",
    [
        (b"\xff\xfe", "not JSON"),
        (b"{not json", "not JSON"),
        (b"[1, 2]", "JSON object"),
        (b'{"v": 2, "type": "plan"}', "integer 'id'"),
        (b'{"v": 2, "type": "plan", "id": true}', "integer 'id'"),
        (b'{"v": 2, "type": "shutdown", "id": 1}', "unknown message type 'shutdown'"),
        (b'{"v": 2, "type": "plan", "id": 1, "model": "m"}', "non-empty string 'prompts'"),
        (b'{"v": 2, "type": "plan", "id": 1, "model": "m", "prompts": "minigrid"}', "non-empty string 'description'"),
        (b'{"v": 2, "type": "plan", "id": 1, "model": 3, "description": "x"}', "non-empty string 'model'"),
        (b'{"v": 2, "type": "plan", "id": 1, "model": "m", "prompts": "p", "description": "x", "candidates": [],'
         b' "targets": []}', "'targets' as a JSON dict"),
    ],
)
def test_malformed_requests_are_named(frame, match):
    with pytest.raises(protocol.ProtocolError, match=match) as caught:
        protocol.decode_request(frame)
    assert caught.value.code == protocol.MALFORMED


@pytest.mark.parametrize("frame", [b'{"v": 99, "type": "ping", "id": 1}', b'{"v": 1, "type": "plan", "id": 1}', b'{"type": "ping"}'])
def test_another_protocol_version_is_named_before_anything_else(frame):
    with pytest.raises(protocol.ProtocolError, match="run the trainer and the server from the same") as caught:
        protocol.decode_request(frame)
    assert caught.value.code == protocol.VERSION_MISMATCH and protocol.version_of(frame) in (99, 1, None)
    with pytest.raises(protocol.ProtocolError) as caught:
        protocol.decode_reply(frame.replace(b'"ping"', b'"pong"'))
    assert caught.value.code == protocol.VERSION_MISMATCH


@pytest.mark.parametrize(
    "changes, code, match",
    [
        ({"candidates": []}, protocol.BAD_CANDIDATES, "no candidate skills"),
        ({"candidates": [["explore", 3]]}, protocol.BAD_CANDIDATES, "a candidate's target must be a non-empty string"),
        ({"candidates": [["", None]]}, protocol.BAD_CANDIDATES, "a candidate's skill"),
        ({"candidates": ["explore"]}, protocol.BAD_CANDIDATES, "[skill, target or null]"),
        ({"targets": {"pick up": [None]}}, protocol.BAD_CANDIDATES, "a target of 'pick up'"),
        ({"targets": {"fly": []}}, protocol.BAD_CANDIDATES, "['fly'] are not in this prompt set's vocabulary"),
        ({"candidates": [["explore", None]] * (protocol.MAX_CANDIDATES + 1)}, protocol.TOO_LARGE, "more than"),
        ({"targets": {"pick up": ["k"] * (protocol.MAX_CANDIDATES + 1)}}, protocol.TOO_LARGE, "more than"),
    ],
)
def test_queries_that_do_not_parse_are_refused_with_a_code(changes, code, match):
    fields = {**protocol.query_to_wire(QUERY), **changes}
    with pytest.raises(protocol.ProtocolError, match=re.escape(match)) as caught:
        protocol.query_from_wire(fields, ("explore", "pick up"))
    assert caught.value.code == code


def test_overlong_description_and_bad_replies():
    with pytest.raises(protocol.ProtocolError, match="longer than") as caught:
        protocol.decode_request(protocol.encode(
            protocol.PLAN, 1, model="m", prompts="minigrid",
            **{**protocol.query_to_wire(QUERY), "description": "x" * (protocol.MAX_DESCRIPTION_CHARS + 1)},
        ))
    assert caught.value.code == protocol.TOO_LARGE
    with pytest.raises(protocol.ProtocolError, match="unknown code"):
        protocol.decode_reply(protocol.encode(protocol.ERROR, 1, code="oops", message=""))
    with pytest.raises(protocol.ProtocolError, match="bad 'result' fields"):
        protocol.plans_from_wire({"plans": [{"skills": 5}], "invalid": 0, "source": "llm"})
