"""Writes the hand-built rearrangement scenes next to this file (rearrange_scene_{pick,place}.json).

A room drawn with boxes: the depth image is ray-cast against the floor, a table, a
kitchen counter and a wall that hides a cracker box; object positions, the camera and
the task observations (from the Fetch arm model at habitat's initial arm pose) are
consistent with each other. Rerun after changing the layout:
``python tests/data/make_rearrange_scenes.py``.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from habitat_llm4teach.teacher.rearrange.kinematics import FETCH_ARM_INIT, forward_kinematics
from habitat_llm4teach.teacher.rearrange.skills import DESIRED_RESTING

HERE = Path(__file__).resolve().parent
WIDTH, HEIGHT, HFOV, MAX_DEPTH = 32, 24, 90.0, 10.0
CAMERA_HEIGHT, CAMERA_AHEAD, PITCH_DEG = 1.2, 0.25, -20.0  # Fetch head camera: 0.25 m ahead of the base, 1.2 m up
# Axis-aligned boxes (min corner, max corner), world frame, y up; the robot faces -z from the origin.
BOXES = {
    "table": ((-0.7, 0.0, -1.7), (0.5, 0.75, -0.9)),
    "counter": ((1.0, 0.0, -2.4), (1.6, 0.9, -1.0)),
    "wall": ((-1.6, 0.0, -2.6), (-0.9, 2.0, -2.4)),
}


def camera_pose() -> np.ndarray:
    pitch = math.radians(PITCH_DEG)
    rotation = np.array([[1, 0, 0], [0, math.cos(pitch), -math.sin(pitch)], [0, math.sin(pitch), math.cos(pitch)]])
    pose = np.eye(4)
    pose[:3, :3] = rotation
    pose[:3, 3] = (0.0, CAMERA_HEIGHT, -CAMERA_AHEAD)
    return pose


def _ray_box(origin: np.ndarray, direction: np.ndarray, lo, hi) -> float:
    with np.errstate(divide="ignore", invalid="ignore"):
        t1, t2 = (np.array(lo) - origin) / direction, (np.array(hi) - origin) / direction
    near, far = np.nanmax(np.minimum(t1, t2)), np.nanmin(np.maximum(t1, t2))
    return near if near <= far and near > 0 else math.inf


def depth_image(pose: np.ndarray) -> np.ndarray:
    focal = (WIDTH / 2) / math.tan(math.radians(HFOV) / 2)
    depth = np.full((HEIGHT, WIDTH), MAX_DEPTH)
    for row in range(HEIGHT):
        for col in range(WIDTH):
            ray_cam = np.array([(col + 0.5 - WIDTH / 2) / focal, -(row + 0.5 - HEIGHT / 2) / focal, -1.0])
            direction = pose[:3, :3] @ ray_cam
            origin = pose[:3, 3]
            hits = [_ray_box(origin, direction, lo, hi) for lo, hi in BOXES.values()]
            if direction[1] < 0:
                hits.append(-origin[1] / direction[1])  # the floor
            t = min(hits)
            depth[row, col] = min(t, MAX_DEPTH)  # ray_cam has unit -z: t is depth along the optical axis
    return np.round(depth, 3)


def task_observations(target_world: np.ndarray, holding: bool) -> dict:
    arm = forward_kinematics(FETCH_ARM_INIT)
    # Base frame (x forward, y left, z up) of a robot at the world origin facing -z.
    target_base = np.array([-target_world[2], -target_world[0], target_world[1]])
    return {
        "target_rel_ee": np.round(arm.ee_rotation.T @ (target_base - arm.ee_position), 4).tolist(),
        "joint": FETCH_ARM_INIT.tolist(),
        "is_holding": holding,
        "relative_resting_position": np.round(DESIRED_RESTING - arm.ee_position, 4).tolist(),
    }


def scene(task: str) -> dict:
    pose = camera_pose()
    objects = [
        {"handle": "013_apple_:0000", "position": [-0.35, 0.8, -1.3], "radius": 0.05},
        {"handle": "024_bowl_:0000", "position": [0.25, 0.8, -1.3], "radius": 0.08},
        {"handle": "003_cracker_box_:0000", "position": [-1.3, 0.1, -2.8], "radius": 0.1},  # behind the wall
        {"handle": "025_mug_:0000", "position": [2.0, 0.8, 1.0], "radius": 0.05},  # behind the robot
        {"handle": ":0000", "position": [0.9, 0.05, -1.2], "radius": 0.05},  # no readable name
    ]
    receptacles = [{"handle": "frl_apartment_table_01_:0000", "position": [-0.1, 0.375, -1.3], "radius": 0.6}]
    counter = {"handle": "kitchen_counter_:0000", "position": [1.3, 0.45, -1.7], "radius": 0.7}
    data = {"task": task, "camera": {"pose": pose.tolist(), "hfov_deg": HFOV, "max_depth": MAX_DEPTH}}
    if task == "pick":
        data.update(objects=objects, receptacles=receptacles + [counter], target="013_apple_:0000", held=None,
                    goal_receptacle=None, observations=task_observations(np.array(objects[0]["position"]), False))
    else:
        goal_point = np.array([1.25, 0.92, -1.4])
        data.update(objects=objects[1:], receptacles=receptacles, target="013_apple_:0000", held="013_apple_:0000",
                    goal_receptacle=counter, observations=task_observations(goal_point, True))
    data["depth"] = depth_image(pose).tolist()
    return data


if __name__ == "__main__":
    for task in ("pick", "place"):
        path = HERE / f"rearrange_scene_{task}.json"
        path.write_text(json.dumps(scene(task), indent=1) + "\n")
        print(f"wrote {path}")
