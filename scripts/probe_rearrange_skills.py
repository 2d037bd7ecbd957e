"""The pick/place controllers alone, on the real simulator, with the plan the task calls for (no LLM).

    python scripts/probe_rearrange_skills.py pick|place [--episodes 12] [--split train]
        [--record-labels FILE [--labels-per-episode 6]] [--teacher [--cache FILE]] [KEY=VALUE ...]

Separates skill and physics from plan quality: each step runs ``navigate to`` the task's target
(pick) or goal (place) until it is done, then ``pick`` / ``place`` (policy.expected_skill's plan),
and counts habitat's pick_success / place_success. Each failed episode is given its reason (habitat's
force_terminate with the robot part and the object of the strongest contact, a wrong or dropped object, or
the step limit with the skill then running and how far the robot still was), so what limits the controllers
can be told apart. Each episode also names the receptacle the task's object starts in (pick) or goes to
(place), from the episode, and the summary counts success per kind of receptacle: an open drawer, the
fridge, the sink or a surface. Run from the folder holding data/. The last line is one JSON object (with the
count of each reason, the success per receptacle kind and, per episode, the step navigation ended and the
simulator's floor distance from the base to the target point then).

``--teacher`` lets the LLM teacher choose the skill instead (its most probable plan's action, as the
``rearrange/*_teacher`` evaluation does) and reports, per episode, on how many steps its skill differed
from the task's and which wrong skill it chose most: with the same reasons this tells plan failures from
controller failures episode by episode.

``--record-labels`` appends real situations to a labelled set for the planner (the row format of
teacher/rearrange/labels.py, label = the skill the task calls for): per episode, that many of its
distinct descriptions where that skill acts, evenly spaced over the episode, so approach and
manipulation both appear.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("task", choices=["pick", "place"])
    parser.add_argument("--episodes", type=int, default=12)
    parser.add_argument("--split", default="train")
    parser.add_argument("--record-labels", type=Path, help="append labelled situations (JSON lines) to this file")
    parser.add_argument("--labels-per-episode", type=int, default=6)
    parser.add_argument("--teacher", action="store_true", help="the LLM teacher chooses the skills (default: the task's plan)")
    parser.add_argument("--cache", type=Path, help="--teacher: the plan cache file (reused and extended)")
    parser.add_argument("overrides", nargs="*", help="config overrides, e.g. habitat.simulator.type=L4TRearrangeSim-v0")
    args = parser.parse_intermixed_args()

    from habitat.config.default import patch_config
    from habitat.config.default_structured_configs import HabitatConfigPlugin, register_hydra_plugin
    from habitat.gym import make_gym_from_config
    from habitat_baselines.config.default_structured_configs import HabitatBaselinesConfigPlugin
    from hydra import compose, initialize_config_dir

    from habitat_llm4teach import registration
    from habitat_llm4teach.config.structured import CONFIG_DIR, L4TConfigPlugin
    from habitat_llm4teach.teacher.rearrange.describe import describe
    from habitat_llm4teach.teacher.rearrange.guidance import perceive_observation
    from habitat_llm4teach.teacher.rearrange.labels import row_from_perception
    from habitat_llm4teach.teacher.rearrange.policy import expected_skill
    from habitat_llm4teach.teacher.rearrange.skills import ACTION_DIM, control

    registration.register_all()
    for plugin in (HabitatConfigPlugin, HabitatBaselinesConfigPlugin, L4TConfigPlugin):
        register_hydra_plugin(plugin)
    overrides = ["habitat.simulator.habitat_sim_v0.gpu_device_id=-1", f"habitat.dataset.split={args.split}"]
    if args.cache is not None:
        overrides.append(f"llm4teach.teacher.cache_path={args.cache}")
    overrides += args.overrides
    with initialize_config_dir(version_base=None, config_dir=str(CONFIG_DIR)):
        config = patch_config(compose(config_name=f"rearrange/{args.task}_llm4teach", overrides=overrides))
    env = make_gym_from_config(config)
    teacher = None
    if args.teacher:
        from habitat_llm4teach.teacher.rearrange.guidance import RearrangeTeacher

        teacher = RearrangeTeacher.from_config(config.llm4teach.teacher, env.observation_space, env.action_space)
    max_steps = int(config.habitat.environment.max_episode_steps)
    habitat_env = env.unwrapped.habitat_env  # habitat's Env under the gym wrapper: the episode and the simulator
    successes, reasons, recorded, by_receptacle, navigations = [], {}, 0, {}, []
    for episode in range(args.episodes):
        obs, done, steps = env.reset(), False, 0
        navigated_at, navigated_distance = None, None  # when the task's plan first moved past navigation
        wrong_skills: dict[str, int] = {}  # --teacher: the teacher's skill where it differs from the task's -> steps
        situations: dict[str, dict] = {}  # description -> its first labelled row, in order of appearance
        while not done:
            perception = perceive_observation(obs)
            label = expected_skill(perception)
            skill, _, target = _split(label)
            if navigated_at is None and skill != "navigate to":
                navigated_at, navigated_distance = steps, _target_floor_distance(habitat_env.sim)
            step = control(skill, perception, target)
            last = (label, step.status.value, perception)
            if teacher is not None:
                chosen, teacher_action = _teacher_step(teacher, obs)
                if chosen != label:
                    wrong_skills[chosen or "(no guidance)"] = wrong_skills.get(chosen or "(no guidance)", 0) + 1
            # Only where the task's plan acts: after a failure (an object dropped off the goal) it has no next skill.
            if args.record_labels is not None and step.action is not None:
                situations.setdefault(describe(perception), row_from_perception(
                    perception, label, f"recorded: {args.split} episode {episode}, step {steps}"))
            action = step.action if step.action is not None else np.zeros(ACTION_DIM, dtype=np.float32)
            if teacher is not None:
                action = teacher_action
            obs, _, done, info = env.step(action)
            steps += 1
        successes.append(float(info[f"{args.task}_success"]))
        navigations.append({"steps": navigated_at, "floor_distance_m": navigated_distance})
        reason = "success" if successes[-1] else _failure_reason(args.task, info, steps, max_steps, *last)
        if reason.startswith("force"):
            reason += _strongest_robot_contact(habitat_env.sim)
        receptacle = _receptacle(args.task, habitat_env.current_episode)
        counts = by_receptacle.setdefault(_receptacle_kind(receptacle), [0, 0])
        counts[0] += int(successes[-1])
        counts[1] += 1
        reasons[reason.split(":")[0]] = reasons.get(reason.split(":")[0], 0) + 1
        if args.record_labels is not None:
            rows = list(situations.values())
            picked = sorted({round(i) for i in np.linspace(0, len(rows) - 1, min(args.labels_per_episode, len(rows)))})
            with open(args.record_labels, "a") as f:
                f.writelines(json.dumps(rows[i]) + "\n" for i in picked)
            recorded += len(picked)
        plan_note = ""
        if teacher is not None:
            teacher.save_cache()
            worst = max(wrong_skills, key=wrong_skills.get, default=None)
            plan_note = f"; teacher's skill differed on {sum(wrong_skills.values())} steps" + (
                f", most often '{worst}' ({wrong_skills[worst]})" if worst else "")
        print(f"episode {episode}: {args.task}_success {successes[-1]:.0f} after {steps} steps, {receptacle} "
              f"({reason}{plan_note})", flush=True)
    env.close()
    print(json.dumps({"task": args.task, "split": args.split, "episodes": len(successes),
                      "success": float(np.mean(successes)), "reasons": reasons, "labels_recorded": recorded,
                      "success_by_receptacle": {kind: f"{won}/{n}" for kind, (won, n) in sorted(by_receptacle.items())},
                      "skills_by": "teacher" if teacher is not None else "task",
                      # per episode: the step navigation ended (the task's plan moved on; null: never) and the
                      # simulator's floor distance from the base to the target point then
                      "navigation": navigations}))


def _teacher_step(teacher, obs: dict) -> tuple[str, np.ndarray]:
    """The teacher's current skill and action for one env (its most probable plan; holding still, grip kept,
    without guidance), as the teacher-only policy acts."""
    import torch

    from habitat_llm4teach import keys
    from habitat_llm4teach.teacher.rearrange.skills import ACTION_DIM, GRIP, GRIP_HOLD, GRIP_RELEASE

    guidance = teacher.guide_batch({k: torch.as_tensor(np.asarray(v))[None] for k, v in obs.items()})
    if not bool(guidance[keys.TEACHER_GUIDED][0, 0]):
        action = np.zeros(ACTION_DIM, dtype=np.float32)
        action[GRIP] = GRIP_HOLD if np.asarray(obs[keys.IS_HOLDING])[0] > 0.5 else GRIP_RELEASE
        return "", action
    plan = int(np.argmax(guidance[keys.TEACHER_WEIGHTS][0].numpy()))
    return teacher.last_skills[0], guidance[keys.TEACHER_ACTIONS][0, plan].numpy()


def _target_floor_distance(sim) -> float:
    """Floor distance (m) from the robot's base to the task's target point (pick: the object; place: its goal),
    from the simulator's own poses."""
    targets, goals = sim.get_targets()
    if sim.grasp_mgr.is_grasped:  # place: the goal point
        point = np.asarray(goals[0])
    else:
        point = np.array(sim.get_rigid_object_manager().get_object_by_id(sim.scene_obj_ids[targets[0]]).translation)
    from habitat_llm4teach.envs.rearrange.steering import floor_distance

    return floor_distance(point, np.array(sim.articulated_agent.base_pos))


