"""Scene -> :class:`RearrangePerception`: what the robot's head camera sees now, plus what it holds and its goal.

Owns the visibility test, as pure functions over plain arrays: an object is
seen when its centre projects inside the image (pinhole camera from the pose
and horizontal field of view), lies in front of the camera within depth range,
and is not occluded: the depth image at its pixel is not nearer than its own
depth by more than its radius plus ``OCCLUSION_TOLERANCE_M`` (its own front
surface may hide its centre). Positions are given relative to the robot on the
floor plane: horizontal distance and bearing from the camera's heading (the
Fetch head camera is fixed to the base, so its heading is the robot's).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

import numpy as np

from habitat_llm4teach.envs.rearrange.scene import PICK, RearrangeScene, SceneObject, TaskObservations
from habitat_llm4teach.teacher.rearrange.names import unique_names

OCCLUSION_TOLERANCE_M = 0.05
NEAR_CLIP_M = 0.05


@dataclass(frozen=True)
class SeenObject:
    """A perceived object, named as the LLM reads it, with where it is relative to the robot."""

    name: str
    handle: str
    is_receptacle: bool
    distance: float  # metres on the floor plane from the head camera
    bearing: float  # radians from the robot's heading, positive to the left
    visible: bool  # in the head camera's view now (the held object and the goal may not be)
    radius: float = 0.0  # half its largest extent (receptacles are reached at their edge)


@dataclass(frozen=True)
class RearrangePerception:
    task: str
    objects: tuple[SeenObject, ...]  # visible now, not held; nearest first
    holding: Optional[SeenObject]
    goal: Optional[SeenObject]  # the goal receptacle, seen or not
    target: str  # name of the object to pick / place
    obs: TaskObservations
    target_base: Optional[np.ndarray] = None  # the task's target point in the base frame, from the simulator
    # The task's target object, seen or not (the task's sensors locate it; near the gripper the arm hides it);
    # None while held.
    target_object: Optional[SeenObject] = None
    object_base: Optional[np.ndarray] = None  # the target object in the base frame, from the simulator
    waypoint_base: Optional[np.ndarray] = None  # where to steer the base next toward the target point (envs/rearrange/steering.py)

    @property
    def mission(self) -> str:
        if self.task == PICK:
            return f"pick the {self.target}"
        goal = self.goal.name if self.goal is not None else "its goal"
        return f"place the {self.target} on the {goal}"

    def find(self, name: str) -> Optional[SeenObject]:
        """The seen object of that name, else the goal receptacle or the target object of that name."""
        for obj in (*self.objects, self.goal, self.target_object):
            if obj is not None and obj.name == name:
                return obj
        return None


def rigid_inverse(pose: np.ndarray) -> np.ndarray:
    """The inverse of a 4x4 pose; in closed form (rotation transposed) when it is a rotation and a translation.

    A camera's pose always is. ``np.linalg.inv`` goes through LAPACK, and in the trainer, beside env workers busy on
    every core, it took over half the teacher's time per step on pick (py-spy), waiting on BLAS threads.
    """
    rotation = pose[:3, :3]
    if not np.allclose(rotation @ rotation.T, np.eye(3), atol=1e-5):
        return np.linalg.inv(pose)
    inverse = np.eye(4)
    inverse[:3, :3] = rotation.T
    inverse[:3, 3] = -rotation.T @ pose[:3, 3]
    return inverse


def camera_points(points_world: np.ndarray, camera_pose: np.ndarray) -> np.ndarray:
    """World points [N, 3] in the camera frame [N, 3] (camera looks along -z)."""
    world_to_camera = rigid_inverse(camera_pose)
    homogeneous = np.c_[points_world, np.ones(len(points_world))]
    return (homogeneous @ world_to_camera.T)[:, :3]


def project(points_camera: np.ndarray, hfov_deg: float, width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel coordinates [N, 2] (column, row) and depth along the optical axis [N] of camera-frame points."""
    focal = (width / 2.0) / math.tan(math.radians(hfov_deg) / 2.0)  # square pixels: one focal length
    depth = -points_camera[:, 2]
    safe = np.where(depth > 1e-9, depth, np.nan)
    col = width / 2.0 + focal * points_camera[:, 0] / safe
    row = height / 2.0 - focal * points_camera[:, 1] / safe
    return np.stack([col, row], axis=1), depth


