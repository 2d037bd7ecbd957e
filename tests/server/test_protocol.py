"""The wire format: round trips and every kind of malformed message named with its error code."""

from __future__ import annotations

import pytest

from habitat_llm4teach.server import protocol
from habitat_llm4teach.teacher.types import Plan, PlanDistribution, SkillCall


def test_plan_request_and_result_round_trip():
    message = protocol.decode_request(protocol.encode(protocol.PLAN, 7, model="m", description="Agent sees <nothing>, holds <nothing>."))
    assert (message.type, message.id, message.fields["model"]) == (protocol.PLAN, 7, "m")
    answer = PlanDistribution((Plan((SkillCall("pick up", "yellow key"), SkillCall("explore")), 0.75),), invalid=2, source="cache")
    reply = protocol.decode_reply(protocol.encode(protocol.RESULT, 7, **protocol.plans_to_wire(answer)))
    assert protocol.plans_from_wire(reply.fields) == answer


@pytest.mark.parametrize(
    "frame, match",
    [
        (b"\xff\xfe", "not JSON"),
        (b"{not json", "not JSON"),
        (b"[1, 2]", "JSON object"),
        (b'{"v": 1, "type": "plan"}', "integer 'id'"),
        (b'{"v": 1, "type": "plan", "id": true}', "integer 'id'"),
        (b'{"v": 99, "type": "ping", "id": 1}', "protocol version 99"),
        (b'{"v": 1, "type": "shutdown", "id": 1}', "unknown message type 'shutdown'"),
        (b'{"v": 1, "type": "plan", "id": 1, "model": "m"}', "non-empty string 'description'"),
        (b'{"v": 1, "type": "plan", "id": 1, "model": 3, "description": "x"}', "non-empty string 'model'"),
    ],
)
def test_malformed_requests_are_named(frame, match):
    with pytest.raises(protocol.ProtocolError, match=match) as caught:
        protocol.decode_request(frame)
    assert caught.value.code == protocol.MALFORMED


def test_overlong_description_and_bad_replies():
    with pytest.raises(protocol.ProtocolError, match="longer than"):
        protocol.decode_request(protocol.encode(protocol.PLAN, 1, model="m", description="x" * (protocol.MAX_DESCRIPTION_CHARS + 1)))
    with pytest.raises(protocol.ProtocolError, match="unknown code"):
        protocol.decode_reply(protocol.encode(protocol.ERROR, 1, code="oops", message=""))
    with pytest.raises(protocol.ProtocolError, match="bad 'result' fields"):
        protocol.plans_from_wire({"plans": [{"skills": 5}], "invalid": 0, "source": "llm"})
