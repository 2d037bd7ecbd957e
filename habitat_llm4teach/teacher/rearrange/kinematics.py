"""Forward kinematics of the Fetch arm, for the teacher's arm controller and its tests.

Owns the arm model the skills steer with: the seven revolute joints of Fetch's
URDF (shoulder pan, shoulder lift, upper-arm roll, elbow flex, forearm roll,
wrist flex, wrist roll; offsets and axes from ``fetch.urdf``) in the robot's base
frame, which is habitat's ``base_transformation`` frame (x forward, y left, z
up; ``desired_resting_position`` and ``relative_resting_position`` are in it).
The end effector is the suction tip: habitat's ee link (the suction cup) plus its ``ee_offset``.

The model needs to be right only where the controller leans on it: the
end-effector *rotation* (to turn the task's end-effector-frame target vectors
into base-frame vectors) is exact for the joint axes; link lengths shape the
Jacobian, and the controller is re-evaluated on fresh observations every step,
so small length errors only slow convergence.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# (origin offset from the previous joint in its frame, rotation axis) per arm joint, from fetch.urdf.
_X, _Y, _Z = np.eye(3)
FETCH_ARM_JOINTS: tuple[tuple[tuple[float, float, float], np.ndarray], ...] = (
    ((0.119525, 0.0, 0.34858), _Z),  # shoulder_pan_joint (from torso_lift_link)
    ((0.117, 0.0, 0.06), _Y),  # shoulder_lift_joint
    ((0.219, 0.0, 0.0), _X),  # upperarm_roll_joint
    ((0.133, 0.0, 0.0), _Y),  # elbow_flex_joint
    ((0.197, 0.0, 0.0), _X),  # forearm_roll_joint
    ((0.1245, 0.0, 0.0), _Y),  # wrist_flex_joint
    ((0.1385, 0.0, 0.0), _X),  # wrist_roll_joint
)
# torso_lift_link in base_link: URDF origin plus habitat's fixed torso lift of 0.15 m (FetchRobot.update).
FETCH_TORSO_OFFSET = (-0.086875, 0.0, 0.37743 + 0.15)
# The end effector of habitat's FetchSuctionRobot is link 23, the suction cup (``ee_links=[23]``), plus
# ``ee_offset`` (0.08, 0, 0) in that link's frame: wrist_roll_link -> gripper_link (0.16645 m along x, pitched
# 1.56 rad about y: ``gripper_axis`` in hab_suction.urdf) -> suction_link (0.035 m along z). So the tip points
# along the wrist's -z, not its x: the older model that put it 0.24645 m along the wrist x was ~9 cm off and
# rotated ~90 degrees (obj_start_sensor / obj_goal_sensor are in this frame). tests/sim checks both against
# the simulator's ``ee_transform()``.
FETCH_GRIPPER_OFFSET = (0.16645, 0.0, 0.0)
FETCH_GRIPPER_PITCH = 1.56
FETCH_SUCTION_OFFSET = (0.08, 0.0, 0.035)  # ee_offset plus the suction link's origin, in the gripper frame
# The suction cup itself (suction_link's collision box, at its origin): what must touch an object for habitat's
# SuctionGraspAction to grasp it. habitat's end-effector point lies 0.08 m beside it, so steering that point onto an
# object leaves the cup short of it.
FETCH_CUP_OFFSET = (0.0, 0.0, 0.035)
# habitat's FetchRobot.arm_init_params: the arm pose every episode starts from.
FETCH_ARM_INIT = np.array([-0.45, -1.08, 0.1, 0.935, -0.001, 1.573, 0.005])


def _axis_rotation(axis: np.ndarray, angle: float) -> np.ndarray:
    """Rotation matrix about a unit ``axis`` (Rodrigues)."""
    k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    return np.eye(3) + np.sin(angle) * k + (1 - np.cos(angle)) * (k @ k)


@dataclass(frozen=True)
class ArmPose:
    ee_position: np.ndarray  # (3,) end effector in the base frame
    ee_rotation: np.ndarray  # (3, 3) end-effector frame -> base frame
    jacobian: np.ndarray  # (3, 7) d ee_position / d joints


def forward_kinematics(joints: np.ndarray, tip: tuple[float, float, float] = FETCH_SUCTION_OFFSET) -> ArmPose:
    """End-effector position, rotation and position Jacobian for the 7 arm joint angles (radians).

    ``tip``: the point tracked, in the gripper frame: habitat's end effector (default) or the cup.
    """
    joints = np.asarray(joints, dtype=np.float64)
    if joints.shape != (len(FETCH_ARM_JOINTS),):
        raise ValueError(f"expected {len(FETCH_ARM_JOINTS)} arm joint angles, got shape {joints.shape}")
    rotation = np.eye(3)
    position = np.array(FETCH_TORSO_OFFSET, dtype=np.float64)
    joint_positions, joint_axes = [], []
    for (offset, axis), angle in zip(FETCH_ARM_JOINTS, joints):
        position = position + rotation @ np.asarray(offset)
        joint_positions.append(position)
        joint_axes.append(rotation @ axis)
        rotation = rotation @ _axis_rotation(axis, angle)
    position = position + rotation @ np.asarray(FETCH_GRIPPER_OFFSET)
    rotation = rotation @ _axis_rotation(_Y, FETCH_GRIPPER_PITCH)
    ee_position = position + rotation @ np.asarray(tip)
    jacobian = np.stack([np.cross(a, ee_position - p) for p, a in zip(joint_positions, joint_axes)], axis=1)
    return ArmPose(ee_position, rotation, jacobian)


def joint_step_toward(
    joints: np.ndarray, ee_delta_base: np.ndarray, damping: float = 0.05, tip: tuple[float, float, float] = FETCH_SUCTION_OFFSET,
) -> np.ndarray:
    """Joint change (radians) that moves the end effector by ``ee_delta_base`` (base frame), damped least squares.

    Damping keeps the step bounded near singular poses (outstretched arm) where the
    plain pseudo-inverse would ask for huge joint motions.
    """
    jac = forward_kinematics(joints, tip).jacobian  # [3, 7]
    return jac.T @ np.linalg.solve(jac @ jac.T + damping**2 * np.eye(3), np.asarray(ee_delta_base, dtype=np.float64))
