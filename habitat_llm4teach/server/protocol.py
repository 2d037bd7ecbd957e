"""The teacher server's wire format: message types, their fields, encoding and validation.

Owns what travels between :mod:`client` and :mod:`server`. Every message is one
ZeroMQ frame holding a JSON object with ``v`` (protocol version), ``type`` and
``id`` (the client's request id, echoed in the reply; ``null`` only in an error
about a message whose id could not be read). Client -> server:

- ``plan``: ``model`` (the model the client expects), ``description`` (text as
  ``teacher/minigrid/describe.py`` writes it) -> ``result`` or ``error``.
- ``ping``: the heartbeat -> ``pong`` with the server's ``model``, ``pid`` and
  cumulative ``stats``.
- ``save``: persist the plan cache now -> ``saved``.

Server -> client: ``result`` (``plans``: list of {``skills``: [[skill, target]],
``prob``}, ``invalid``, ``source``: ``llm``/``cache``), ``pong``, ``saved``, and
``error`` (``code``, one of :data:`ERROR_CODES`, and a readable ``message``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Optional

from habitat_llm4teach.teacher.types import Plan, PlanDistribution, SkillCall

VERSION = 1

# Message types.
PLAN = "plan"
PING = "ping"
SAVE = "save"
RESULT = "result"
PONG = "pong"
SAVED = "saved"
ERROR = "error"
REQUEST_TYPES = (PLAN, PING, SAVE)
REPLY_TYPES = (RESULT, PONG, SAVED, ERROR)

# Error codes of ``error`` replies.
MALFORMED = "malformed"  # not JSON, not an object, wrong version, unknown type or bad field
UNKNOWN_MODEL = "unknown_model"  # the request names a model the server does not serve
BAD_DESCRIPTION = "bad_description"  # text that is not a description (teacher/minigrid/scene.py)
QUEUE_FULL = "queue_full"  # too many descriptions waiting; ask again later
INTERNAL = "internal"  # the backend failed on this batch
ERROR_CODES = (MALFORMED, UNKNOWN_MODEL, BAD_DESCRIPTION, QUEUE_FULL, INTERNAL)

MAX_DESCRIPTION_CHARS = 4096


class ProtocolError(ValueError):
    """A message that breaks the protocol; ``code`` is the error code to answer with."""

    def __init__(self, code: str, message: str, request_id: Optional[int] = None) -> None:
        super().__init__(message)
        self.code = code
        self.request_id = request_id


@dataclass(frozen=True)
class Message:
    type: str
    id: Optional[int]
    fields: dict[str, Any] = field(default_factory=dict)


def encode(type_: str, request_id: Optional[int], **fields: Any) -> bytes:
    return json.dumps({"v": VERSION, "type": type_, "id": request_id, **fields}, separators=(",", ":")).encode()


def _decode(frame: bytes, allowed: tuple[str, ...]) -> Message:
    try:
        data = json.loads(frame)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ProtocolError(MALFORMED, f"message is not JSON: {error}") from error
    if not isinstance(data, dict):
        raise ProtocolError(MALFORMED, f"message must be a JSON object, got {type(data).__name__}")
    request_id = data.get("id")
    # An error about a message whose id could not be read carries none.
    unnumbered_error = request_id is None and data.get("type") == ERROR and ERROR in allowed
    if not unnumbered_error and (not isinstance(request_id, int) or isinstance(request_id, bool)):
        raise ProtocolError(MALFORMED, f"message needs an integer 'id', got {request_id!r}")
    if data.get("v") != VERSION:
        raise ProtocolError(MALFORMED, f"protocol version {data.get('v')!r}, this side speaks {VERSION}", request_id)
    if data.get("type") not in allowed:
        raise ProtocolError(MALFORMED, f"unknown message type {data.get('type')!r}; expected one of {allowed}", request_id)
    return Message(data["type"], request_id, {k: v for k, v in data.items() if k not in ("v", "type", "id")})


def decode_request(frame: bytes) -> Message:
    """A client message, validated; :class:`ProtocolError` (with the code to reply) otherwise."""
    message = _decode(frame, REQUEST_TYPES)
    if message.type == PLAN:
        for name in ("model", "description"):
            value = message.fields.get(name)
            if not isinstance(value, str) or not value:
                raise ProtocolError(MALFORMED, f"'plan' needs a non-empty string '{name}', got {value!r}", message.id)
        if len(message.fields["description"]) > MAX_DESCRIPTION_CHARS:
            raise ProtocolError(MALFORMED, f"description longer than {MAX_DESCRIPTION_CHARS} characters", message.id)
    return message


def decode_reply(frame: bytes) -> Message:
    message = _decode(frame, REPLY_TYPES)
    if message.type == ERROR and message.fields.get("code") not in ERROR_CODES:
        raise ProtocolError(MALFORMED, f"error reply with unknown code {message.fields.get('code')!r}", message.id)
    return message


def plans_to_wire(answer: PlanDistribution) -> dict[str, Any]:
    plans = [{"skills": [[s.skill, s.target] for s in p.steps], "prob": p.prob} for p in answer.plans]
    return {"plans": plans, "invalid": answer.invalid, "source": answer.source}


def plans_from_wire(fields: dict[str, Any]) -> PlanDistribution:
    try:
        plans = tuple(
            Plan(tuple(SkillCall(skill, target) for skill, target in p["skills"]), float(p["prob"])) for p in fields["plans"]
        )
        return PlanDistribution(plans, int(fields["invalid"]), str(fields["source"]))
    except (KeyError, TypeError, ValueError) as error:
        raise ProtocolError(MALFORMED, f"bad 'result' fields: {type(error).__name__}: {error}") from error
