"""The MiniGrid teacher as the trainer sees it: a batch of observations -> ``teacher_probs`` and ``teacher_guided``.

Owns the blocking, in-process teacher used during training: for each env it
decodes the ``minigrid_symbolic`` observation (perception.py), describes it
(describe.py), asks the planner (teacher/planner.py with prompts.py, plan cache
first) and turns the plans into a distribution over the student's actions
(teacher.py). It also owns the checks of the env shared with the server-backed
teacher (server/client.py, same interface). Statistics and the description
trace are the core's (teacher/guidance.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional

import numpy as np
import torch
from gym import spaces
from minigrid.core.actions import Actions

from habitat_llm4teach import keys
from habitat_llm4teach.errors import ConfigError
from habitat_llm4teach.teacher.guidance import DescriptionTrace, TeacherGuidance, TeacherStats
from habitat_llm4teach.teacher.minigrid.describe import describe
from habitat_llm4teach.teacher.minigrid.perception import grid_size_from_symbolic_length, perceive_minigrid
from habitat_llm4teach.teacher.minigrid.prompts import MINIGRID_PROMPTS
from habitat_llm4teach.teacher.minigrid.teacher import teacher_action_distribution
from habitat_llm4teach.teacher.planner import build_planner

if TYPE_CHECKING:
    from habitat_llm4teach.teacher.minigrid.types import Perception
    from habitat_llm4teach.teacher.planner import Planner

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


def check_teacher_env(observation_space: spaces.Dict, action_space: spaces.Space) -> tuple[int, int]:
    """Raise unless the env gives the teacher what it reads and acts with; the grid size (W, H) of its map."""
    check_action_space(action_space)
    if keys.MINIGRID_SYMBOLIC not in observation_space.spaces:
        raise ConfigError(
            f"the teacher reads the '{keys.MINIGRID_SYMBOLIC}' observation, which the env does not provide "
            f"(observations: {sorted(observation_space.spaces)})"
        )
    return grid_size_from_symbolic_length(observation_space[keys.MINIGRID_SYMBOLIC].shape[0])


class MiniGridGuidance:
    """The trainer's entry shared by the MiniGrid teachers (in process and server-backed), on top of their ``guide``."""

    grid_size: tuple[int, int]
    mission: str
    trace: Optional[DescriptionTrace]

    def guide(self, symbolic: torch.Tensor) -> TeacherGuidance:
        raise NotImplementedError

    def describe_batch(self, symbolic: torch.Tensor) -> tuple[list["Perception"], list[str]]:
        """[N, S] ``minigrid_symbolic`` observations -> each env's perceived objects and description (traced)."""
        perceptions = [perceive_minigrid(flat, *self.grid_size, self.mission) for flat in symbolic.cpu().numpy()]
        descriptions = [describe(p) for p in perceptions]
        if self.trace is not None:
            self.trace.record(descriptions)
        return perceptions, descriptions

    def guide_batch(self, observations: Any) -> dict[str, torch.Tensor]:
        """A batch of observations -> the rollout-storage fields of the teacher's guidance."""
        guidance = self.guide(observations[keys.MINIGRID_SYMBOLIC])
        return {keys.TEACHER_PROBS: guidance.teacher_probs, keys.TEACHER_GUIDED: guidance.teacher_guided}


class InprocTeacher(MiniGridGuidance):
    """Blocking in-process teacher: one planner, queried env by env."""

    def __init__(
        self, planner: "Planner", grid_size: tuple[int, int], mission: str, trace: Optional[DescriptionTrace] = None
    ) -> None:
        self.planner = planner
        self.grid_size = grid_size
        self.mission = mission
        self.trace = trace
        self.num_actions = int(TEACHER_ACTION_SPACE.n)
        self.stats = TeacherStats(planner.cache)
        # Per env of the latest batch, for video overlays: the most probable plan and its current skill ("" unguided).
        self.last_plans: list[str] = []
        self.last_skills: list[str] = []

    @classmethod
    def from_config(cls, teacher_config: Any, observation_space: spaces.Dict, action_space: spaces.Space) -> "InprocTeacher":
        """Check the env against the teacher first (cheap), then load the planner and its LLM."""
        grid_size = check_teacher_env(observation_space, action_space)
        trace = DescriptionTrace(teacher_config.trace_path) if teacher_config.trace_path else None
        return cls(build_planner(teacher_config, MINIGRID_PROMPTS), grid_size, teacher_config.mission, trace)

    @property
    def cache_path(self) -> Optional[str]:
        path = self.planner.cache.path
        return None if path is None else str(path.resolve())

    def guide(self, symbolic: torch.Tensor) -> TeacherGuidance:
        """``symbolic``: [N, S] ``minigrid_symbolic`` observations -> the teacher's guidance for each env."""
        perceptions, descriptions = self.describe_batch(symbolic)
        teacher_probs = np.empty((len(descriptions), self.num_actions), dtype=np.float32)  # [N, A]
        teacher_guided = np.empty((len(descriptions), 1), dtype=bool)  # [N, 1]
        self.last_plans, self.last_skills = [], []
        for env_index, (description, perception) in enumerate(zip(descriptions, perceptions)):
            plans = self.planner.plan(description, perception)
            output = teacher_action_distribution(plans, perception, self.num_actions)
            teacher_probs[env_index] = output.probs
            teacher_guided[env_index, 0] = output.guided
            top = max(plans.plans, key=lambda plan: plan.prob, default=None)
            self.last_plans.append(f"{top.text} ({top.prob:.2f})" if top is not None else "")
            self.last_skills.append(output.skill)
        self.stats.count(len(descriptions), int(teacher_guided.sum()))
        return TeacherGuidance(torch.from_numpy(teacher_probs), torch.from_numpy(teacher_guided))

    def pop_stats(self) -> dict[str, float]:
        """Plan-cache hit rate and guided fraction since the last call."""
        return self.stats.pop()

    def save_cache(self) -> None:
        self.planner.cache.save()

    def close(self) -> None:
        if self.trace is not None:
            self.trace.close()
