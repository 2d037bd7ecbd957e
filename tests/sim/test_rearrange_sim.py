"""Pick/place on the real simulator: what the teacher reads, the robot it steers, and the actions it writes."""

from __future__ import annotations

import dataclasses

import magnum as mn
import numpy as np
import pytest
from conftest import CPU, compose_config, data_root

from habitat_llm4teach import keys
from habitat_llm4teach.envs.rearrange.scene import decode_scene
from habitat_llm4teach.teacher.rearrange.describe import PICK, candidate_skills, describe
from habitat_llm4teach.teacher.rearrange.guidance import perceive_observation
from habitat_llm4teach.teacher.rearrange.kinematics import FETCH_ARM_INIT, forward_kinematics
from habitat_llm4teach.teacher.rearrange.skills import ACTION_DIM, ARM, BASE, DELTA_POS_LIMIT, GRIP, target_in_base


def _sim(env):
    return env.unwrapped.habitat_env.sim


def _perception(obs):
    return perceive_observation(obs)


def _matrix(m):
    return np.array([[m[c][r] for c in range(4)] for r in range(4)])


def _ee_in_base(agent):
    return np.array(agent.base_transformation.inverted().transform_point(agent.ee_transform().translation))


def test_arm_model_matches_the_simulators_end_effector(pick_env):
    """forward_kinematics against habitat's FetchSuctionRobot.ee_transform(), in the base frame, over random arm poses."""
    pick_env.reset()
    agent = _sim(pick_env).articulated_agent
    rng = np.random.default_rng(0)
    for _ in range(20):
        agent.arm_joint_pos = FETCH_ARM_INIT + rng.uniform(-0.6, 0.6, 7)
        joints = np.array(agent.arm_joint_pos)
        pose = forward_kinematics(joints)
        assert np.linalg.norm(pose.ee_position - _ee_in_base(agent)) < 0.02
        sim_rotation = _matrix(agent.base_transformation.inverted() @ agent.ee_transform())[:3, :3]
        assert np.abs(pose.ee_rotation - sim_rotation).max() < 0.02  # the frame obj_start_sensor is expressed in


def test_target_point_matches_habitats_own_sensor(pick_env):
    """The l4t_scene target (base frame) equals obj_start_sensor (end-effector frame) moved by the sim's ee_transform,
    and the arm model's rotation turns the sensor into the same point."""
    obs = pick_env.reset()
    sim = _sim(pick_env)
    perception = _perception(obs)
    ee_world = sim.articulated_agent.ee_transform()
    target_world = ee_world.transform_point(mn.Vector3(*obs[keys.OBJ_START_SENSOR][:3]))
    expected = np.array(sim.articulated_agent.base_transformation.inverted().transform_point(target_world))
    assert np.linalg.norm(perception.target_base - expected) < 0.01
    without_sim_point = dataclasses.replace(perception, target_base=None)
    assert np.linalg.norm(target_in_base(without_sim_point) - expected) < 0.03


def test_when_navigation_drives_the_base_moves_along_the_navmesh_toward_the_target(pick_env):
    """habitat steps the base without sliding: a refused step does not move it at all, so a waypoint the base
    cannot drive toward pins it. With the navigation controller alone on three episodes, the simulator moves the
    base on most steps the controller drives, and the geodesic distance to the target's standing point shrinks."""
    from habitat_sim import ShortestPath

    from habitat_llm4teach.teacher.rearrange.skills import control

    drives, refused, progressed = 0, 0, 0
    for _ in range(3):
        obs = pick_env.reset()
        sim = _sim(pick_env)
        target_id = sim.scene_obj_ids[sim.get_targets()[0][0]]
        end = sim.pathfinder.snap_point(sim.get_rigid_object_manager().get_object_by_id(target_id).translation)

        def geodesic():
            path = ShortestPath()
            path.requested_start, path.requested_end = sim.articulated_agent.base_pos, end
            assert sim.pathfinder.find_path(path)
            return path.geodesic_distance

        before = geodesic()
        for _ in range(60):
            perception = _perception(obs)
            step = control("navigate to", perception, perception.target)
            if step.action is None:  # arrived
                break
            position = np.array(sim.articulated_agent.base_pos)
            obs, _, done, _ = pick_env.step(step.action)
            if step.action[BASE][0] > 0:
                drives += 1
                refused += int(np.linalg.norm(np.array(sim.articulated_agent.base_pos) - position) < 1e-3)
            if done:
                break
        progressed += int(geodesic() < before - 0.1 or step.action is None)
    assert drives >= 20
    assert refused <= 0.2 * drives, (refused, drives)
    assert progressed == 3


def test_navigation_gets_the_target_within_reach_where_the_path_turns_at_a_navmesh_corner():
    """Val episodes 0 and 4 start by a navmesh corner: steering for a path point past the corner, every base step
    was refused and both episodes ran out of steps (300) with the target 1.6 m and 1.0 m from the shoulder.
    The controllers alone (scripts/probe_rearrange_skills.py), first five val episodes: navigation ends within
    150 steps in each, with the simulator's target point within the arm's reach of the base (floor distance)."""
    import json
    import subprocess
    import sys

    from helpers import REPO

    result = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "probe_rearrange_skills.py"), "pick", "--episodes", "5", "--split", "val"],
        cwd=data_root(), capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    navigations = json.loads(result.stdout.strip().splitlines()[-1])["navigation"]
    assert len(navigations) == 5
    for episode, navigation in enumerate(navigations):
        assert navigation["steps"] is not None and navigation["steps"] <= 150, (episode, navigation)
        assert navigation["floor_distance_m"] <= 1.05, (episode, navigation)


