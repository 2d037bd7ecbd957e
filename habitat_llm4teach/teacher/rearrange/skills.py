"""Rearrangement skills as controllers: perception + the task's observations -> the task's action vector.

Owns the four controllers the LLM's skills name and the action layout they
write. Each is a pure function of the current step (no memory), so the teacher
re-evaluates every plan step at every env step, as for MiniGrid:

- ``navigate to <x>``: turn toward x and drive until the robot is at it
  (``reach.at``: within reach and facing it); DONE there or when holding x; FAILED if
  x is not perceived (the task's target and goal always are: its sensors locate them).
  Holding something, it also brings the arm to rest on the way, so the object rides
  above table height instead of snagging on the receptacle's edge.
- ``pick <x>``: x must be the task's target (the only object the task's
  sensors locate: ``obj_start_sensor``). Moves the end effector to it with a
  damped-least-squares step of the arm joints; the grip fires only within
  ``GRASP_DISTANCE_M``; once holding, returns the arm to its resting position,
  lifting first; DONE when holding at rest. FAILED when x is not the target or is
  out of the arm's reach (navigate first).
- ``place <x> on <y>``: holding x, moves the end effector above the goal
  (``obj_goal_sensor``), releases within ``RELEASE_DISTANCE_M``, then returns
  to rest, lifting first; DONE when empty-handed at rest. FAILED out of reach, or
  when asked to place what it does not hold.
- ``look around``: turns in place; never DONE (like MiniGrid's explore).

The action vector is habitat's flattening of the Fetch pick/place action space
(``fetch_suction_arm_base``; habitat sorts action names): ``arm_action`` (7
joint deltas in units of ``delta_pos_limit``), ``grip_action`` (>= 0 grasp or
keep holding, < 0 release), ``base_vel`` (forward, turn-left), all in [-1, 1].
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np

from habitat_llm4teach.envs.rearrange.scene import PICK as PICK_TASK
from habitat_llm4teach.envs.rearrange.scene import PLACE as PLACE_TASK
from habitat_llm4teach.teacher.rearrange.describe import LOOK_AROUND, NAVIGATE_TO, PICK, PLACE, PLACE_ON
from habitat_llm4teach.teacher.rearrange.kinematics import FETCH_CUP_OFFSET, FETCH_SUCTION_OFFSET, forward_kinematics, joint_step_toward
from habitat_llm4teach.teacher.rearrange.perception import RearrangePerception
from habitat_llm4teach.teacher.rearrange.reach import FACING_BEARING, PLACE_HEIGHT_M, SHOULDER, approach
from habitat_llm4teach.teacher.types import SkillStatus

# Action layout (habitat's flattened Box for arm_action + base_velocity).
ARM = slice(0, 7)
GRIP = 7
BASE = slice(8, 10)
ACTION_DIM = 10
GRIP_HOLD, GRIP_RELEASE = 1.0, -1.0

# habitat-lab defaults the controllers are tuned to.
DELTA_POS_LIMIT = 0.0125  # ArmActionConfig.delta_pos_limit: radians per unit arm action
DESIRED_RESTING = np.array([0.5, 0.0, 1.0])  # RearrangeTaskConfig.desired_resting_position (base frame)
REST_TOLERANCE_M = 0.1  # under pick/place_success' ee_resting_success_threshold (0.15)
LIFT_TOLERANCE_M = 0.05  # returning to rest from lower than this below it goes straight up first
GRASP_DISTANCE_M = 0.12  # under ArmActionConfig.grasp_thresh_dist (0.15)
RELEASE_DISTANCE_M = 0.08  # under place_success' obj_at_goal succ_thresh (0.15): the object drops a little
APPROACH_HEIGHT_M = 0.15  # come down on a target from this high ...
APPROACH_RADIUS_M = 0.10  # ... descending once the cup is within this horizontal distance
ARM_REACH_M = 1.15  # farthest the end effector gets from the shoulder
# Navigation gains: turn proportional to bearing; drive only when roughly facing the target.
TURN_GAIN = 1.5
DRIVE_GAIN = 1.0
DRIVE_MAX_BEARING = math.radians(30.0)
LOOK_AROUND_TURN = 0.5


@dataclass(frozen=True)
class ControlStep:
    """A skill's verdict for one step: the action vector [ACTION_DIM] while RUNNING, else None."""

    action: Optional[np.ndarray]
    status: SkillStatus

    def __post_init__(self) -> None:
        if (self.action is None) == (self.status is SkillStatus.RUNNING):
            raise ValueError(f"a {self.status.value} control step {'needs' if self.action is None else 'has no'} action")


