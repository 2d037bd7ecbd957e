"""Where to steer the base next: a point along habitat's navmesh that the base can actually drive toward.

Owns the waypoint the ``l4t_scene`` sensor gives the navigation controller
(``teacher/rearrange/reach.py``). habitat's rearrangement tasks step the base without
sliding (``habitat.simulator.habitat_sim_v0.allow_sliding: False``, ``BaseVelAction`` ->
``Simulator.step_filter`` -> ``try_step_no_sliding``): a step that would leave the navmesh
does not move the base at all, it is not shortened. Shortest paths run through corners on the
navmesh's edges, so a controller that steers for a point further along the path cuts the
corner and is refused every step, and a base driven onto an edge can be refused along a heading
a hair off it. Both pinned the robot for the rest of an episode (val episodes 0 and 4 of the
test pack: `scripts/probe_rearrange_skills.py`). So the point to steer for is:

1. the first path point ``LOOKAHEAD_M`` away, or the farthest nearer one the straight line to
   which stays on the navmesh (the next corner);
2. a corner moved ``EDGE_CLEARANCE_M`` into the navmesh, so the base does not end up on an edge;
3. if the base's own heading is refused, or the point lies more than ``DRIVE_WINDOW_DEG`` off it,
   the same distance along the allowed heading nearest the point's, tried relative to the heading
   the base has (the controller's turn closes only part of a bearing each step, so a heading found
   in the abstract is never reached exactly);
4. a corner nearer than ``WAYPOINT_MIN_M`` given twice that far out along its bearing, since the
   controller takes a nearer waypoint for the end of the path and turns to the target itself.

All in world coordinates (y up); the sensor turns the result into the base frame.
"""

from __future__ import annotations

from typing import Any, Optional

import magnum as mn
import numpy as np

from habitat_llm4teach.envs.rearrange.scene import WAYPOINT_MIN_M

LOOKAHEAD_M = 0.3  # steer for the first path point at least this far from the robot (floor distance)
CORNER_PASSED_M = 0.01  # a path point this near the robot is where it stands
LINE_CHECK_M = 0.02  # a straight line is checked against the navmesh this often
EDGE_CLEARANCE_M = 0.1  # path corners are steered for this far inside the navmesh's edges
# A base step is up to lin_speed / ctrl_freq = 10 / 120 m; try_step_no_sliding may refuse a short step along a
# heading and allow a longer one, so a heading is tried at several lengths.
STEP_PROBES_M = (0.01, 0.03, 0.06, 0.085)
STEP_SEARCH_DEG = tuple(range(-170, 190, 10))  # headings tried, relative to the base's (turning in place always is)
DRIVE_WINDOW_DEG = 30.0  # the navigation controller drives only with its target this near its heading (skills.py)


def floor_distance(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm((a - b)[[0, 2]]))


def turned(heading: np.ndarray, degrees: float) -> np.ndarray:
    """A floor direction (world x, z) turned by ``degrees`` about world y."""
    angle = np.radians(degrees)
    return np.array([heading[0] * np.cos(angle) + heading[2] * np.sin(angle), 0.0,
                     -heading[0] * np.sin(angle) + heading[2] * np.cos(angle)])


