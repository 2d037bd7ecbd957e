"""Labelled pick/place situations (JSON rows) -> perceptions, for measuring the rearrange prompt.

Owns the row format of ``tests/data/rearrange_plan_labels.jsonl``: a situation is
stored as the perception it stands for, not as text, so its description and
candidate skills come from describe.py exactly as a real query's do::

    {"task": "pick", "target": "apple", "holding": false,
     "objects": [{"name": "apple", "distance": 1.4, "bearing_deg": 20, "radius": 0.05}],
     "goal": null, "label": "navigate to apple", "why": "..."}

``objects`` entries may set ``"receptacle": true``; ``goal`` (place tasks) is an
object with ``"visible"``. ``label`` is the correct next skill.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from habitat_llm4teach.envs.rearrange.perception import RearrangePerception, SeenObject
from habitat_llm4teach.envs.rearrange.scene import PLACE, TASKS, TaskObservations

_REST = TaskObservations(np.zeros(3), np.zeros(7), False, np.zeros(3))


class LabelError(ValueError):
    """A labelled row that does not describe a situation."""


def _seen(spec: dict[str, Any], receptacle: bool = False, visible: bool = True) -> SeenObject:
    try:
        return SeenObject(
            spec["name"], spec["name"], bool(spec.get("receptacle", receptacle)), float(spec["distance"]),
            math.radians(float(spec["bearing_deg"])), bool(spec.get("visible", visible)), float(spec.get("radius", 0.0)),
        )
    except (KeyError, TypeError, ValueError) as error:
        raise LabelError(f"object {spec!r} needs name, distance and bearing_deg ({error})") from error


def perception_from_row(row: dict[str, Any]) -> RearrangePerception:
    """The perception a labelled row stands for."""
    if row.get("task") not in TASKS:
        raise LabelError(f"task must be one of {TASKS}, got {row.get('task')!r}")
    target = row.get("target")
    if not target:
        raise LabelError(f"row has no target: {row!r}")
    goal = _seen(row["goal"], receptacle=True) if row.get("goal") else None
    if row["task"] == PLACE and goal is None:
        raise LabelError(f"a place row needs a goal: {row!r}")
    held = SeenObject(target, target, False, 0.0, 0.0, False) if row.get("holding") else None
    objects = tuple(sorted((_seen(o) for o in row.get("objects", [])), key=lambda o: o.distance))
    return RearrangePerception(row["task"], objects, held, goal, target, _REST)


def load_rows(path: Path) -> list[dict[str, Any]]:
    rows = []
    for number, line in enumerate(Path(path).read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as error:
            raise LabelError(f"{path}:{number}: not JSON ({error})") from error
        if "label" not in row:
            raise LabelError(f"{path}:{number}: no label")
        rows.append(row)
    return rows