DONE = ControlStep(None, SkillStatus.DONE)
FAILED = ControlStep(None, SkillStatus.FAILED)


def _running(arm: Optional[np.ndarray] = None, grip: float = GRIP_RELEASE, base: tuple[float, float] = (0.0, 0.0)) -> ControlStep:
    action = np.zeros(ACTION_DIM, dtype=np.float32)
    if arm is not None:
        action[ARM] = arm
    action[GRIP] = grip
    action[BASE] = base
    return ControlStep(np.clip(action, -1.0, 1.0), SkillStatus.RUNNING)


def ee_position(perception: RearrangePerception) -> np.ndarray:
    """End effector in the base frame, from the task's relative_resting_position."""
    return DESIRED_RESTING - perception.obs.relative_resting_position


def target_in_base(perception: RearrangePerception) -> np.ndarray:
    """The task's target point (object / goal) in the base frame: the simulator's where the adapter gives it,
    else (hand-built scenes) the end-effector-frame sensor turned by the arm model."""
    if perception.target_base is not None:
        return perception.target_base
    rotation = forward_kinematics(perception.obs.joint).ee_rotation
    return ee_position(perception) + rotation @ perception.obs.target_rel_ee


def cup_position(perception: RearrangePerception) -> np.ndarray:
    """The suction cup in the base frame: habitat's end effector moved back by ee_offset along the arm model's
    gripper frame (what must touch an object to grasp it)."""
    rotation = forward_kinematics(perception.obs.joint).ee_rotation
    return ee_position(perception) - rotation @ (np.asarray(FETCH_SUCTION_OFFSET) - np.asarray(FETCH_CUP_OFFSET))


def arm_action_toward(joints: np.ndarray, ee_delta_base: np.ndarray, tip: tuple[float, float, float] = FETCH_SUCTION_OFFSET) -> np.ndarray:
    """Arm action [7] in [-1, 1] moving the ``tip`` (default: the end effector) along ``ee_delta_base``, scaled
    (not clipped) to the limit."""
    joint_delta = joint_step_toward(joints, ee_delta_base, tip=tip) / DELTA_POS_LIMIT
    largest = np.abs(joint_delta).max()
    return joint_delta / largest if largest > 1.0 else joint_delta


def _grip_keeping(perception: RearrangePerception) -> float:
    return GRIP_HOLD if perception.obs.is_holding else GRIP_RELEASE


def _toward_rest(perception: RearrangePerception) -> np.ndarray:
    """End-effector step toward the resting position that lifts first: straight up while below rest height,
    then across. Pulling straight back from where the object stood drags a held object over the surface
    (the simulator pulls it off the gripper past hold_thresh, which ends the episode) and a released one
    off the goal."""
    to_rest = np.asarray(perception.obs.relative_resting_position, dtype=float)  # rest - ee (base frame)
    if to_rest[2] > LIFT_TOLERANCE_M:
        return np.array([0.0, 0.0, to_rest[2]])
    return to_rest


def _return_to_rest(perception: RearrangePerception, grip: float) -> ControlStep:
    if np.linalg.norm(perception.obs.relative_resting_position) <= REST_TOLERANCE_M:
        return DONE
    return _running(arm_action_toward(perception.obs.joint, _toward_rest(perception)), grip)


def _approach_from_above(goal: np.ndarray, ee: np.ndarray) -> np.ndarray:
    """End-effector step toward ``goal`` that comes down on it from above: while the cup is not over the goal,
    aim ``APPROACH_HEIGHT_M`` above it, so the arm does not sweep into the table edge, a shelf or the sink rim
    (in the simulator such contact ends the episode through force_terminate)."""
    horizontal = float(np.linalg.norm((goal - ee)[:2]))
    lift = APPROACH_HEIGHT_M * min(1.0, horizontal / APPROACH_RADIUS_M)
    return goal + np.array([0.0, 0.0, lift]) - ee