def test_l4t_scene_decodes_to_the_objects_the_simulator_holds(pick_env):
    obs = pick_env.reset()
    sim = _sim(pick_env)
    scene = decode_scene(obs[keys.L4T_SCENE], obs[keys.HEAD_DEPTH], _perception(obs).obs)
    rom = sim.get_rigid_object_manager()
    target = rom.get_object_by_id(sim.scene_obj_ids[sim.get_targets()[0][0]])
    assert scene.target_handle == target.handle
    decoded = {o.handle: o for o in scene.objects}
    assert np.allclose(decoded[target.handle].position, np.array(target.translation), atol=1e-3)
    movable = {h for h in rom.get_object_handles() if str(rom.get_object_by_handle(h).motion_type).endswith("DYNAMIC")}
    furniture = {r.parent_object_handle for r in sim.receptacles.values()}
    for obj in scene.objects:
        if obj.is_receptacle:
            assert obj.handle in furniture
        else:
            assert obj.handle in movable
            assert np.allclose(obj.position, np.array(rom.get_object_by_handle(obj.handle).translation), atol=1e-3)
    camera = sim._sensors["head_depth"]._sensor_object.node.absolute_transformation()
    assert np.allclose(scene.camera_pose, _matrix(camera), atol=1e-4)


def test_descriptions_name_each_thing_once_and_never_offer_furniture_to_pick(pick_env):
    for _ in range(4):
        perception = _perception(pick_env.reset())
        seen = [o.name for o in perception.objects]
        assert len(seen) == len(set(seen)), describe(perception)
        furniture = {o.name for o in perception.objects if o.is_receptacle}
        picks = [c.target for c in candidate_skills(perception) if c.skill == PICK]
        assert not furniture & set(picks), describe(perception)


def test_furniture_is_within_reach_only_near_its_surface(pick_env):
    """A receptacle sits at its surface point nearest to the robot: its distance is never more than the distance
    from the robot to the centre of any of its surfaces (the simulator's receptacle bounds)."""
    obs = pick_env.reset()
    sim = _sim(pick_env)
    robot = np.array(sim.articulated_agent.base_transformation.translation)
    scene = decode_scene(obs[keys.L4T_SCENE], obs[keys.HEAD_DEPTH], _perception(obs).obs)
    for obj in (o for o in scene.objects if o.is_receptacle):
        surfaces = [r for r in sim.receptacles.values() if r.parent_object_handle == obj.handle]
        centres = [np.array(r.get_global_transform(sim).transform_point(r.bounds.center())) for r in surfaces]
        assert np.linalg.norm(obj.position - robot) <= min(np.linalg.norm(c - robot) for c in centres) + 1e-3


def _step(env, arm=None, grip=-1.0, base=(0.0, 0.0)):
    action = np.zeros(ACTION_DIM, dtype=np.float32)
    if arm is not None:
        action[ARM] = arm
    action[GRIP], action[BASE] = grip, base
    return env.step(action)


def test_single_joint_arm_action_moves_that_joint_by_the_delta_limit(pick_env):
    """habitat drives the arm's motors toward joint + action * delta_pos_limit each step: ten steps of +1 on the
    elbow move the elbow by about ten limits and the other joints far less."""
    obs = pick_env.reset()
    before = np.array(obs[keys.JOINT])
    arm = np.zeros(7)
    arm[3] = 1.0  # elbow flex
    for _ in range(10):
        obs = _step(pick_env, arm)[0]
    moved = np.array(obs[keys.JOINT]) - before
    assert abs(moved[3] - 10 * DELTA_POS_LIMIT) < 0.3 * 10 * DELTA_POS_LIMIT
    assert np.abs(np.delete(moved, 3)).max() < 0.2 * abs(moved[3])


def test_base_action_drives_forward_and_turns_left(pick_env):
    """The action layout's base slot: (forward, turn left), checked against the robot's pose in the simulator."""
    pick_env.reset()
    agent = _sim(pick_env).articulated_agent
    start = agent.base_transformation
    for _ in range(5):
        _step(pick_env, base=(0.0, 0.5))
    turned = agent.base_transformation
    forward0 = np.array(start.transform_vector(mn.Vector3(1, 0, 0)))
    forward1 = np.array(turned.transform_vector(mn.Vector3(1, 0, 0)))
    left0 = np.array(start.transform_vector(mn.Vector3(0, 1, 0)))  # base frame: x forward, y left, z up
    assert forward1 @ left0 > 0.1  # heading rotated toward the left
    assert forward1 @ forward0 > 0.9
    position = np.array(agent.base_transformation.translation)
    _step(pick_env, base=(0.5, 0.0))
    moved = np.array(agent.base_transformation.translation) - position
    if np.linalg.norm(moved) > 1e-3:  # the navmesh may block it; if it moved, it moved forward
        assert moved @ forward1 > 0.9 * np.linalg.norm(moved)


