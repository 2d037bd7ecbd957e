"""When the robot is at an object: close enough for its work there, and facing it.

Owns the one test that the description's "within reach", the offered skills (pick / place
only there, navigation only elsewhere) and the navigation controller's DONE all use, so
what the LLM reads and what the controllers do cannot disagree. For the task's own target
and goal, "close enough" is the arm's reach from the shoulder to the point the simulator
gives (a table edge can keep the base a metre from an object on it); for any other object
it is what the head camera sees: the distance to its near edge.
"""

from __future__ import annotations

import math
from typing import Optional

import numpy as np

from habitat_llm4teach.envs.rearrange.scene import WAYPOINT_MIN_M
from habitat_llm4teach.teacher.rearrange.perception import RearrangePerception, SeenObject

# By the camera (objects the task's sensors do not locate): the arm reaches what is this close (floor distance
# from the head camera, ~0.16 m ahead of the base centre, to the object's near edge) and ahead; in the simulator
# the Fetch arm brings its suction cup to objects ~1.1 m ahead of the base centre at table height (tests/sim).
REACH_M = 1.0
SIDE_DEG = 60.0
# By the arm (the task's target and goal): navigation stops with the point this close to the shoulder, so the
# arm is not outstretched.
NAVIGATE_ARM_REACH_M = 1.0
SHOULDER = np.array([0.0326, 0.0, 0.876])  # shoulder pan joint in the base frame at habitat's torso height
PLACE_HEIGHT_M = 0.05  # place releases this far above the goal point
FACING_BEARING = math.radians(10.0)  # arrival is facing the object, so the arm reaches it straight ahead


def near_by_camera(obj: SeenObject) -> bool:
    return obj.distance - obj.radius <= REACH_M and abs(math.degrees(obj.bearing)) <= SIDE_DEG


def task_point(perception: RearrangePerception, obj: SeenObject) -> Optional[np.ndarray]:
    """Where the arm must get for ``obj`` (base frame), when it is the task's target or goal and the simulator said."""
    if perception.target_base is None or obj not in (perception.target_object, perception.goal):
        return None
    return perception.target_base + (np.array([0.0, 0.0, PLACE_HEIGHT_M]) if obj is perception.goal else 0.0)


def approach(perception: RearrangePerception, obj: SeenObject) -> tuple[float, float, bool]:
    """(bearing to turn by [rad, + left], distance still to drive [m], close enough) for ``obj``.

    Toward the task's own target or goal the robot follows the navmesh path (the simulator's next waypoint)
    while the arm cannot reach yet: driving straight at an object behind a table corner pins the base against
    the corner for the rest of the episode. Once close enough it turns to the point itself.
    """
    point = task_point(perception, obj)
    if point is None:
        return obj.bearing, obj.distance - obj.radius - 0.8 * REACH_M, near_by_camera(obj)
    excess = float(np.linalg.norm(point - SHOULDER)) - NAVIGATE_ARM_REACH_M
    steer, to_drive = point, excess
    waypoint = perception.waypoint_base
    to_waypoint = float(np.hypot(waypoint[0], waypoint[1])) if waypoint is not None else 0.0
    if excess > 0.0 and to_waypoint >= WAYPOINT_MIN_M:
        # Round a corner at the speed of the path still ahead, not of the few centimetres the arm lacks.
        steer, to_drive = waypoint, max(excess, to_waypoint)
    return math.atan2(steer[1], steer[0]), to_drive, excess <= 0.0


def at(perception: RearrangePerception, obj: SeenObject) -> bool:
    """Close enough and facing: navigation to ``obj`` is done, and pick / place on it may start."""
    bearing, _, close = approach(perception, obj)
    return close and abs(bearing) <= FACING_BEARING