def _out_of_arm_reach(point_base: np.ndarray) -> bool:
    return bool(np.linalg.norm(point_base - SHOULDER) > ARM_REACH_M)


def navigate_to(perception: RearrangePerception, target: Optional[str]) -> ControlStep:
    if perception.holding is not None and perception.holding.name == target:
        return DONE  # what the robot holds is where the robot is
    obj = perception.find(target) if target is not None else None
    if obj is None:
        return FAILED
    bearing, to_drive, arrived = approach(perception, obj)
    if arrived and abs(bearing) <= FACING_BEARING:  # reach.at
        return DONE
    turn = TURN_GAIN * bearing
    drive = DRIVE_GAIN * max(to_drive, 0.05) if abs(bearing) <= DRIVE_MAX_BEARING and not arrived else 0.0
    arm = None
    if perception.obs.is_holding and np.linalg.norm(perception.obs.relative_resting_position) > REST_TOLERANCE_M:
        arm = arm_action_toward(perception.obs.joint, _toward_rest(perception))  # carry the object high
    return _running(arm, grip=_grip_keeping(perception), base=(drive, turn))


def pick(perception: RearrangePerception, target: Optional[str]) -> ControlStep:
    if perception.task != PICK_TASK or target != perception.target:
        return FAILED  # the task's sensors locate only its own target
    obs = perception.obs
    if obs.is_holding:
        return _return_to_rest(perception, GRIP_HOLD)
    goal = target_in_base(perception)
    if _out_of_arm_reach(goal):
        return FAILED
    cup = cup_position(perception)
    delta = _approach_from_above(goal, cup)  # the cup, not habitat's end-effector point, must touch the object
    grip = GRIP_HOLD if np.linalg.norm(goal - cup) <= GRASP_DISTANCE_M else GRIP_RELEASE
    return _running(arm_action_toward(obs.joint, delta, tip=FETCH_CUP_OFFSET), grip)


def place(perception: RearrangePerception, target: Optional[str]) -> ControlStep:
    if perception.task != PLACE_TASK or target is None or PLACE_ON not in target:
        return FAILED
    held_name, receptacle = target.split(PLACE_ON, 1)
    goal_name = perception.goal.name if perception.goal is not None else None
    if receptacle != goal_name:
        return FAILED  # the task's sensors locate only its own goal
    obs = perception.obs
    if not obs.is_holding:
        return _return_to_rest(perception, GRIP_RELEASE)
    if perception.holding is None or perception.holding.name != held_name:
        return FAILED
    goal = target_in_base(perception) + np.array([0.0, 0.0, PLACE_HEIGHT_M])
    if _out_of_arm_reach(goal):
        return FAILED
    # The held object hangs off the cup, away from habitat's end-effector point: steer the object itself where
    # the simulator says where it is (the arm moves it rigidly), else the end effector.
    held = perception.object_base if perception.object_base is not None else ee_position(perception)
    grip = GRIP_RELEASE if np.linalg.norm(goal - held) <= RELEASE_DISTANCE_M else GRIP_HOLD
    return _running(arm_action_toward(obs.joint, _approach_from_above(goal, held)), grip)


def look_around(perception: RearrangePerception, target: Optional[str]) -> ControlStep:
    return _running(grip=_grip_keeping(perception), base=(0.0, LOOK_AROUND_TURN))


SKILLS: dict[str, Callable[[RearrangePerception, Optional[str]], ControlStep]] = {
    NAVIGATE_TO: navigate_to,
    PICK: pick,
    PLACE: place,
    LOOK_AROUND: look_around,
}


def control(skill: str, perception: RearrangePerception, target: Optional[str]) -> ControlStep:
    if skill not in SKILLS:
        raise KeyError(f"unknown rearrangement skill '{skill}'; known: {sorted(SKILLS)}")
    return SKILLS[skill](perception, target)
