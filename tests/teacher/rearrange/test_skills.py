"""Rearrangement skills on a kinematic integration of their own commands (no simulator)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from habitat_llm4teach.envs.rearrange.scene import PICK, PLACE, TaskObservations
from habitat_llm4teach.teacher.rearrange.kinematics import FETCH_ARM_INIT, forward_kinematics, joint_step_toward
from habitat_llm4teach.teacher.rearrange.perception import RearrangePerception, SeenObject, floor_offset
from habitat_llm4teach.teacher.rearrange.reach import NAVIGATE_ARM_REACH_M, REACH_M, SHOULDER, near_by_camera
from habitat_llm4teach.teacher.rearrange.skills import (
    ACTION_DIM, ARM, BASE, DELTA_POS_LIMIT, DESIRED_RESTING, GRASP_DISTANCE_M, GRIP, LIFT_TOLERANCE_M, PLACE_HEIGHT_M,
    RELEASE_DISTANCE_M, REST_TOLERANCE_M, control, cup_position, look_around, navigate_to, pick, place,
)
from habitat_llm4teach.teacher.types import SkillStatus

LIN_STEP_M, TURN_STEP_RAD = 0.08, 0.08  # base motion per unit base_vel action and step


def arm_perception(task: str, joints: np.ndarray, target_base: np.ndarray, holding: bool,
                   held: str = "apple", goal: str = "table") -> RearrangePerception:
    arm = forward_kinematics(joints)
    obs = TaskObservations(arm.ee_rotation.T @ (target_base - arm.ee_position), joints, holding, DESIRED_RESTING - arm.ee_position)
    holding_obj = SeenObject(held, held, False, 0.0, 0.0, False) if holding else None
    goal_obj = SeenObject(goal, goal, True, 0.5, 0.0, True, 0.4) if task == PLACE else None
    return RearrangePerception(task, (), holding_obj, goal_obj, held, obs)


def test_arm_model_jacobian_matches_finite_differences():
    joints = FETCH_ARM_INIT + 0.1
    arm = forward_kinematics(joints)
    numeric = np.stack([
        (forward_kinematics(joints + 1e-6 * np.eye(7)[i]).ee_position - arm.ee_position) / 1e-6 for i in range(7)
    ], axis=1)
    np.testing.assert_allclose(arm.jacobian, numeric, atol=1e-5)
    assert np.allclose(arm.ee_rotation @ arm.ee_rotation.T, np.eye(3))
    step = joint_step_toward(joints, np.array([0.01, 0.0, 0.0]))
    moved = forward_kinematics(joints + step).ee_position - arm.ee_position
    assert moved[0] == pytest.approx(0.01, abs=2e-3)
    with pytest.raises(ValueError, match="7 arm joint"):
        forward_kinematics(np.zeros(6))


@pytest.mark.parametrize("offset", [(0.25, 0.15, -0.25), (0.1, -0.3, -0.1), (0.3, 0.0, -0.4)])
def test_pick_reaches_grasps_only_within_reach_and_returns_to_rest(offset):
    joints = FETCH_ARM_INIT.copy()
    target = forward_kinematics(joints).ee_position + np.array(offset)
    holding, grasped_at = False, None
    for step in range(1500):
        perception = arm_perception(PICK, joints, target, holding)
        verdict = pick(perception, "apple")
        if verdict.status is SkillStatus.DONE:
            break
        assert verdict.status is SkillStatus.RUNNING and verdict.action.shape == (ACTION_DIM,)
        assert np.all(np.abs(verdict.action) <= 1.0) and np.all(verdict.action[BASE] == 0)
        distance = np.linalg.norm(target - cup_position(perception))  # the suction cup must touch the object
        if not holding:
            assert (verdict.action[GRIP] > 0) == (distance <= GRASP_DISTANCE_M)  # grip fires only within reach
            if verdict.action[GRIP] > 0:
                holding, grasped_at = True, step  # the simulated suction grasp
        else:
            assert verdict.action[GRIP] > 0  # keeps holding while returning to rest
        joints = joints + verdict.action[ARM] * DELTA_POS_LIMIT
    else:
        pytest.fail("pick did not finish")
    assert grasped_at is not None and grasped_at < step
    assert np.linalg.norm(DESIRED_RESTING - forward_kinematics(joints).ee_position) <= REST_TOLERANCE_M


def test_after_grasping_pick_lifts_straight_up_before_pulling_back_to_rest():
    """Pulling straight back from the grasp drags the object over the table (the simulator then pulls it off the
    gripper): the end effector rises above rest height first, staying over the grasp point."""
    joints = FETCH_ARM_INIT.copy()
    target = forward_kinematics(joints).ee_position + np.array([0.3, 0.0, -0.4])
    holding, grasp_xy, lifted, path = False, None, False, []
    for _ in range(1500):
        verdict = pick(arm_perception(PICK, joints, target, holding), "apple")
        if verdict.status is SkillStatus.DONE:
            break
        if not holding and verdict.action[GRIP] > 0:
            holding, grasp_xy = True, forward_kinematics(joints).ee_position[:2].copy()
        joints = joints + verdict.action[ARM] * DELTA_POS_LIMIT
        ee = forward_kinematics(joints).ee_position
        if holding:
            path.append(ee)
            if DESIRED_RESTING[2] - ee[2] > 2 * LIFT_TOLERANCE_M:  # still well below rest height
                assert not lifted and np.linalg.norm(ee[:2] - grasp_xy) < 0.05
            else:
                lifted = True
    else:
        pytest.fail("pick did not finish")
    assert holding and lifted and len(path) > 10
    assert np.linalg.norm(DESIRED_RESTING - forward_kinematics(joints).ee_position) <= REST_TOLERANCE_M


def test_navigating_while_holding_carries_the_object_at_rest_height_hands_free_otherwise():
    joints = FETCH_ARM_INIT.copy()
    for _ in range(40):  # the arm low, as at the start of habitat's place episodes
        joints = joints + joint_step_toward(joints, np.array([0.0, 0.0, -0.01]))
    low = forward_kinematics(joints).ee_position[2]
    assert low < DESIRED_RESTING[2] - 0.2
    goal = SeenObject("table", "table", True, 3.0, 0.2, True, 0.4)
    for _ in range(300):
        obs = arm_perception(PLACE, joints, np.array([2.5, 0.5, 0.6]), True).obs
        verdict = navigate_to(RearrangePerception(PLACE, (goal,), SeenObject("apple", "apple", False, 0.0, 0.0, False),
                                                  goal, "apple", obs), "table")
        assert verdict.status is SkillStatus.RUNNING and verdict.action[GRIP] > 0 and verdict.action[BASE][1] > 0
        joints = joints + verdict.action[ARM] * DELTA_POS_LIMIT
    assert np.linalg.norm(DESIRED_RESTING - forward_kinematics(joints).ee_position) <= REST_TOLERANCE_M
    empty = arm_perception(PLACE, joints, np.array([2.5, 0.5, 0.6]), False).obs
    verdict = navigate_to(RearrangePerception(PLACE, (goal,), None, goal, "apple", empty), "table")
    assert np.all(verdict.action[ARM] == 0)


def test_pick_fails_out_of_reach_or_for_another_object():
    far = arm_perception(PICK, FETCH_ARM_INIT, np.array([2.5, 0.0, 0.8]), False)
    assert pick(far, "apple").status is SkillStatus.FAILED
    near = arm_perception(PICK, FETCH_ARM_INIT, forward_kinematics(FETCH_ARM_INIT).ee_position + 0.1, False)
    assert pick(near, "bowl").status is SkillStatus.FAILED
    assert pick(near, "apple").status is SkillStatus.RUNNING


def test_place_moves_above_the_goal_releases_there_then_rests():
    joints = FETCH_ARM_INIT.copy()
    goal = forward_kinematics(joints).ee_position + np.array([0.2, -0.2, -0.3])
    holding, released = True, False
    for _ in range(1500):
        perception = arm_perception(PLACE, joints, goal, holding)
        verdict = place(perception, "apple on table")
        if verdict.status is SkillStatus.DONE:
            break
        assert verdict.status is SkillStatus.RUNNING
        if holding:
            above = np.linalg.norm(goal + [0, 0, PLACE_HEIGHT_M] - forward_kinematics(joints).ee_position)
            assert (verdict.action[GRIP] < 0) == (above <= RELEASE_DISTANCE_M)  # releases only over the goal
            if verdict.action[GRIP] < 0:
                holding, released = False, True
        joints = joints + verdict.action[ARM] * DELTA_POS_LIMIT
    else:
        pytest.fail("place did not finish")
    assert released
    assert place(arm_perception(PLACE, joints, goal, True, held="apple"), "bowl on table").status is SkillStatus.FAILED
    assert place(arm_perception(PLACE, joints, goal, True), "apple on sofa").status is SkillStatus.FAILED


def _camera_pose(x: float, z: float, yaw: float) -> np.ndarray:
    """Head camera of a robot at (x, z) on the floor with heading yaw (0 = facing -z, + turns left)."""
    forward = np.array([-math.sin(yaw), 0.0, -math.cos(yaw)])
    pose = np.eye(4)
    pose[:3, 2] = -forward  # the camera looks along -z
    pose[:3, 0] = np.cross(forward, [0.0, 1.0, 0.0])  # right = forward x up
    pose[:3, 1] = (0.0, 1.0, 0.0)
    pose[:3, 3] = (x + 0.25 * forward[0], 1.2, z + 0.25 * forward[2])
    return pose


@pytest.mark.parametrize("target", [(1.5, -3.0), (-2.0, 1.0), (0.3, -1.6)])
def test_navigate_drives_until_the_target_is_within_reach(target):
    x, z, yaw = 0.0, 0.0, 0.0
    point = np.array([[target[0], 0.8, target[1]]])
    for _ in range(600):
        distance, bearing = floor_offset(point, _camera_pose(x, z, yaw))
        seen = SeenObject("apple", "apple", False, float(distance[0]), float(bearing[0]), True, 0.05)
        perception = RearrangePerception(PICK, (seen,), None, None, "apple", arm_perception(PICK, FETCH_ARM_INIT, np.zeros(3), False).obs)
        verdict = navigate_to(perception, "apple")
        if verdict.status is SkillStatus.DONE:
            assert near_by_camera(seen) and seen.distance <= REACH_M + seen.radius
            return
        forward, turn = verdict.action[BASE]
        assert np.all(verdict.action[ARM] == 0) and verdict.action[GRIP] < 0  # hands free: grip stays released
        yaw += turn * TURN_STEP_RAD
        x -= math.sin(yaw) * forward * LIN_STEP_M
        z -= math.cos(yaw) * forward * LIN_STEP_M
    pytest.fail("navigate did not reach the target")


def test_navigate_fails_without_the_target_and_look_around_turns_holding_on():
    perception = arm_perception(PICK, FETCH_ARM_INIT, np.zeros(3), True)
    assert navigate_to(perception, "bowl").status is SkillStatus.FAILED  # not perceived
    assert navigate_to(perception, "apple").status is SkillStatus.DONE  # held: the robot is where it is
    turning = look_around(perception, None)
    assert turning.status is SkillStatus.RUNNING and turning.action[BASE][1] > 0 and turning.action[GRIP] > 0
    with pytest.raises(KeyError, match="unknown rearrangement skill"):
        control("fly", perception, None)


def test_navigation_to_the_task_target_follows_the_navmesh_waypoint_until_the_arm_reaches():
    """Far from the target it steers for the simulator's next path point (here to the left, the target to the
    right); within the arm's reach it turns to the target itself, and the waypoint no longer matters."""
    obs = arm_perception(PICK, FETCH_ARM_INIT, np.zeros(3), False).obs
    target = SeenObject("apple", "apple", False, 2.5, math.radians(-30), True, 0.05)

    def steer(target_base, waypoint_base):
        perception = RearrangePerception(PICK, (target,), None, None, "apple", obs, np.array(target_base), target,
                                         np.array(target_base), None if waypoint_base is None else np.array(waypoint_base))
        return navigate_to(perception, "apple")

    far = steer([2.0, -1.2, 0.7], [0.6, 0.6, -0.1])
    assert far.status is SkillStatus.RUNNING and far.action[BASE][1] > 0  # turns left, to the waypoint
    assert steer([2.0, -1.2, 0.7], None).action[BASE][1] < 0  # without one: straight at the target (right)
    near = steer([0.7, -0.2, 0.7], [0.6, 0.6, -0.1])
    assert near.status is SkillStatus.RUNNING and near.action[BASE][1] < 0 and near.action[BASE][0] == 0  # faces it
    assert steer([0.7, 0.0, 0.7], [0.6, 0.6, -0.1]).status is SkillStatus.DONE


def test_navigation_rounds_a_corner_at_the_speed_of_the_path_ahead_not_of_what_the_arm_lacks():
    """The target a few centimetres past the arm's reach but round a corner (the waypoint 0.5 m ahead): the drive
    follows the path still to go. It used to follow the arm's excess alone and crept 4 mm a step."""
    obs = arm_perception(PICK, FETCH_ARM_INIT, np.zeros(3), False).obs
    target = SeenObject("apple", "apple", False, 1.1, math.radians(60), True, 0.05)
    just_out_of_reach = np.array([0.52, 0.88, 0.7])  # ~1.02 m from the shoulder
    assert np.linalg.norm(just_out_of_reach - SHOULDER) - NAVIGATE_ARM_REACH_M < 0.05
    perception = RearrangePerception(PICK, (target,), None, None, "apple", obs, just_out_of_reach, target,
                                     just_out_of_reach, np.array([0.5, 0.0, 0.0]))
    verdict = navigate_to(perception, "apple")
    assert verdict.status is SkillStatus.RUNNING and verdict.action[BASE][0] >= 0.5
