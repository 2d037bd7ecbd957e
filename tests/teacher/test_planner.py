"""Planners on a scripted fake LLM: probabilities, validation of any output, cache first."""

from __future__ import annotations

import numpy as np
import pytest

from teacher.llm_fakes import FakeLLM
from habitat_llm4teach.teacher.minigrid.prompts import MINIGRID_FACTS_PROMPTS, MINIGRID_PROMPTS, query_from_description
from habitat_llm4teach.teacher.planner import SamplePlanner, ScorePlanner
from habitat_llm4teach.teacher.types import SkillCall

DESCRIPTION = "Agent sees <yellow key>, <yellow door (locked)>, holds <nothing>. Goal: open the door."
QUERY = query_from_description(DESCRIPTION)


def test_score_mode_is_a_sharpened_softmax_over_candidates():
    llm = FakeLLM(scores={"pick up yellow key": -0.2, "explore": -1.0})
    planner = ScorePlanner(llm, sharpen_temperature=0.5, prompts=MINIGRID_PROMPTS)
    answer = planner.plan(QUERY)
    top = answer.plans[0]
    assert top.steps == (SkillCall("pick up", "yellow key"),)
    skills = {p.steps[0]: p.prob for p in answer.plans}
    assert sum(skills.values()) == pytest.approx(1.0)
    expected = np.exp(-0.2 / 0.5) / np.exp(-1.0 / 0.5)
    assert skills[SkillCall("pick up", "yellow key")] / skills[SkillCall("explore")] == pytest.approx(expected)
    assert [p.prob for p in answer.plans] == sorted((p.prob for p in answer.plans), reverse=True)
    assert answer.source == "llm" and answer.has_guidance


def test_score_mode_uses_the_cache_and_keys_on_settings():
    llm = FakeLLM(scores={"explore": -0.1})
    planner = ScorePlanner(llm, sharpen_temperature=1.0, prompts=MINIGRID_PROMPTS)
    planner.plan(QUERY)
    again = planner.plan(QUERY)
    assert again.source == "cache" and llm.score_calls == 1
    sharper = ScorePlanner(llm, cache=planner.cache, sharpen_temperature=0.1, prompts=MINIGRID_PROMPTS)
    assert sharper.plan(QUERY).source == "llm"  # other temperature, other answer


def test_prompt_lists_candidates_and_examples():
    planner = ScorePlanner(FakeLLM(), prompts=MINIGRID_PROMPTS)
    prompt = planner.prompt(QUERY)
    assert prompt.startswith(planner.static_prefix)
    assert DESCRIPTION in prompt and "pick up yellow key" in prompt.split(DESCRIPTION)[1]
    assert '"' not in prompt.split(DESCRIPTION)[1]  # no quotes around skills


@pytest.mark.parametrize("bad_value", [0.0, -1.0])
def test_bad_sharpen_temperature(bad_value):
    with pytest.raises(ValueError, match="sharpen_temperature"):
        ScorePlanner(FakeLLM(), sharpen_temperature=bad_value, prompts=MINIGRID_PROMPTS)


def test_sample_mode_turns_plan_frequencies_into_probabilities():
    samples = ["pick up yellow key, open yellow door"] * 3 + ["explore"]
    answer = SamplePlanner(FakeLLM(samples=samples), num_samples=8, prompts=MINIGRID_PROMPTS).plan(QUERY)
    assert answer.plans[0].text == "pick up yellow key, open yellow door"
    assert answer.plans[0].prob == pytest.approx(0.75)
    assert answer.plans[1].steps == (SkillCall("explore"),)
    assert answer.invalid == 0


GARBAGE = [
    "",
    "   ",
    "\x00\x01\x02 ###",
    "pick up the purple unicorn",  # hallucinated object
    "fly to the moon, teleport",
    "pick up yel",  # truncated
    "open yellow door, " * 500,  # over-long
    "1. pick up yellow key\n2. open yellow door",
]


def test_sample_mode_never_crashes_on_garbage_and_counts_rejections():
    answer = SamplePlanner(FakeLLM(samples=GARBAGE), num_samples=len(GARBAGE), prompts=MINIGRID_PROMPTS).plan(QUERY)
    assert answer.invalid >= 4
    assert any(p.text == "pick up yellow key, open yellow door" for p in answer.plans)
    assert sum(p.prob for p in answer.plans) == pytest.approx(1.0)


def test_no_valid_plan_means_no_guidance():
    answer = SamplePlanner(FakeLLM(samples=["", "teleport", "pick up the unicorn"]), num_samples=3, prompts=MINIGRID_PROMPTS).plan(QUERY)
    assert not answer.has_guidance and answer.plans == () and answer.invalid >= 2


def test_plan_batch_asks_each_new_description_once_in_one_call_and_matches_plan():
    other = "Agent sees <nothing>, holds <yellow key>. Goal: open the door."
    llm = FakeLLM(scores={"pick up yellow key": -0.2, "explore": -1.0, "drop yellow key": -0.5})
    planner = ScorePlanner(llm, sharpen_temperature=0.5, prompts=MINIGRID_PROMPTS)
    planner.plan(QUERY)  # cached before the batch
    queries = [query_from_description(other), QUERY, query_from_description(other)]
    answers = planner.plan_batch(queries)
    assert llm.score_batch_sizes == [1]  # only the new description, once
    assert [a.source for a in answers] == ["llm", "cache", "llm"] and answers[0] == answers[2]
    single = ScorePlanner(FakeLLM(scores=llm.scores), sharpen_temperature=0.5, prompts=MINIGRID_PROMPTS).plan(query_from_description(other))
    assert answers[0].plans == single.plans
    assert planner.plan(query_from_description(other)).source == "cache"


def test_sample_planner_plan_batch_queries_one_by_one():
    llm = FakeLLM(samples=["pick up yellow key, open yellow door"])
    planner = SamplePlanner(llm, num_samples=2, prompts=MINIGRID_PROMPTS)
    other = "Agent sees <yellow key>, holds <nothing>. Goal: open the door."
    answers = planner.plan_batch([QUERY, query_from_description(other)])
    assert llm.sample_calls == 2 and all(a.has_guidance for a in answers)


def test_planner_sees_only_the_query_text_candidates_and_targets():
    """The planner answers from the query alone (what the server receives): no perception anywhere."""
    query = query_from_description(DESCRIPTION)
    assert query.description == DESCRIPTION
    with_facts = query_from_description(DESCRIPTION, MINIGRID_FACTS_PROMPTS)  # the minigrid_facts set adds the effects
    assert with_facts.description == DESCRIPTION + "\nEffects: pick up yellow key gets the key of the locked yellow door."
    assert with_facts.candidates == query.candidates and with_facts.targets == query.targets
    assert [str(c) for c in query.candidates] == ["explore", "pick up yellow key"]
    assert query.targets_by_skill["open"] == ("yellow door",)  # nameable in a plan, not offered next
    answer = SamplePlanner(FakeLLM(samples=["pick up key, open door"]), num_samples=1, prompts=MINIGRID_PROMPTS).plan(query)
    assert answer.plans[0].text == "pick up yellow key, open yellow door"  # bare kinds resolved from the targets
