"""The pick/place controllers alone, on the real simulator, with the plan the task calls for (no LLM).

    python scripts/probe_rearrange_skills.py pick|place [--episodes 12] [--split train]
        [--record-labels FILE [--labels-per-episode 6]]

Separates skill and physics from plan quality: each step runs ``navigate to`` the task's target
(pick) or goal (place) until it is done, then ``pick`` / ``place`` (policy.expected_skill's plan),
and counts habitat's pick_success / place_success. Run from the folder holding data/. The last line
is one JSON object.

``--record-labels`` appends real situations to a labelled set for the planner (the row format of
envs/rearrange/labels.py, label = the skill the task calls for): per episode, that many of its
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
    args = parser.parse_args()

    from habitat.config.default import patch_config
    from habitat.config.default_structured_configs import HabitatConfigPlugin, register_hydra_plugin
    from habitat.gym import make_gym_from_config
    from habitat_baselines.config.default_structured_configs import HabitatBaselinesConfigPlugin
    from hydra import compose, initialize_config_dir

    from habitat_llm4teach import registration
    from habitat_llm4teach.config.structured import CONFIG_DIR, L4TConfigPlugin
    from habitat_llm4teach.envs.rearrange.describe import describe
    from habitat_llm4teach.envs.rearrange.guidance import perceive_observation
    from habitat_llm4teach.envs.rearrange.labels import row_from_perception
    from habitat_llm4teach.envs.rearrange.policy import expected_skill
    from habitat_llm4teach.envs.rearrange.skills import ACTION_DIM, control

    registration.register_all()
    for plugin in (HabitatConfigPlugin, HabitatBaselinesConfigPlugin, L4TConfigPlugin):
        register_hydra_plugin(plugin)
    overrides = ["habitat.simulator.habitat_sim_v0.gpu_device_id=-1", f"habitat.dataset.split={args.split}"]
    with initialize_config_dir(version_base=None, config_dir=str(CONFIG_DIR)):
        config = patch_config(compose(config_name=f"rearrange/{args.task}_llm4teach", overrides=overrides))
    env = make_gym_from_config(config)
    successes, recorded = [], 0
    for episode in range(args.episodes):
        obs, done, steps = env.reset(), False, 0
        situations: dict[str, dict] = {}  # description -> its first labelled row, in order of appearance
        while not done:
            perception = perceive_observation(obs)
            label = expected_skill(perception)
            skill, _, target = _split(label)
            step = control(skill, perception, target)
            # Only where the task's plan acts: after a failure (an object dropped off the goal) it has no next skill.
            if args.record_labels is not None and step.action is not None:
                situations.setdefault(describe(perception), row_from_perception(
                    perception, label, f"recorded: {args.split} episode {episode}, step {steps}"))
            action = step.action if step.action is not None else np.zeros(ACTION_DIM, dtype=np.float32)
            obs, _, done, info = env.step(action)
            steps += 1
        successes.append(float(info[f"{args.task}_success"]))
        if args.record_labels is not None:
            rows = list(situations.values())
            picked = sorted({round(i) for i in np.linspace(0, len(rows) - 1, min(args.labels_per_episode, len(rows)))})
            with open(args.record_labels, "a") as f:
                f.writelines(json.dumps(rows[i]) + "\n" for i in picked)
            recorded += len(picked)
        print(f"episode {episode}: {args.task}_success {successes[-1]:.0f} after {steps} steps", flush=True)
    env.close()
    print(json.dumps({"task": args.task, "split": args.split, "episodes": len(successes),
                      "success": float(np.mean(successes)), "labels_recorded": recorded}))


def _split(call: str) -> tuple[str, str, str]:
    """'navigate to apple' -> ('navigate to', ' ', 'apple'); 'pick apple' -> ('pick', ' ', 'apple')."""
    from habitat_llm4teach.envs.rearrange.describe import SKILL_NAMES

    for name in sorted(SKILL_NAMES, key=len, reverse=True):
        if call.startswith(name + " "):
            return name, " ", call[len(name) + 1:]
    raise ValueError(f"not a skill call: {call!r}")


if __name__ == "__main__":
    main()
