"""Imports every module that registers something with habitat-baselines or Hydra.

Registers our structured configs with Hydra's ConfigStore, the paper's MiniGrid
tasks with gymnasium, the llm4teach trainer, updaters and rollout storage with
habitat-baselines' registry, and makes habitat-baselines' checkpoint loading work under
torch >= 2.6 (see :mod:`habitat_llm4teach.checkpoints`).
"""

from __future__ import annotations

from habitat_llm4teach import checkpoints
from habitat_llm4teach.config.structured import register_configs
from habitat_llm4teach.distill import continuous, optimizer, storage, student, trainer, updater  # noqa: F401  (register L4T*, FusedAdam* and llm4teach)
from habitat_llm4teach.envs.minigrid import tasks  # noqa: F401  (registers the paper tasks)
from habitat_llm4teach.envs.rearrange import adapter  # noqa: F401  (registers L4TSceneSensor)
from habitat_llm4teach.envs.rearrange import sim  # noqa: F401  (registers L4TRearrangeSim-v0)
from habitat_llm4teach.teacher.minigrid import policy  # noqa: F401  (registers L4TTeacherPolicy)
from habitat_llm4teach.teacher.rearrange import policy as rearrange_policy  # noqa: F401  (L4TRearrangeTeacherPolicy)


def register_all() -> None:
    """Idempotent: configs, paper tasks, checkpoint loading."""
    register_configs()
    checkpoints.install()


register_all()
