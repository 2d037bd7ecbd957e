"""The teacher kinds: for each env, its teacher class, prompt set and the distillation components it trains with.

``llm4teach.teacher.env`` names a kind; this table is the one place that maps it to
code, so no string switches are scattered around: the trainer checks its
updater and storage names against it (distill/trainer.py), the inference server
looks prompt sets up in it by the name a request carries (server/server.py), and
:func:`build_teacher` builds the kind's teacher over a plan source. The config
group ``llm4teach/teacher_kind`` (configs/habitat/llm4teach/teacher_kind/) sets the
same names in YAML.

Above both env teachers (the env-independent core in teacher/ never imports them),
below the server (server/) and the trainer (distill/).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gym import spaces

from habitat_llm4teach.errors import ConfigError
from habitat_llm4teach.teacher.guidance import Teacher
from habitat_llm4teach.teacher.minigrid.guidance import MiniGridFactsTeacher, MiniGridTeacher
from habitat_llm4teach.teacher.planner import PromptSet
from habitat_llm4teach.teacher.rearrange.guidance import RearrangeTeacher
from habitat_llm4teach.teacher.source import SourceFactory, local_source


@dataclass(frozen=True)
class TeacherKind:
    """One env's teacher and the habitat-baselines components (registered names) its student trains with."""

    name: str
    teacher: type[Teacher]  # its from_config(teacher config, observation space, action space, source_factory)
    updater: str  # habitat_baselines.updater_name (or a registered subclass)
    distrib_updater: str  # habitat_baselines.distrib_updater_name
    rollout_storage: str  # habitat_baselines.rollout_storage_name
    continuous: bool  # continuous actions (Gaussian student) rather than discrete

    @property
    def prompts(self) -> PromptSet:
        return self.teacher.prompt_set


TEACHER_KINDS = {
    kind.name: kind
    for kind in (
        TeacherKind("minigrid", MiniGridTeacher, "L4TDistillPPO", "L4TDistillDDPPO", "L4TRolloutStorage", False),
        TeacherKind(
            "minigrid_facts", MiniGridFactsTeacher, "L4TDistillPPO", "L4TDistillDDPPO", "L4TRolloutStorage", False
        ),
        TeacherKind(
            "rearrange", RearrangeTeacher, "L4TContinuousDistillPPO", "L4TContinuousDistillDDPPO",
            "L4TContinuousRolloutStorage", True,
        ),
    )
}
# The prompt sets the inference server answers for, by the name a request carries.
PROMPT_SETS = {kind.prompts.name: kind.prompts for kind in TEACHER_KINDS.values()}


def teacher_kind(teacher_config: Any) -> TeacherKind:
    """The kind ``llm4teach.teacher.env`` names (clear error otherwise)."""
    kind = TEACHER_KINDS.get(teacher_config.env)
    if kind is None:
        raise ConfigError(f"llm4teach.teacher.env must be one of {tuple(TEACHER_KINDS)}, got '{teacher_config.env}'")
    return kind


def build_teacher(
    teacher_config: Any, observation_space: spaces.Dict, action_space: spaces.Space,
    source_factory: SourceFactory = local_source,
) -> Teacher:
    """The teacher ``llm4teach.teacher.env`` names, checked against the env's spaces, over the plan source
    ``source_factory`` makes (the planner in this process by default)."""
    return teacher_kind(teacher_config).teacher.from_config(teacher_config, observation_space, action_space, source_factory)