def visible_mask(
    points_world: np.ndarray, radii: np.ndarray, camera_pose: np.ndarray, hfov_deg: float, depth_image: np.ndarray,
    max_depth: float = 10.0, tolerance: float = OCCLUSION_TOLERANCE_M,
) -> np.ndarray:
    """Which points [N] are in the view frustum, within range and not occluded in ``depth_image`` (H, W, metres)."""
    points_world = np.asarray(points_world, dtype=np.float64).reshape(-1, 3)
    height, width = depth_image.shape
    pixels, depth = project(camera_points(points_world, camera_pose), hfov_deg, width, height)
    in_front = (depth > NEAR_CLIP_M) & (depth < max_depth)
    cols = np.floor(np.nan_to_num(pixels[:, 0], nan=-1.0)).astype(int)
    rows = np.floor(np.nan_to_num(pixels[:, 1], nan=-1.0)).astype(int)
    in_image = in_front & (cols >= 0) & (cols < width) & (rows >= 0) & (rows < height)
    seen_depth = np.full(len(points_world), np.inf)
    seen_depth[in_image] = depth_image[rows[in_image], cols[in_image]]
    return in_image & (seen_depth >= depth - (np.asarray(radii, dtype=np.float64) + tolerance))


def floor_offset(points_world: np.ndarray, camera_pose: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distance [N] and bearing [N] (radians, + left) on the floor plane from the camera's position and heading."""
    points_world = np.asarray(points_world, dtype=np.float64).reshape(-1, 3)
    forward = -camera_pose[:3, 2].copy()
    forward[1] = 0.0  # world y is up
    norm = np.linalg.norm(forward)
    if norm < 1e-6:
        raise ValueError("the camera looks straight up or down: its heading on the floor is undefined")
    forward /= norm
    left = np.array([forward[2], 0.0, -forward[0]])  # forward rotated +90 degrees about +y
    offset = points_world - camera_pose[:3, 3]
    ahead, leftward = offset @ forward, offset @ left
    return np.hypot(ahead, leftward), np.arctan2(leftward, ahead)


def _seen(objects: list[SceneObject], names: dict[str, str], scene: RearrangeScene, visible: np.ndarray) -> list[SeenObject]:
    if not objects:
        return []
    distance, bearing = floor_offset(np.stack([o.position for o in objects]), scene.camera_pose)
    return [
        SeenObject(names[o.handle], o.handle, o.is_receptacle, float(d), float(b), bool(v), o.radius)
        for o, d, b, v in zip(objects, distance, bearing, visible)
    ]


def perceive(scene: RearrangeScene) -> RearrangePerception:
    """The visible objects and receptacles (nearest first), the held object and the goal receptacle."""
    objects = [o for o in scene.objects if o.handle != scene.held_handle]
    handles = [o.handle for o in objects] + ([scene.goal.handle] if scene.goal is not None else [])
    if scene.held_handle is not None:
        handles.append(scene.held_handle)
    names = unique_names(sorted(set(handles + [scene.target_handle])))
    visible = (
        visible_mask(
            np.stack([o.position for o in objects]), np.array([o.radius for o in objects]), scene.camera_pose,
            scene.hfov_deg, scene.depth, scene.max_depth,
        )
        if objects else np.zeros(0, dtype=bool)
    )
    seen = [s for s in _seen(objects, names, scene, visible) if s.visible]
    seen.sort(key=lambda s: (round(s.distance, 3), s.name))
    goal = None
    if scene.goal is not None:
        goal_visible = visible_mask(
            scene.goal.position[None], np.array([scene.goal.radius]), scene.camera_pose, scene.hfov_deg, scene.depth,
            scene.max_depth,
        )
        goal = _seen([scene.goal], names, scene, goal_visible)[0]
        seen = [s for s in seen if s.handle != goal.handle]
    target_object = None
    if scene.held_handle != scene.target_handle:
        target = next(o for o in objects if o.handle == scene.target_handle)
        target_object = next((s for s in seen if s.handle == target.handle), None)
        if target_object is None:
            target_object = _seen([target], names, scene, np.zeros(1, dtype=bool))[0]
    holding = None
    if scene.held_handle is not None:
        holding = SeenObject(names[scene.held_handle], scene.held_handle, False, 0.0, 0.0, False)
    return RearrangePerception(
        scene.task, tuple(seen), holding, goal, names[scene.target_handle], scene.obs, scene.target_base, target_object,
        scene.object_base, scene.waypoint_base,
    )
