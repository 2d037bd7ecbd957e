"""habitat-llm4teach: an LLM teaches a habitat-baselines DD-PPO student (LLM4Teach).

Importing the package activates the simulator-optional import of habitat-lab
(see :mod:`habitat_llm4teach.sim_optional`) and keeps gym's notice to one per run
(:mod:`habitat_llm4teach.gym_notice`); it is kept free of heavy imports.
"""

from habitat_llm4teach import gym_notice, sim_optional

__version__ = "0.1.0"

sim_optional.install()
gym_notice.silence_unless_first()
