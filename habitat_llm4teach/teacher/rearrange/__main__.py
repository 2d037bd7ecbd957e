"""Dry run of the rearrangement teacher on a scene file, without a simulator.

    python -m habitat_llm4teach.teacher.rearrange dry-run tests/data/rearrange_scene_pick.json \\
        [--model PATH_OR_ID] [--mode score|sample] [--cache plans.json]

Prints the whole data path: perceived objects -> description -> candidate skills
-> the LLM's plan distribution -> the first teacher action vector (the
plan-probability-weighted mean of the plans' current skill actions).
"""

from __future__ import annotations

import argparse
import logging
import math
import sys

import numpy as np

from habitat_llm4teach.config.structured import TeacherConfig
from habitat_llm4teach.envs.rearrange.scene import SceneError, load_scene
from habitat_llm4teach.teacher.cache import PlanCacheError
from habitat_llm4teach.teacher.llm import ModelLoadError, PromptTemplateError
from habitat_llm4teach.teacher.planner import build_planner
from habitat_llm4teach.teacher.rearrange.describe import where
from habitat_llm4teach.teacher.rearrange.perception import perceive
from habitat_llm4teach.teacher.rearrange.prompts import REARRANGE_PROMPTS, query_of
from habitat_llm4teach.teacher.rearrange.skills import ARM, BASE, GRIP
from habitat_llm4teach.teacher.rearrange.teacher import teacher_actions

MAX_PLANS = 4


def _vector(values: np.ndarray) -> str:
    return "[" + ", ".join(f"{v:+.3f}" for v in values) + "]"


def dry_run(args: argparse.Namespace) -> int:
    scene = load_scene(args.scene)
    perception = perceive(scene)
    print("Perceived objects (head camera: in view and not occluded):")
    for obj in perception.objects:
        print(f"  {obj.name:<20} {obj.handle:<32} {where(perception, obj)} (bearing {math.degrees(obj.bearing):+.0f} deg)")
    if perception.goal is not None:
        state = "in view" if perception.goal.visible else "out of view"
        print(f"  goal receptacle: {perception.goal.name} ({perception.goal.handle}), {where(perception, perception.goal)}, {state}")
    print(f"  holding: {perception.holding.name if perception.holding is not None else 'nothing'}")
    query = query_of(perception)
    print(f"\nDescription:\n  {query.description}")
    print(f"\nCandidate next skills (runnable now):\n  {'; '.join(str(c) for c in query.candidates)}")
    planner = build_planner(TeacherConfig(model=args.model, mode=args.mode, cache_path=args.cache), REARRANGE_PROMPTS)
    plans = planner.plan(query)
    planner.cache.save()
    print(f"\nPlan distribution ({args.mode} mode, {planner.llm.name}, source {plans.source}, {plans.invalid} invalid):")
    for plan in plans.plans:
        print(f"  {plan.prob:.3f}  {plan.text}")
    output = teacher_actions(plans, perception, MAX_PLANS)
    print("\nFirst teacher action:")
    if not output.guided:
        print("  no guidance (no plan has a runnable current step)")
        return 0
    for k in np.flatnonzero(output.weights):
        print(f"  plan action {k}: weight {output.weights[k]:.3f} {_vector(output.actions[k])}")
    action = output.mean_action
    print(f"  mean action [arm_action(7), grip_action, base_vel(2)]: {_vector(action)}")
    print(f"    arm {_vector(action[ARM])}  grip {action[GRIP]:+.3f}  base (forward, turn left) {_vector(action[BASE])}")
    print(f"  current skill of the most probable plan: {output.skill}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m habitat_llm4teach.teacher.rearrange", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("dry-run", help="teacher on a scene file (JSON, see tests/data/rearrange_scene_pick.json)")
    run.add_argument("scene")
    run.add_argument("--model", default=TeacherConfig.model)
    run.add_argument("--mode", choices=["score", "sample"], default=TeacherConfig.mode)
    run.add_argument("--cache", default=None, help="JSON plan cache to read and update")
    run.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING, stream=sys.stderr)
    try:
        return dry_run(args)
    except (SceneError, ModelLoadError, PlanCacheError, PromptTemplateError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