def _failure_reason(task: str, info: dict, steps: int, max_steps: int, label: str, status: str, perception) -> str:
    """Why a failed episode ended, from habitat's measures and the last step's perception:

    - 'force': the robot pushed past force_terminate's limit;
    - 'wrong object' (pick): the gripper took another object, which ends habitat's pick episode;
    - 'dropped': the object left the gripper before success (pulled further from it than hold_thresh);
    - 'released off the goal' (place): let go elsewhere, which ends habitat's place episode;
    - 'step limit: <skill> <status>, ...': the episode ran out with that skill still at work (or done);
    - else 'ended'.
    """
    import numpy as np

    from habitat_llm4teach.teacher.rearrange.reach import SHOULDER

    if info.get("force_terminate"):
        return f"force: during '{label}'"
    # The last observation comes before habitat's end-of-step checks: it still shows the object held when the
    # hold constraint broke (habitat then drops it and ends the episode).
    held = perception.holding.name if perception.holding is not None else None
    if task == "pick" and held is not None and held != perception.target and steps < max_steps:
        return f"wrong object: {held}"
    if held is not None and steps < max_steps:
        return f"dropped: during '{label}'"
    if task == "pick" and info.get("did_pick_object") and held is None:
        return "dropped"
    if task == "place" and held is None and steps < max_steps:
        return "released off the goal"
    if steps >= max_steps:
        to_go = float(np.linalg.norm(perception.target_base - SHOULDER)) if perception.target_base is not None else float("nan")
        return f"step limit: '{label}' {status}, target {to_go:.2f} m from the shoulder"
    return f"ended: during '{label}' ({'holding' if held else 'empty-handed'})"


