"""gym's "unmaintained" notice, shown at most once per run.

gym 0.2x prints a notice from the ``gym_notices`` package on every ``import gym`` ("Gym has been
unmaintained since 2022 ..."). habitat imports gym, so a run printed it once per process: the main one,
every VectorEnv worker and every torchrun rank. This module owns the rule that only the process that
starts a run shows it:

- the entry point (run.py) calls ``mark_shown`` once gym is imported; the mark is an environment
  variable, so the processes it starts (env workers, the teacher server) inherit it;
- ``silence_unless_first`` empties gym_notices' table in a process that starts with the mark, or as a
  torchrun/SLURM rank other than 0. The package runs it on import, and the package is imported at
  interpreter start by ``habitat_llm4teach_sim_optional.pth``, before habitat or gym.
"""

from __future__ import annotations

import os
from typing import MutableMapping

SHOWN_ENV = "LLM4TEACH_GYM_NOTICE_SHOWN"


def should_show(environ: MutableMapping[str, str] = os.environ) -> bool:
    """True only in the process that starts a run: not marked, and global rank 0 (or no rank)."""
    rank = environ.get("RANK", environ.get("SLURM_PROCID", "0"))
    return environ.get(SHOWN_ENV) != "1" and rank == "0"


def silence_unless_first(environ: MutableMapping[str, str] = os.environ) -> bool:
    """Empty gym_notices' table unless this process should show the notice; True if it was emptied."""
    if should_show(environ):
        return False
    try:
        from gym_notices import notices
    except ImportError:
        return False  # no gym_notices installed: gym prints nothing anyway
    # Read only by gym's __init__ (gym_notices has no other user); empty, gym finds no notice to print.
    notices.notices.clear()
    return True


def mark_shown(environ: MutableMapping[str, str] = os.environ) -> None:
    """This process has shown the notice (or had its chance): the processes it starts stay silent."""
    environ[SHOWN_ENV] = "1"
