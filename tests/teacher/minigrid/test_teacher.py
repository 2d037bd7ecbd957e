"""Plans + perception -> teacher action distribution; end to end, a scripted rule planner solves the paper tasks."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pytest
from minigrid.core.actions import Actions
from minigrid.core.constants import COLOR_TO_IDX, OBJECT_TO_IDX, STATE_TO_IDX

from habitat_llm4teach import keys
from habitat_llm4teach.envs.minigrid.adapter import MiniGridEnvSpec, make_minigrid_env
from habitat_llm4teach.envs.minigrid.tasks import MISSION, PAPER_TASKS
from habitat_llm4teach.teacher.minigrid.describe import describe
from habitat_llm4teach.teacher.minigrid.parse import parse_plan
from habitat_llm4teach.envs.minigrid.symbolic import encode_symbolic
from habitat_llm4teach.teacher.minigrid.perception import perceive_minigrid
from habitat_llm4teach.teacher.minigrid.skills import DO_NOTHING
from habitat_llm4teach.teacher.minigrid.teacher import teacher_action_distribution
from habitat_llm4teach.teacher.minigrid.types import Perception
from habitat_llm4teach.teacher.types import Plan, PlanDistribution, SkillCall

NUM_ACTIONS = len(Actions)
W = H = 6


def room(carried: tuple[int, int, int] = (0, 0, 0)) -> Perception:
    """A walled 4x4 room, agent at (1, 1) facing east, keys: yellow (3, 1), red (1, 3); locked yellow door at (5, 2)."""
    grid = np.zeros((W, H, 3), dtype=np.int64)
    grid[:, :] = (OBJECT_TO_IDX["wall"], COLOR_TO_IDX["grey"], 0)
    grid[1:5, 1:5] = (OBJECT_TO_IDX["empty"], 0, 0)
    grid[3, 1] = (OBJECT_TO_IDX["key"], COLOR_TO_IDX["yellow"], 0)
    grid[1, 3] = (OBJECT_TO_IDX["key"], COLOR_TO_IDX["red"], 0)
    grid[5, 2] = (OBJECT_TO_IDX["door"], COLOR_TO_IDX["yellow"], STATE_TO_IDX["locked"])
    return perceive_minigrid(encode_symbolic(grid, np.array([1, 1, 0, *carried]), MISSION))


PICK_YELLOW = SkillCall("pick up", "yellow key")  # next action: forward
PICK_RED = SkillCall("pick up", "red key")  # next action: turn right
OPEN_YELLOW = SkillCall("open", "yellow door")  # FAILED without the yellow key
DROP_RED = SkillCall("drop", "red key")  # DONE when not holding it


def plans(*weighted: tuple[float, tuple[SkillCall, ...]]) -> PlanDistribution:
    return PlanDistribution(tuple(Plan(steps, prob) for prob, steps in weighted))


def test_mixes_current_actions_by_plan_probability():
    out = teacher_action_distribution(plans((0.6, (PICK_YELLOW, OPEN_YELLOW)), (0.4, (PICK_RED,))), room(), NUM_ACTIONS)
    expected = np.zeros(NUM_ACTIONS)
    expected[Actions.forward], expected[Actions.right] = 0.6, 0.4
    np.testing.assert_allclose(out.probs, expected)
    assert out.guided and out.skill == "pick up yellow key"


def test_failed_and_finished_plans_drop_out_and_the_rest_is_renormalised():
    out = teacher_action_distribution(
        plans((0.5, (OPEN_YELLOW, PICK_YELLOW)), (0.1, (DROP_RED,)), (0.3, (PICK_YELLOW,)), (0.1, (PICK_RED,))),
        room(),
        NUM_ACTIONS,
    )
    assert out.probs[Actions.forward] == pytest.approx(0.75) and out.probs[Actions.right] == pytest.approx(0.25)
    assert out.probs.sum() == pytest.approx(1.0) and out.skill == "pick up yellow key"


def test_done_steps_are_skipped_to_the_current_step():
    out = teacher_action_distribution(plans((1.0, (DROP_RED, PICK_RED))), room(), NUM_ACTIONS)
    assert out.skill == "pick up red key" and out.probs[Actions.right] == 1.0


def test_holding_the_key_makes_open_the_current_step():
    holding_yellow = (OBJECT_TO_IDX["key"], COLOR_TO_IDX["yellow"], 0)
    out = teacher_action_distribution(plans((1.0, (PICK_YELLOW, OPEN_YELLOW))), room(holding_yellow), NUM_ACTIONS)
    assert out.guided and out.skill == "open yellow door"


@pytest.mark.parametrize(
    "distribution",
    [PlanDistribution(()), plans((1.0, (OPEN_YELLOW,))), plans((0.5, (DROP_RED,)), (0.5, (OPEN_YELLOW, PICK_RED)))],
)
def test_no_contributing_plan_is_uniform_and_unguided(distribution):
    out = teacher_action_distribution(distribution, room(), NUM_ACTIONS)
    np.testing.assert_allclose(out.probs, np.full(NUM_ACTIONS, 1 / NUM_ACTIONS))
    assert not out.guided and out.skill == ""


def test_action_outside_the_students_space_raises_naming_both():
    with pytest.raises(ValueError, match=r"action 6.*num_actions=6"):
        teacher_action_distribution(plans((1.0, (SkillCall(DO_NOTHING),))), room(), 6)
    with pytest.raises(ValueError, match="num_actions"):
        teacher_action_distribution(PlanDistribution(()), room(), 0)


# --- end to end: a scripted "LLM" that writes plan text by the prompt's rules ---------------------------------


def scripted_llm(perception: Perception) -> str:
    """Explore until key and door are seen; pick up the door's key (dropping a wrong one first); open the door.

    Like the planner prompt's rules, a key seen before any door is picked up, which
    is when a wrong-colour key ends up in hand.
    """
    doors = [o for o in perception.objects if o.kind == "door" and o.state != "open"]
    keys_seen = [o for o in perception.objects if o.kind == "key"]
    held = perception.holding
    if not doors:
        return f"Next skill: pick up the {keys_seen[0].name}." if held is None and keys_seen else "explore"
    door = doors[0]
    if held is not None and held.color == door.color:
        return f"open the {door.name}"
    if not any(k.color == door.color for k in keys_seen):
        return "explore"
    steps = [f"pick up the {door.color} key", f"open {door.name}"]
    if held is not None:
        steps.insert(0, f"drop the {held.name}")
    return "\n".join(f"{i}. {step}" for i, step in enumerate(steps, 1))


@lru_cache(maxsize=None)
def scripted_episodes(task: str, seeds: int = 40) -> tuple[tuple[bool, int, bool, frozenset[str]], ...]:
    """Per seed: (success, episode length, ended early without success, skill steps used), acting by argmax."""
    results = []
    for seed in range(seeds):
        env = make_minigrid_env(MiniGridEnvSpec(PAPER_TASKS[task], "historical", 64, 0, seed, "t-"))
        obs, used = env.reset(), set()
        for step in range(1, 151):
            perception = perceive_minigrid(obs[keys.MINIGRID_SYMBOLIC])
            assert describe(perception).endswith(f"Goal: {MISSION}.")
            calls, rejected = parse_plan(scripted_llm(perception), perception)
            assert rejected == 0, scripted_llm(perception)
            out = teacher_action_distribution(PlanDistribution((Plan(tuple(calls), 1.0),)), perception, NUM_ACTIONS)
            assert out.guided, (task, seed, step, describe(perception))
            used.add(out.skill)
            obs, _, done, info = env.step(int(np.argmax(out.probs)))
            if done:
                break
        success = info[keys.SUCCESS] > 0
        results.append((success, step, done and not success and step < 150, frozenset(used)))
        env.close()
    return tuple(results)


@pytest.mark.parametrize(
    "task,min_success",
    [("SimpleDoorKey", 0.95), ("ColoredDoorKey", 0.95), ("LavaDoorKey", 0.90), ("TwoDoor", 0.90)],
)
def test_scripted_teacher_solves_the_paper_tasks(task, min_success):
    episodes = scripted_episodes(task)
    rate = np.mean([success for success, *_ in episodes])
    mean_length = np.mean([length for _, length, *_ in episodes])
    print(f"{task}: success {rate:.3f}, mean episode length {mean_length:.1f}")
    assert rate >= min_success, f"{task}: {rate:.3f} < {min_success}"
    assert not any(died for *_, died, _ in episodes), "an episode ended early without success (lava)"


def test_scripted_teacher_drops_the_decoy_key_in_colored_door_key():
    assert any(skill.startswith("drop ") for *_, used in scripted_episodes("ColoredDoorKey") for skill in used)