def test_pick_skill_grasps_the_target_in_the_simulator(pick_env):
    """navigate + pick, our controllers alone: on some reachable episode the suction cup grasps the target
    (habitat's is_holding and did_pick_object), and the teacher then holds it at rest."""
    from habitat_llm4teach.teacher.rearrange.skills import control

    for _ in range(6):
        obs = pick_env.reset()
        for _ in range(300):
            perception = _perception(obs)
            for skill in ("navigate to", "pick"):
                step = control(skill, perception, perception.target)
                if step.status.value != "done":
                    break
            if step.action is None:
                break
            obs, _, done, info = pick_env.step(step.action)
            if done or info["did_pick_object"]:
                break
        if info.get("did_pick_object"):
            assert obs[keys.IS_HOLDING][0] > 0.5
            return
    pytest.fail("the pick skill grasped the target in none of 6 episodes")


def test_place_scene_holds_the_target_and_names_the_episodes_goal(place_env):
    """Place starts holding the target; l4t_scene's goal is the episode's goal furniture, and its target point
    equals habitat's obj_goal_sensor (end-effector frame) moved into the base frame by the simulator."""
    obs = place_env.reset()
    sim = _sim(place_env)
    perception = _perception(obs)
    scene = decode_scene(obs[keys.L4T_SCENE], obs[keys.HEAD_DEPTH], perception.obs)
    assert obs[keys.IS_HOLDING][0] > 0.5 and scene.held_handle == scene.target_handle
    assert perception.holding is not None and perception.holding.name == perception.target
    assert scene.goal is not None and scene.goal.handle == sim.ep_info.goal_receptacles[0][0]
    goal_world = sim.articulated_agent.ee_transform().transform_point(mn.Vector3(*obs[keys.OBJ_GOAL_SENSOR][:3]))
    expected = np.array(sim.articulated_agent.base_transformation.inverted().transform_point(goal_world))
    assert np.linalg.norm(perception.target_base - expected) < 0.01


def _floor_point(sim, point) -> mn.Vector3:
    return mn.Vector3(point[0], sim.articulated_agent.base_pos[1], point[2])


def _furniture(sim) -> dict:
    robot = sim.articulated_agent.sim_obj.object_id
    return {handle.split("_:")[0]: ao for handle, ao in
            sim.get_articulated_object_manager().get_objects_by_handle_substring().items() if ao.object_id != robot}


def test_habitats_navmesh_leaves_out_the_articulated_furniture(pick_env):
    """The fault L4TRearrangeSim exists for: habitat-sim bakes only STATIC objects into RearrangeSim's recomputed
    navmesh and ReplicaCAD's furniture is DYNAMIC, so the floor under the kitchen counter is navigable."""
    pick_env.reset()
    sim = _sim(pick_env)
    assert type(sim).__name__ == "RearrangeSim"  # the configs keep habitat's own simulator
    assert sim.pathfinder.is_navigable(_floor_point(sim, _furniture(sim)["kitchen_counter"].translation))


def test_l4t_rearrange_sim_keeps_the_robot_out_of_the_articulated_furniture():
    """With ``habitat.simulator.type=L4TRearrangeSim-v0`` the navmesh leaves out the floor under the counter and the
    fridge, and under a drawer the episode opened, while the furniture stays DYNAMIC for physics."""
    import habitat_sim
    from habitat.gym import make_gym_from_config

    from habitat_llm4teach.envs.rearrange.sim import SIM_NAME, L4TRearrangeSim

    env = make_gym_from_config(compose_config("rearrange/pick_llm4teach", (*CPU, f"habitat.simulator.type={SIM_NAME}")))
    try:
        opened = None
        for _ in range(30):  # the first train episode with a kitchen-counter drawer pulled open
            env.reset()
            sim = _sim(env)
            assert isinstance(sim, L4TRearrangeSim)
            furniture = _furniture(sim)
            assert all(ao.motion_type == habitat_sim.physics.MotionType.DYNAMIC for ao in furniture.values())
            assert sim.pathfinder.is_navigable(_floor_point(sim, sim.articulated_agent.base_pos))
            for name in ("kitchen_counter", "fridge"):
                assert not sim.pathfinder.is_navigable(_floor_point(sim, furniture[name].translation)), name
            counter = furniture["kitchen_counter"]
            # A prismatic joint (drawer) out by more than the robot's radius: its link stands over open floor.
            drawers = [link for link in counter.get_link_ids()
                       if counter.get_link_joint_type(link) == habitat_sim.physics.JointType.Prismatic
                       and counter.joint_positions[counter.get_link_joint_pos_offset(link)] > 0.3]
            if drawers:
                opened = counter.get_link_scene_node(drawers[0]).absolute_translation
                break
        assert opened is not None, "no train episode opens a kitchen-counter drawer"
        assert not sim.pathfinder.is_navigable(_floor_point(sim, opened))
    finally:
        env.close()