def _receptacle(task: str, episode) -> str:
    """Where the task's object starts (pick: its receptacle, from the episode's name_to_receptacle) or goes
    (place: the goal furniture and link, from goal_receptacles), with that furniture's opened joints (an open
    drawer or fridge door), e.g. 'kitchen_counter drawer_middle_top (open: 5)'."""
    if task == "pick":
        entry = episode.name_to_receptacle.get(next(iter(episode.targets)), "?|?")
        handle, name = (entry.split("|", 1) + ["?"])[:2]
    else:
        handle, link = (list(episode.goal_receptacles[0]) + [None])[:2] if episode.goal_receptacles else ("?", None)
        name = f"link {link}" if link is not None else "top"
    furniture = handle.split(":")[0].rstrip("_").replace("frl_apartment_", "")
    short = name.replace("receptacle_aabb_", "").replace("frl_apartment_", "").replace("_" + furniture, "")
    short = short.replace("refrigerator", "") or short
    opened = [joint for joint, value in (episode.ao_states or {}).get(handle, {}).items() if value]
    return f"{furniture} {short}" + (f" (open: {', '.join(opened)})" if opened else "")


def _receptacle_kind(receptacle: str) -> str:
    """'drawer', 'fridge', 'sink' or 'surface' (tables, counters, the sofa, chairs, shelves)."""
    for kind, marks in (("drawer", ("drawer",)), ("fridge", ("fridge", "refrigerator")), ("sink", ("sink",))):
        if any(mark in receptacle for mark in marks):
            return kind
    return "surface"


def _strongest_robot_contact(sim) -> str:
    """' (<robot part> against <object>)' for the strongest contact the robot makes now, '' when none: which
    part pushed past force_terminate's limit (the base, link -1, or an arm link) and into what."""
    robot_id = sim.articulated_agent.sim_obj.object_id
    contacts = [c for c in sim.get_physics_contact_points() if robot_id in (c.object_id_a, c.object_id_b)
                and c.object_id_a != c.object_id_b]
    if not contacts:
        return ""
    strongest = max(contacts, key=lambda c: abs(c.normal_force))
    robot_is_a = strongest.object_id_a == robot_id
    link = strongest.link_id_a if robot_is_a else strongest.link_id_b
    other_id = strongest.object_id_b if robot_is_a else strongest.object_id_a
    other = "the stage"
    for manager in (sim.get_rigid_object_manager(), sim.get_articulated_object_manager()):
        if manager.get_library_has_id(other_id):
            other = manager.get_object_by_id(other_id).handle.split(":")[0].rstrip("_")
    part = "base" if link < 0 else f"arm link {link}"
    return f" ({part} against {other}, {abs(strongest.normal_force):.0f} N)"


def _split(call: str) -> tuple[str, str, str]:
    """'navigate to apple' -> ('navigate to', ' ', 'apple'); 'pick apple' -> ('pick', ' ', 'apple')."""
    from habitat_llm4teach.teacher.rearrange.describe import SKILL_NAMES

    for name in sorted(SKILL_NAMES, key=len, reverse=True):
        if call.startswith(name + " "):
            return name, " ", call[len(name) + 1:]
    raise ValueError(f"not a skill call: {call!r}")


if __name__ == "__main__":
    main()
