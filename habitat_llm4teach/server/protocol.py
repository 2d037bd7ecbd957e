"""The teacher server's wire format: message types, their fields, encoding and validation.

Owns what travels between :mod:`client` and :mod:`server`. Every message is one
ZeroMQ frame holding a JSON object with ``v`` (protocol version), ``type`` and
``id`` (the client's request id, echoed in the reply; ``null`` only in an error
about a message whose id could not be read). Client -> server:

- ``plan``: ``model`` (the model the client expects), ``prompts`` (the prompt
  set: ``minigrid`` or ``rearrange``, teachers.py), and the query whole
  (``teacher/types.PlanQuery``): ``description``, ``candidates`` (the next
  skills offered, ``[[skill, target or null], ...]``) and ``targets`` (per
  skill, the names a plan step may target) -> ``result`` or ``error``. The
  server never reads the description back into a scene.
- ``ping``: the heartbeat -> ``pong`` with the server's ``model``, ``pid`` and
  cumulative ``stats``.
- ``save``: persist the plan cache now -> ``saved``.

Server -> client: ``result`` (``plans``: list of {``skills``: [[skill, target]],
``prob``}, ``invalid``, ``source``: ``llm``/``cache``), ``pong``, ``saved``, and
``error`` (``code``, one of :data:`ERROR_CODES`, and a readable ``message``).

Versions: a message of another protocol version is answered with a ``version``
error written in the sender's version where it can be read, and a client that
receives a reply of another version gives up at once with a clear message,
rather than waiting for a server it cannot talk to.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Optional

from habitat_llm4teach.teacher.types import Plan, PlanDistribution, PlanQuery, SkillCall

VERSION = 2  # 2: plan requests carry the prompt set and the whole query (candidates, targets)

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
MALFORMED = "malformed"  # not JSON, not an object, unknown type or a missing / mistyped field
VERSION_MISMATCH = "version"  # the message speaks another protocol version
UNKNOWN_MODEL = "unknown_model"  # the request names a model the server does not serve
UNKNOWN_PROMPTS = "unknown_prompts"  # the request names a prompt set the server does not have
BAD_CANDIDATES = "bad_candidates"  # candidates or targets that do not parse, or name skills outside the prompt set
TOO_LARGE = "too_large"  # a description, candidate list or target list over the limits below
QUEUE_FULL = "queue_full"  # too many descriptions waiting; ask again later
INTERNAL = "internal"  # the backend failed on this batch
ERROR_CODES = (MALFORMED, VERSION_MISMATCH, UNKNOWN_MODEL, UNKNOWN_PROMPTS, BAD_CANDIDATES, TOO_LARGE, QUEUE_FULL, INTERNAL)

MAX_DESCRIPTION_CHARS = 4096
MAX_CANDIDATES = 256  # candidates per request, and targets per skill
MAX_NAME_CHARS = 256  # a skill or target name


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


def encode(type_: str, request_id: Optional[int], version: object = VERSION, **fields: Any) -> bytes:
    """One frame; ``version`` other than ours only for the error that answers a message of another version."""
    return json.dumps({"v": version, "type": type_, "id": request_id, **fields}, separators=(",", ":")).encode()


def _decode(frame: bytes, allowed: tuple[str, ...]) -> Message:
    try:
        data = json.loads(frame)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ProtocolError(MALFORMED, f"message is not JSON: {error}") from error
    if not isinstance(data, dict):
        raise ProtocolError(MALFORMED, f"message must be a JSON object, got {type(data).__name__}")
    request_id = data.get("id")
    if data.get("v") != VERSION:  # first: another version may number its messages differently
        raise ProtocolError(
            VERSION_MISMATCH,
            f"the other side speaks teacher-server protocol version {data.get('v')!r}, this side speaks {VERSION}: run "
            "the trainer and the server from the same habitat-llm4teach version",
            request_id if isinstance(request_id, int) and not isinstance(request_id, bool) else None,
        )
    # An error about a message whose id could not be read carries none.
    unnumbered_error = request_id is None and data.get("type") == ERROR and ERROR in allowed
    if not unnumbered_error and (not isinstance(request_id, int) or isinstance(request_id, bool)):
        raise ProtocolError(MALFORMED, f"message needs an integer 'id', got {request_id!r}")
    if data.get("type") not in allowed:
        raise ProtocolError(MALFORMED, f"unknown message type {data.get('type')!r}; expected one of {allowed}", request_id)
    return Message(data["type"], request_id, {k: v for k, v in data.items() if k not in ("v", "type", "id")})


def version_of(frame: bytes) -> object:
    """The protocol version a frame claims (None where it cannot be read): to answer it in its own version."""
    try:
        data = json.loads(frame)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None
    return data.get("v") if isinstance(data, dict) else None


def decode_request(frame: bytes) -> Message:
    """A client message, validated; :class:`ProtocolError` (with the code to reply) otherwise."""
    message = _decode(frame, REQUEST_TYPES)
    if message.type == PLAN:
        for name in ("model", "prompts", "description"):
            value = message.fields.get(name)
            if not isinstance(value, str) or not value:
                raise ProtocolError(MALFORMED, f"'plan' needs a non-empty string '{name}', got {value!r}", message.id)
        if len(message.fields["description"]) > MAX_DESCRIPTION_CHARS:
            raise ProtocolError(TOO_LARGE, f"description longer than {MAX_DESCRIPTION_CHARS} characters", message.id)
        for name, kind in (("candidates", list), ("targets", dict)):
            if not isinstance(message.fields.get(name), kind):
                raise ProtocolError(
                    MALFORMED, f"'plan' needs '{name}' as a JSON {kind.__name__}, got {message.fields.get(name)!r}", message.id
                )
    return message


def _name(value: object, what: str) -> str:
    if not isinstance(value, str) or not value or len(value) > MAX_NAME_CHARS:
        raise ValueError(f"{what} must be a non-empty string of at most {MAX_NAME_CHARS} characters, got {value!r}")
    return value


def query_from_wire(fields: dict[str, Any], skills: tuple[str, ...]) -> PlanQuery:
    """A validated plan request's query; ProtocolError (``too_large`` / ``bad_candidates``) when its candidates or
    targets do not parse or name a skill outside ``skills`` (the prompt set's vocabulary)."""
    candidates, targets = fields["candidates"], fields["targets"]
    if len(candidates) > MAX_CANDIDATES or len(targets) > MAX_CANDIDATES or any(
        isinstance(t, list) and len(t) > MAX_CANDIDATES for t in targets.values()
    ):
        raise ProtocolError(TOO_LARGE, f"more than {MAX_CANDIDATES} candidates or targets per skill")
    try:
        if not candidates:
            raise ValueError("no candidate skills")
        calls = []
        for entry in candidates:
            if not isinstance(entry, list) or len(entry) != 2:
                raise ValueError(f"a candidate is [skill, target or null], got {entry!r}")
            skill, target = _name(entry[0], "a candidate's skill"), entry[1]
            calls.append(SkillCall(skill, None if target is None else _name(target, "a candidate's target")))
        names = {}
        for skill, values in targets.items():
            if not isinstance(values, list):
                raise ValueError(f"the targets of '{skill}' must be a list, got {values!r}")
            names[skill] = [_name(v, f"a target of '{skill}'") for v in values]
        unknown = sorted(({c.skill for c in calls} | set(names)) - set(skills))
        if unknown:
            raise ValueError(f"skills {unknown} are not in this prompt set's vocabulary {skills}")
    except ValueError as error:
        raise ProtocolError(BAD_CANDIDATES, str(error)) from error
    return PlanQuery.make(fields["description"], calls, names)


def query_to_wire(query: PlanQuery) -> dict[str, Any]:
    return {
        "description": query.description,
        "candidates": [[c.skill, c.target] for c in query.candidates],
        "targets": {skill: list(names) for skill, names in query.targets},
    }


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
