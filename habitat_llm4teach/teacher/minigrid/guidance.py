"""The MiniGrid teacher as the trainer sees it: a batch of observations -> ``teacher_probs`` and ``teacher_guided``.

Owns :class:`MiniGridTeacher`, one class over any plan source (teacher/source.py:
the planner in process, or the node's inference server): for each env it decodes
the ``minigrid_symbolic`` observation (perception.py), builds its query
(prompts.py: description, candidate skills, nameable targets), gets the plans
from its source and turns them into a distribution over the student's actions
(teacher.py). It also owns the checks of the env. Statistics, the query trace
and the ``Teacher`` interface are the core's (teacher/guidance.py).
"""

from __future__ import annotations

from typing import Any, Optional

import numpy as np
import torch
from gym import spaces
from minigrid.core.actions import Actions

from habitat_llm4teach import keys
from habitat_llm4teach.envs.minigrid.symbolic import TAIL
from habitat_llm4teach.errors import ConfigError
from habitat_llm4teach.teacher.guidance import DescriptionTrace, Teacher
from habitat_llm4teach.teacher.minigrid.perception import perceive_minigrid
from habitat_llm4teach.teacher.minigrid.prompts import MINIGRID_FACTS_PROMPTS, MINIGRID_PROMPTS
from habitat_llm4teach.teacher.minigrid.teacher import teacher_action_distribution
from habitat_llm4teach.teacher.source import PlanSource, SourceFactory, local_source

# The teacher's skills act with MiniGrid's primitive actions (minigrid.core.actions.Actions).
TEACHER_ACTION_SPACE = spaces.Discrete(len(Actions))


def check_action_space(env_action_space: spaces.Space) -> None:
    """Raise unless the env's actions are the teacher's (MiniGrid's ``Actions``, in that order)."""
    if not isinstance(env_action_space, spaces.Discrete) or env_action_space.n != TEACHER_ACTION_SPACE.n:
        raise ConfigError(
            f"the teacher's action space is {TEACHER_ACTION_SPACE} (MiniGrid actions "
            f"{[a.name for a in Actions]}), but the env's action space is {env_action_space}: "
            "the llm4teach trainer needs an env whose actions are MiniGrid's"
        )


def check_teacher_env(observation_space: spaces.Dict, action_space: spaces.Space) -> None:
    """Raise unless the env gives the teacher what it reads (each observation states its own map size) and acts with."""
    check_action_space(action_space)
    if keys.MINIGRID_SYMBOLIC not in observation_space.spaces:
        raise ConfigError(
            f"the teacher reads the '{keys.MINIGRID_SYMBOLIC}' observation, which the env does not provide "
            f"(observations: {sorted(observation_space.spaces)})"
        )
    length = observation_space[keys.MINIGRID_SYMBOLIC].shape[0]
    if length <= TAIL:
        raise ConfigError(
            f"the env's '{keys.MINIGRID_SYMBOLIC}' observation has {length} values, too few for a map, the agent, the "
            f"map size and the mission ({TAIL} besides the map): an env from before the mission was observed?"
        )


class MiniGridTeacher(Teacher):
    """MiniGrid's teacher over a plan source: observations -> each env's action distribution."""

    prompt_set = MINIGRID_PROMPTS

    def __init__(
        self, source: PlanSource, mission: Optional[str] = None, trace: Optional[DescriptionTrace] = None
    ) -> None:
        super().__init__(source, self.prompt_set.name, trace)
        self.mission = mission  # None: each env's own mission, which its observation carries
        self.num_actions = int(TEACHER_ACTION_SPACE.n)

    @classmethod
    def from_config(
        cls, teacher_config: Any, observation_space: spaces.Dict, action_space: spaces.Space,
        source_factory: SourceFactory = local_source,
    ) -> "MiniGridTeacher":
        """Check the env against the teacher first (cheap), then make the plan source (which may load the LLM)."""
        check_teacher_env(observation_space, action_space)
        source = source_factory(teacher_config, cls.prompt_set)
        trace = DescriptionTrace(teacher_config.trace_path) if teacher_config.trace_path else None
        return cls(source, teacher_config.mission, trace)

    def guide(self, symbolic: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``symbolic``: [N, S] ``minigrid_symbolic`` observations -> ``teacher_probs`` [N, A] (uniform where not
        guided) and ``teacher_guided`` [N, 1]."""
        perceptions = [perceive_minigrid(flat, self.mission) for flat in symbolic.cpu().numpy()]
        answers = self._plans([self.prompt_set.query_of(p) for p in perceptions])
        teacher_probs = np.full((len(perceptions), self.num_actions), 1 / self.num_actions, dtype=np.float32)  # [N, A]
        teacher_guided = np.zeros((len(perceptions), 1), dtype=bool)  # [N, 1]
        self.last_skills = []
        for env_index, (plans, perception) in enumerate(zip(answers, perceptions)):
            skill = ""
            if plans is not None:
                output = teacher_action_distribution(plans, perception, self.num_actions)
                teacher_probs[env_index] = output.probs
                teacher_guided[env_index, 0] = output.guided
                skill = output.skill
            self.last_skills.append(skill)
        self._count(len(perceptions), int(teacher_guided.sum()))
        return torch.from_numpy(teacher_probs), torch.from_numpy(teacher_guided)

    def guide_batch(self, observations: Any) -> dict[str, torch.Tensor]:
        teacher_probs, teacher_guided = self.guide(observations[keys.MINIGRID_SYMBOLIC])
        return {keys.TEACHER_PROBS: teacher_probs, keys.TEACHER_GUIDED: teacher_guided}


class MiniGridFactsTeacher(MiniGridTeacher):
    """The MiniGrid teacher with the ``minigrid_facts`` prompt set (teacher kind ``minigrid_facts``)."""

    prompt_set = MINIGRID_FACTS_PROMPTS
