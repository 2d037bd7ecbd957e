"""The in-process teacher ``llm4teach.teacher.env`` names: one per env, from teacher/minigrid and teacher/rearrange.

Above both env teachers (the env-independent core in teacher/ never imports them), below
the server-backed teacher (server/client.py) and the student's video overlay (distill/student.py).
"""

from __future__ import annotations

from typing import Any

from gym import spaces

from habitat_llm4teach.errors import ConfigError
from habitat_llm4teach.teacher.minigrid.guidance import InprocTeacher
from habitat_llm4teach.teacher.rearrange.guidance import RearrangeInprocTeacher

TEACHER_ENVS = ("minigrid", "rearrange")


def build_teacher(teacher_config: Any, observation_space: spaces.Dict, action_space: spaces.Space) -> Any:
    """The in-process teacher ``llm4teach.teacher.env`` names, checked against the env's spaces."""
    if teacher_config.env == "minigrid":
        return InprocTeacher.from_config(teacher_config, observation_space, action_space)
    if teacher_config.env == "rearrange":
        return RearrangeInprocTeacher.from_config(teacher_config, observation_space, action_space)
    raise ConfigError(f"llm4teach.teacher.env must be one of {TEACHER_ENVS}, got '{teacher_config.env}'")