class NavmeshSteering:
    """Steering points on one simulator's navmesh (``pathfinder``), for a base at ``start`` heading ``forward``."""

    def __init__(self, pathfinder: Any, shortest_path: type) -> None:
        self._pathfinder = pathfinder
        self._shortest_path = shortest_path

    def waypoint(self, start: np.ndarray, forward: np.ndarray, target_point: np.ndarray) -> Optional[np.ndarray]:
        """The world point to steer for toward ``target_point`` (module docstring), or None without a path."""
        end = np.array(self._pathfinder.snap_point(mn.Vector3(*target_point)), dtype=np.float64)
        if not np.all(np.isfinite(end)):  # no navmesh near the target
            return None
        path = self._shortest_path()
        path.requested_start, path.requested_end = mn.Vector3(*start), mn.Vector3(*end)
        if not self._pathfinder.find_path(path) or len(path.points) == 0:
            return None
        points = [np.array(p, dtype=np.float64) for p in path.points]
        ahead = [p for p in points[1:] if floor_distance(p, start) >= CORNER_PASSED_M]
        if not ahead:
            return points[-1]
        steer = ahead[0]  # the next corner: the path reaches it in a straight line
        for point in ahead[1:]:
            if floor_distance(steer, start) >= LOOKAHEAD_M or not self._straight_line_navigable(start, point):
                break
            steer = point
        is_end = steer is points[-1]  # the navigable point nearest the target: the robot stops there
        steer = self._allowed_heading(start, forward, steer if is_end else self._inside_edges(steer))
        distance = floor_distance(steer, start)
        if not is_end and 1e-6 < distance < WAYPOINT_MIN_M:
            steer = start + (steer - start) * (2.0 * WAYPOINT_MIN_M / distance)  # clear of the controller's threshold
        return steer

    def _allowed_heading(self, start: np.ndarray, forward: np.ndarray, steer: np.ndarray) -> np.ndarray:
        offset = (steer - start) * np.array([1.0, 0.0, 1.0])
        distance = float(np.linalg.norm(offset))
        forward = forward * np.array([1.0, 0.0, 1.0])
        if distance < 1e-6 or np.linalg.norm(forward) < 1e-6:
            return steer
        forward = forward / np.linalg.norm(forward)
        # The angle that turned() turns forward by to point along offset.
        wanted = float(np.degrees(np.arctan2(forward[2] * offset[0] - forward[0] * offset[2], forward @ offset)))
        if abs(wanted) <= DRIVE_WINDOW_DEG and self._heading_allowed(start, forward):
            return steer  # the controller drives along an allowed heading
        # Nearest the wanted heading first (ties: the smaller turn); a lookup costs a few navmesh queries.
        for degrees in sorted(STEP_SEARCH_DEG, key=lambda d: (abs((d - wanted + 180.0) % 360.0 - 180.0), abs(d))):
            heading = turned(forward, degrees)
            if self._heading_allowed(start, heading):
                return start + heading * distance + np.array([0.0, steer[1] - start[1], 0.0])
        return steer

    def _inside_edges(self, point: np.ndarray) -> np.ndarray:
        """``point`` moved ``EDGE_CLEARANCE_M`` in the direction (of 8) that keeps it navigable with the most room."""
        best, room = point, 0.0
        for degrees in range(0, 360, 45):
            moved = point + turned(np.array([1.0, 0.0, 0.0]), degrees) * EDGE_CLEARANCE_M
            if not self._pathfinder.is_navigable(mn.Vector3(*moved)):
                continue
            distance = float(self._pathfinder.distance_to_closest_obstacle(mn.Vector3(*moved), 2.0 * EDGE_CLEARANCE_M))
            if distance > room:
                best, room = moved, distance
        return best

    def _heading_allowed(self, start: np.ndarray, heading: np.ndarray) -> bool:
        return all(self._step_allowed(start, start + heading * length) for length in STEP_PROBES_M)

    def _step_allowed(self, start: np.ndarray, end: np.ndarray) -> bool:
        """Whether habitat's base, stepped without sliding, gets from ``start`` to ``end``."""
        reached = np.array(self._pathfinder.try_step_no_sliding(mn.Vector3(*start), mn.Vector3(*end)), dtype=np.float64)
        return floor_distance(reached, end) < 1e-3

    def _straight_line_navigable(self, start: np.ndarray, point: np.ndarray) -> bool:
        """Whether the navmesh holds the straight line from ``start`` to ``point``, sampled every ``LINE_CHECK_M``
        (``try_step_no_sliding`` over a long line can report one that cuts a corner as clear)."""
        samples = max(2, int(np.ceil(floor_distance(start, point) / LINE_CHECK_M)) + 1)
        return all(self._pathfinder.is_navigable(mn.Vector3(*(start + (point - start) * t)))
                   for t in np.linspace(0.0, 1.0, samples)[1:])
