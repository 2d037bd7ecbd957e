"""Rearrangement description, candidate skills, plan parsing, prompt set and teacher actions (scripted LLM)."""

from __future__ import annotations

import numpy as np
import pytest

from habitat_llm4teach.envs.rearrange.scene import load_scene
from habitat_llm4teach.teacher.minigrid.prompts import MINIGRID_PROMPTS
from habitat_llm4teach.teacher.planner import SamplePlanner, ScorePlanner
from habitat_llm4teach.teacher.rearrange.describe import candidate_skills, describe
from habitat_llm4teach.teacher.rearrange.parse import parse_plan
from habitat_llm4teach.teacher.rearrange.perception import perceive
from habitat_llm4teach.teacher.rearrange.prompts import EXAMPLE_SCENES, PROMPT_VERSION, REARRANGE_PROMPTS, query_of
from habitat_llm4teach.teacher.rearrange.skills import BASE, GRIP
from habitat_llm4teach.teacher.rearrange.teacher import teacher_actions
from habitat_llm4teach.teacher.types import Plan, PlanDistribution, SkillCall
from helpers import REPO
from teacher.llm_fakes import FakeLLM

DATA = REPO / "tests" / "data"


@pytest.fixture(scope="module")
def pick():
    return perceive(load_scene(DATA / "rearrange_scene_pick.json"))


@pytest.fixture(scope="module")
def place():
    return perceive(load_scene(DATA / "rearrange_scene_place.json"))


def test_description_of_the_pick_scene(pick):
    text = describe(pick)
    # The apple is 1.0 m away, the table's edge within the arm's reach and ahead (the scene's own geometry).
    assert text == "Task: pick the apple. You hold nothing. <apple>: out of reach. Also within reach: <table>."
    assert "cracker box" not in text and "mug" not in text  # hidden behind the counter / out of the frame
    assert describe(pick) == text  # deterministic: the plan cache keys on it


def test_description_of_the_place_scene(place):
    text = describe(place)
    assert text == ("Task: place the apple on the kitchen counter. You hold <apple>. <kitchen counter>: out of reach. "
                    "Also within reach: <table>.")


def test_candidate_skills(pick, place):
    pick_calls = [str(c) for c in candidate_skills(pick)]
    assert pick_calls[0] == "look around"
    # The apple (the task's) and the table (within reach); not the bowl beside the apple (out of reach) nor the
    # counter (in view, out of reach): they choose no skill. No "pick table" (a receptacle), no place (free hands).
    assert pick_calls == ["look around", "navigate to apple", "navigate to table", "pick apple"]
    place_calls = [str(c) for c in candidate_skills(place)]
    assert "place apple on kitchen counter" in place_calls and "place apple on table" in place_calls
    assert not any(c.startswith("pick") for c in place_calls)


def test_parse_reads_synonyms_and_rejects_unknown_targets(pick, place):
    steps, rejected = parse_plan("1. Go to the apple, then pick up the apple.", pick)
    assert steps == [SkillCall("navigate to", "apple"), SkillCall("pick", "apple")] and rejected == 0
    steps, rejected = parse_plan("navigate to the sofa; fly away; look around", pick)
    assert steps == [SkillCall("look around")] and rejected == 2
    steps, _ = parse_plan("put the apple onto the kitchen counter", place)
    assert steps == [SkillCall("place", "apple on kitchen counter")]


def test_prompt_set_examples_are_generated_like_queries(pick):
    assert REARRANGE_PROMPTS.version == PROMPT_VERSION != MINIGRID_PROMPTS.version
    for query, next_skill, plan in REARRANGE_PROMPTS.examples:
        perception = EXAMPLE_SCENES[query.description]
        assert query == query_of(perception) and describe(perception) == query.description
        assert next_skill in [str(c) for c in query.candidates]
        assert plan.startswith(next_skill)
    planner = ScorePlanner(FakeLLM({"navigate to apple": -0.1}), prompts=REARRANGE_PROMPTS)
    prompt = planner.prompt(query_of(pick))
    assert "mobile robot" in prompt and "grid world" not in prompt and "Skills: navigate to apple; look around." in prompt
    answer = planner.plan(query_of(pick))
    assert answer.plans[0].steps == (SkillCall("navigate to", "apple"),)
    assert sum(p.prob for p in answer.plans) == pytest.approx(1.0)


def test_sample_planner_parses_rearrangement_plans(pick):
    llm = FakeLLM(samples=["navigate to apple, pick apple", "look around", "dance"])
    answer = SamplePlanner(llm, num_samples=3, prompts=REARRANGE_PROMPTS).plan(query_of(pick))
    assert {p.text for p in answer.plans} == {"navigate to apple, pick apple", "look around"}
    assert answer.invalid == 1


def test_teacher_actions_keep_one_action_per_running_plan(pick):
    plans = PlanDistribution((
        Plan((SkillCall("navigate to", "apple"), SkillCall("pick", "apple")), 0.5),
        Plan((SkillCall("look around"),), 0.3),
        Plan((SkillCall("pick", "bowl"),), 0.2),  # FAILED: the task's sensors locate only the apple
    ))
    output = teacher_actions(plans, pick, max_plans=4)
    assert output.guided and output.skill == "navigate to apple"
    assert output.weights.tolist() == pytest.approx([0.625, 0.375, 0.0, 0.0])
    assert output.actions[0][BASE][1] > 0  # turning left toward the apple
    assert np.all(output.actions[2:] == 0)
    np.testing.assert_allclose(output.mean_action, 0.625 * output.actions[0] + 0.375 * output.actions[1], rtol=1e-6)
    assert output.mean_action[GRIP] == -1.0  # hands free in every plan
    top1 = teacher_actions(plans, pick, max_plans=1)
    assert top1.weights.tolist() == [1.0]
    silent = teacher_actions(PlanDistribution((Plan((SkillCall("pick", "bowl"),), 1.0),)), pick, 2)
    assert not silent.guided and np.all(silent.weights == 0)
    with pytest.raises(ValueError, match="max_plans"):
        teacher_actions(plans, pick, 0)
