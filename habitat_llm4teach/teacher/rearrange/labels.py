"""Labelled pick/place situations (JSON rows) -> perceptions, for measuring the rearrange prompt.

Owns the row format of ``tests/data/rearrange_plan_labels.jsonl``: a situation is
stored as the perception it stands for, not as text, so its description and
candidate skills come from describe.py exactly as a real query's do::

    {"task": "pick", "target": "apple", "holding": false,
     "objects": [{"name": "apple", "distance": 1.4, "bearing_deg": 20, "radius": 0.05}],
     "goal": null, "label": "navigate to apple", "why": "..."}

``objects`` entries may set ``"receptacle": true``; ``goal`` (place tasks) is an
object with ``"visible"``. ``label`` is the correct next skill.

Rows recorded on the simulator (``scripts/probe_rearrange_skills.py --record-labels``,
:func:`row_from_perception`) also carry what the skills read, so a recorded situation
offers the same candidate skills as it did in the simulator: ``target_object`` (the task's
target as its sensor locates it, seen or not), ``target_base`` / ``object_base`` (base
frame, metres), ``waypoint_base`` (the navmesh path's next point, there too) and ``obs``
(the task's own observations).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Optional

import numpy as np

from habitat_llm4teach.envs.rearrange.scene import PLACE, TASKS, TaskObservations
from habitat_llm4teach.teacher.rearrange.perception import RearrangePerception, SeenObject

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


def _array(row: dict[str, Any], key: str) -> Optional[np.ndarray]:
    value = row.get(key)
    return None if value is None else np.asarray(value, dtype=np.float64)


def _task_observations(spec: Optional[dict[str, Any]]) -> TaskObservations:
    if spec is None:
        return _REST
    try:
        return TaskObservations(
            np.asarray(spec["target_rel_ee"], dtype=np.float64), np.asarray(spec["joint"], dtype=np.float64),
            bool(spec["is_holding"]), np.asarray(spec["relative_resting_position"], dtype=np.float64),
        )
    except (KeyError, TypeError, ValueError) as error:
        raise LabelError(f"obs {spec!r} needs target_rel_ee, joint, is_holding, relative_resting_position ({error})") from error


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
    objects = tuple(sorted((_seen(o) for o in row.get("objects", [])), key=lambda o: (round(o.distance, 3), o.name)))
    if row.get("target_object"):
        target_object = _seen(row["target_object"])
    else:  # hand-made rows: the target is where it is seen (as perceive() has it), else not located
        target_object = None if held else next((o for o in objects if o.name == target), None)
    return RearrangePerception(
        row["task"], objects, held, goal, target, _task_observations(row.get("obs")), _array(row, "target_base"),
        target_object, _array(row, "object_base"), _array(row, "waypoint_base"),
    )


def _spec(obj: SeenObject) -> dict[str, Any]:
    spec: dict[str, Any] = {"name": obj.name, "distance": round(obj.distance, 4),
                            "bearing_deg": round(math.degrees(obj.bearing), 3), "radius": round(obj.radius, 4)}
    if obj.is_receptacle:
        spec["receptacle"] = True
    if not obj.visible:
        spec["visible"] = False
    return spec


def _listed(value: Optional[np.ndarray]) -> Optional[list[float]]:
    return None if value is None else [round(float(v), 5) for v in np.asarray(value).ravel()]


def row_from_perception(perception: RearrangePerception, label: str, why: str = "") -> dict[str, Any]:
    """A row that :func:`perception_from_row` turns back into ``perception`` (up to rounding)."""
    obs = perception.obs
    return {
        "task": perception.task, "target": perception.target, "holding": perception.holding is not None,
        "objects": [_spec(o) for o in perception.objects],
        "goal": _spec(perception.goal) if perception.goal is not None else None,
        "target_object": _spec(perception.target_object) if perception.target_object is not None else None,
        "target_base": _listed(perception.target_base), "object_base": _listed(perception.object_base),
        "waypoint_base": _listed(perception.waypoint_base),
        "obs": {"target_rel_ee": _listed(obs.target_rel_ee), "joint": _listed(obs.joint), "is_holding": bool(obs.is_holding),
                "relative_resting_position": _listed(obs.relative_resting_position)},
        "label": label, "why": why,
    }


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
