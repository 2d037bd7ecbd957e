"""What the teacher knows about one rearrangement step, as plain arrays: :class:`RearrangeScene`.

Owns three things:

- the scene types: the head camera (pose, field of view), its depth image, the
  scene's objects and receptacles (handle, world position, size), the task's
  target, held object and goal receptacle, and the task's own observations
  (:class:`TaskObservations`, what the student sees too);
- reading a scene from JSON (the hand-built scenes under ``tests/data/``);
- the flat ``l4t_scene`` vector the simulator adapter emits every step and its
  decoding (handles travel as character codes, so the vector is a plain float
  observation that habitat's rollout storage and VectorEnv carry unchanged).

Conventions: world frame y up (habitat); the camera pose is camera-to-world
with the camera looking along its -z axis, y up, x right (habitat-sim /
OpenGL); depth is metres along the optical axis.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import numpy as np

PICK = "pick"
PLACE = "place"
TASKS = (PICK, PLACE)
ARM_JOINTS = 7
# A navmesh waypoint nearer than this (floor distance) marks the end of the path: the robot stands where the
# navmesh comes nearest the target, and navigation turns to the target itself (teacher/rearrange/reach.py).
# steering.py gives a nearer corner farther out along its bearing.
WAYPOINT_MIN_M = 0.15


class SceneError(ValueError):
    """A scene file or scene vector that cannot be read; the message names the field."""


@dataclass(frozen=True)
class SceneObject:
    handle: str  # simulator handle, e.g. 013_apple_:0000
    position: np.ndarray  # (3,) world position of its centre
    radius: float = 0.1  # half its largest extent: how far its visible surface may lie in front of the centre
    is_receptacle: bool = False


@dataclass(frozen=True)
class TaskObservations:
    """The task's own observations that the skills steer with (habitat's sensor uuids in comments)."""

    target_rel_ee: np.ndarray  # (3,) obj_start_sensor (pick) / obj_goal_sensor (place), end-effector frame
    joint: np.ndarray  # (7,) joint: arm joint angles
    is_holding: bool  # is_holding
    relative_resting_position: np.ndarray  # (3,) relative_resting_position: resting EE minus EE, base frame


@dataclass(frozen=True)
class RearrangeScene:
    task: str  # "pick" or "place"
    camera_pose: np.ndarray  # (4, 4) head camera to world
    hfov_deg: float  # head camera horizontal field of view
    depth: np.ndarray  # (H, W) head depth image, metres
    objects: tuple[SceneObject, ...]  # objects and receptacles of the scene (not the held one)
    target_handle: str  # the object to pick / to place
    held_handle: Optional[str]
    goal: Optional[SceneObject]  # the goal receptacle (place)
    obs: TaskObservations
    max_depth: float = 10.0  # depth readings at or beyond this mean "nothing in range"
    # The task's target point (pick: the object, place: its goal) in the robot's base frame, as the simulator
    # gives it; None in hand-built scenes, where the skills rotate the end-effector-frame sensor instead.
    target_base: Optional[np.ndarray] = None
    object_base: Optional[np.ndarray] = None  # the target object itself in the base frame (place: where it hangs)
    # The next point of the navmesh's shortest path from the robot to where it can stand nearest the target point,
    # in the base frame (None where the simulator gave none: hand-built scenes, or no path).
    waypoint_base: Optional[np.ndarray] = None


def _array(data: dict, key: str, shape: tuple[int, ...], where: str) -> np.ndarray:
    if key not in data:
        raise SceneError(f"{where}: missing '{key}'")
    value = np.asarray(data[key], dtype=np.float64)
    if value.shape != shape:
        raise SceneError(f"{where}: '{key}' has shape {value.shape}, expected {shape}")
    if not np.all(np.isfinite(value)):
        raise SceneError(f"{where}: '{key}' has non-finite values")
    return value


def _object(data: dict, where: str, is_receptacle: bool) -> SceneObject:
    if not isinstance(data.get("handle"), str):
        raise SceneError(f"{where}: missing string 'handle'")
    return SceneObject(data["handle"], _array(data, "position", (3,), where), float(data.get("radius", 0.1)), is_receptacle)


def scene_from_dict(data: dict[str, Any], where: str = "scene") -> RearrangeScene:
    """A scene from its JSON form (see tests/data/rearrange_scene_pick.json)."""
    task = data.get("task")
    if task not in TASKS:
        raise SceneError(f"{where}: 'task' must be one of {TASKS}, got {task!r}")
    camera = data.get("camera") or {}
    depth = np.asarray(data.get("depth", []), dtype=np.float64)
    if depth.ndim != 2 or depth.size == 0:
        raise SceneError(f"{where}: 'depth' must be a non-empty 2-D array (rows of metres), got shape {depth.shape}")
    objects = tuple(_object(o, f"{where}.objects[{i}]", False) for i, o in enumerate(data.get("objects", [])))
    objects += tuple(_object(o, f"{where}.receptacles[{i}]", True) for i, o in enumerate(data.get("receptacles", [])))
    goal = _object(data["goal_receptacle"], f"{where}.goal_receptacle", True) if data.get("goal_receptacle") else None
    obs = data.get("observations") or {}
    task_obs = TaskObservations(
        _array(obs, "target_rel_ee", (3,), f"{where}.observations"),
        _array(obs, "joint", (ARM_JOINTS,), f"{where}.observations"),
        bool(obs.get("is_holding", False)),
        _array(obs, "relative_resting_position", (3,), f"{where}.observations"),
    )
    hfov = float(camera.get("hfov_deg", 0))
    if not 0 < hfov < 180:
        raise SceneError(f"{where}.camera: 'hfov_deg' must be in (0, 180), got {hfov}")
    if not isinstance(data.get("target"), str):
        raise SceneError(f"{where}: missing string 'target' (the handle of the object to {task})")
    return RearrangeScene(
        task, _array(camera, "pose", (4, 4), f"{where}.camera"), hfov, depth, objects, data["target"],
        data.get("held"), goal, task_obs, float(camera.get("max_depth", 10.0)),
    )


def load_scene(path: str | Path) -> RearrangeScene:
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise SceneError(f"cannot read scene file '{path}': {error}") from error
    return scene_from_dict(data, where=str(path))


# -- the l4t_scene vector -------------------------------------------------------------------------------

MAX_OBJECTS = 16  # object/receptacle slots; the adapter keeps the nearest ones
HANDLE_CHARS = 64  # handles are cut to this many characters
_HEADER = (
    "task", "hfov_deg", "min_depth", "max_depth", "normalized_depth", "held", "has_goal",
    "has_target_base", "target_base_x", "target_base_y", "target_base_z", "object_base_x", "object_base_y", "object_base_z",
    "has_waypoint", "waypoint_base_x", "waypoint_base_y", "waypoint_base_z",
)
_SLOT = 1 + 1 + 3 + 1 + HANDLE_CHARS  # valid, is_receptacle, position, radius, handle characters
_POSE = 16
SCENE_VECTOR_SIZE = len(_HEADER) + _POSE + _SLOT * (MAX_OBJECTS + 2)  # + target/held slot, goal slot


def _encode_handle(handle: str) -> np.ndarray:
    codes = np.zeros(HANDLE_CHARS, dtype=np.float32)
    data = handle.encode("ascii", errors="replace")[:HANDLE_CHARS]
    codes[: len(data)] = np.frombuffer(data, dtype=np.uint8)
    return codes


def _decode_handle(codes: np.ndarray) -> str:
    codes = np.asarray(codes)
    # Whole-array conversion: a character-by-character loop was 70 % of the teacher's per-step perception.
    return codes[codes > 0].astype(np.uint8).tobytes().decode("ascii", errors="replace")


def _encode_slot(obj: Optional[SceneObject]) -> np.ndarray:
    slot = np.zeros(_SLOT, dtype=np.float32)
    if obj is not None:
        slot[0], slot[1], slot[2:5], slot[5] = 1.0, float(obj.is_receptacle), obj.position, obj.radius
        slot[6:] = _encode_handle(obj.handle)
    return slot


def _decode_slot(slot: np.ndarray) -> Optional[SceneObject]:
    if slot[0] < 0.5:
        return None
    return SceneObject(_decode_handle(slot[6:]), slot[2:5].astype(np.float64), float(slot[5]), bool(slot[1] > 0.5))


def encode_scene(
    task: str, camera_pose: np.ndarray, hfov_deg: float, max_depth: float, objects: list[SceneObject],
    target: SceneObject, held: bool, goal: Optional[SceneObject], min_depth: float = 0.0, normalized_depth: bool = False,
    target_base: Optional[np.ndarray] = None, object_base: Optional[np.ndarray] = None,
    waypoint_base: Optional[np.ndarray] = None,
) -> np.ndarray:
    """The flat ``l4t_scene`` observation [SCENE_VECTOR_SIZE].

    ``objects`` beyond MAX_OBJECTS are dropped (pass them nearest first). ``min_depth``,
    ``max_depth`` and ``normalized_depth`` describe the head depth sensor, so the decoder
    can turn its observation back into metres. ``target_base``: the task's target point in the
    robot's base frame, from the simulator; ``object_base``: the target object's own position there (both or neither);
    ``waypoint_base``: where to steer the base next along the navmesh path toward the target point
    (``steering.py``), there too.
    """
    if task not in TASKS:
        raise SceneError(f"task must be one of {TASKS}, got {task!r}")
    header = np.array(
        [TASKS.index(task), hfov_deg, min_depth, max_depth, float(normalized_depth), float(held), float(goal is not None),
         float(target_base is not None),
         *(np.zeros(6) if target_base is None else np.concatenate([target_base, object_base]).astype(np.float64)),
         float(waypoint_base is not None), *(np.zeros(3) if waypoint_base is None else np.asarray(waypoint_base, dtype=np.float64))],
        dtype=np.float32,
    )
    slots = [_encode_slot(target), _encode_slot(goal)] + [_encode_slot(o) for o in objects[:MAX_OBJECTS]]
    slots += [_encode_slot(None)] * (MAX_OBJECTS + 2 - len(slots))
    return np.concatenate([header, np.asarray(camera_pose, dtype=np.float32).reshape(-1), *slots])


def decode_scene(vector: np.ndarray, depth: np.ndarray, obs: TaskObservations) -> RearrangeScene:
    """Inverse of :func:`encode_scene`, with the step's head depth observation ((H, W) or (H, W, 1)) and task observations."""
    vector = np.asarray(vector, dtype=np.float32)
    if vector.shape != (SCENE_VECTOR_SIZE,):
        raise SceneError(f"l4t_scene has shape {vector.shape}, expected ({SCENE_VECTOR_SIZE},)")
    task_index, hfov, min_depth, max_depth, normalized, held, has_goal, has_target_base = vector[:8]
    target_base = vector[8:11].astype(np.float64) if has_target_base > 0.5 else None
    object_base = vector[11:14].astype(np.float64) if has_target_base > 0.5 else None
    waypoint_base = vector[15:18].astype(np.float64) if vector[14] > 0.5 else None
    depth = np.asarray(depth, dtype=np.float64)
    depth = depth[..., 0] if depth.ndim == 3 else depth
    if normalized > 0.5:  # habitat's depth sensors scale [min_depth, max_depth] to [0, 1] by default
        depth = min_depth + depth * (max_depth - min_depth)
    pose = vector[len(_HEADER) : len(_HEADER) + _POSE].reshape(4, 4).astype(np.float64)
    slots = vector[len(_HEADER) + _POSE :].reshape(MAX_OBJECTS + 2, _SLOT)
    target = _decode_slot(slots[0])
    if target is None:
        raise SceneError("l4t_scene has no target object")
    goal = _decode_slot(slots[1]) if has_goal > 0.5 else None
    objects = tuple(o for o in (_decode_slot(s) for s in slots[2:]) if o is not None)
    held_handle = target.handle if held > 0.5 else None
    if held_handle is None and all(o.handle != target.handle for o in objects):
        objects = (target, *objects)
    return RearrangeScene(
        TASKS[int(round(float(task_index)))], pose, float(hfov), depth, objects,
        target.handle, held_handle, goal, obs, float(max_depth), target_base, object_base, waypoint_base,
    )
