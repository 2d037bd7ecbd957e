"""A gym env that reports, from inside a VectorEnv worker, whether placeholders are active."""

import os

import gym
import numpy as np
from gym import spaces


class ProbeEnv(gym.Env):
    observation_space = spaces.Dict({"x": spaces.Box(0, 1, (1,), np.float32)})
    action_space = spaces.Discrete(1)

    def reset(self, **kwargs):
        return {"x": np.zeros(1, np.float32)}

    def step(self, action):
        return self.reset(), 0.0, False, {}

    def probe(self):
        import habitat_sim

        from habitat_llm4teach.sim_optional import PLACEHOLDER_FLAG

        return os.getpid(), bool(getattr(habitat_sim, PLACEHOLDER_FLAG, False))


def make_probe_env():
    return ProbeEnv()
