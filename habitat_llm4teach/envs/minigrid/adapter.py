"""One MiniGrid environment behind the interface habitat's ``VectorEnv`` workers expect.

Owns the translation from a gymnasium MiniGrid env to habitat's old-gym API:
``reset`` returns only the observation, ``step`` a 4-tuple, and the env exposes
``original_action_space``, ``number_of_episodes`` and ``current_episode`` (with
ids unique per rank and env, since habitat's evaluator pauses envs by
(scene_id, episode_id)).

Observations:
- ``rgb``: the student's image, resized to ``image_size``: the paper's
  accumulated map of every cell seen so far this episode ("historical"), the
  same map cropped around the agent and rotated so that it faces up
  ("egocentric", the default of our configs: habitat's ResNet encoder pools
  a 64 px image down to 32 px, where the agent's direction triangle is
  unreadable, and a CNN learns "key on the left -> turn left" far more easily
  than the same relation in map coordinates), or MiniGrid's partial view.
- ``minigrid_symbolic``: the same remembered map as MiniGrid's symbolic
  encoding plus the agent's pose, carried object and the env's mission string,
  flattened (teacher only; its layout is symbolic.py's).
- ``third_rgb``: the full grid from above (evaluation videos only).
"""

from __future__ import annotations

import multiprocessing
import signal
from dataclasses import dataclass
from typing import Any, Optional

import cv2
import gym
import gymnasium
import numpy as np
from gym import spaces
from habitat.core.dataset import Episode
from minigrid.core.constants import OBJECT_TO_IDX
from minigrid.core.grid import Grid

from habitat_llm4teach import keys
from habitat_llm4teach.envs.minigrid.symbolic import encode_symbolic, symbolic_size

VIEWS = ("egocentric", "historical", "partial")
# Darker than MiniGrid's walls (100, 100, 100), so unseen cells and walls differ.
_UNSEEN_GREY = 40


@dataclass(frozen=True)
class MiniGridEnvSpec:
    """Everything a worker process needs to build one environment (picklable)."""

    env_id: str
    view: str
    image_size: int
    third_person_size: int  # 0 disables the third-person frame
    seed: int
    episode_prefix: str
    max_steps: Optional[int] = None
    ego_window: int = 11  # cells on a side of the egocentric crop (odd)
    # Evaluation: this env's quota of episodes (0: unbounded). After it, episode ids repeat, and habitat's evaluator
    # pauses an env whose next episode it has already counted: every env then plays exactly its quota.
    episodes: int = 0


class MiniGridHabitatEnv(gym.Env):
    metadata = {"render_modes": ["rgb_array"]}

    def __init__(self, spec: MiniGridEnvSpec) -> None:
        if spec.view not in VIEWS:
            raise ValueError(f"unknown MiniGrid view '{spec.view}'; expected one of {VIEWS}")
        kwargs = {} if spec.max_steps is None else {"max_steps": spec.max_steps}
        self._env = gymnasium.make(spec.env_id, **kwargs).unwrapped
        self._spec = spec
        self._seed: Optional[int] = spec.seed
        self._episode_count = 0
        self._episode = self._new_episode()
        width, height = self._env.width, self._env.height
        self._seen = np.zeros((width, height), dtype=bool)
        self._map = np.zeros((width, height, 3), dtype=np.uint8)
        obs_spaces = {
            keys.RGB: spaces.Box(0, 255, (spec.image_size, spec.image_size, 3), np.uint8),
            keys.MINIGRID_SYMBOLIC: spaces.Box(0, 255, (symbolic_size(width, height),), np.uint8),
        }
        if spec.third_person_size > 0:
            size = spec.third_person_size
            obs_spaces[keys.THIRD_RGB] = spaces.Box(0, 255, (size, size, 3), np.uint8)
        self.observation_space = spaces.Dict(obs_spaces)
        self.action_space = spaces.Discrete(int(self._env.action_space.n))
        self.original_action_space = self.action_space
        # Procedurally generated: the number of distinct episodes is unknown, unless the env has a quota.
        self.number_of_episodes = spec.episodes if spec.episodes > 0 else -1

    @property
    def grid_size(self) -> tuple[int, int]:
        return self._env.width, self._env.height

    @property
    def current_episode(self) -> Episode:
        return self._episode

    def _new_episode(self) -> Episode:
        episode = Episode(
            episode_id=f"{self._spec.episode_prefix}{self._episode_id()}",
            scene_id=self._spec.env_id,
            start_position=[],
            start_rotation=[],
        )
        self._episode_count += 1
        return episode

    def _episode_id(self) -> int:
        # Episode 0 is a placeholder (habitat reads current_episode before the first reset); with a quota q the
        # ids of episodes 1..q are distinct, and episode q + 1 repeats episode 1's.
        return self._episode_count % self._spec.episodes if self._spec.episodes > 0 else self._episode_count

    def reset(self, **kwargs: Any) -> dict[str, np.ndarray]:
        view_obs, _ = self._env.reset(seed=self._seed)
        self._seed = None  # seed once; later episodes continue the env's RNG
        self._episode = self._new_episode()
        self._seen[:] = False
        self._map[:] = 0
        return self._observe(view_obs)

    def step(self, action: int) -> tuple[dict[str, np.ndarray], float, bool, dict[str, Any]]:
        view_obs, reward, terminated, truncated, info = self._env.step(int(action))
        # The paper tasks report success; MiniGrid's own envs reward only a completed mission (lava and timeouts
        # end with 0), so there a positive reward on termination is success.
        success = info[keys.SUCCESS] if keys.SUCCESS in info else terminated and reward > 0
        info = {keys.SUCCESS: float(success)}
        return self._observe(view_obs), float(reward), bool(terminated or truncated), info

    def render(self, mode: str = "rgb_array") -> np.ndarray:
        return self._third_person(self._spec.third_person_size or 256)

    def close(self) -> None:
        self._env.close()

    def _observe(self, view_obs: dict[str, Any]) -> dict[str, np.ndarray]:
        self._remember(view_obs["image"])
        obs = {keys.RGB: self._student_image(), keys.MINIGRID_SYMBOLIC: self._symbolic()}
        if self._spec.third_person_size > 0:
            obs[keys.THIRD_RGB] = self._third_person(self._spec.third_person_size)
        return obs

    def _remember(self, view_image: np.ndarray) -> None:
        """Write the cells visible in the egocentric view into the episode's map."""
        env = self._env
        size = env.agent_view_size
        vx, vy = np.nonzero(view_image[:, :, 0] != OBJECT_TO_IDX["unseen"])
        # Agent sits at (size // 2, size - 1) of its view, facing "up" in view coordinates.
        forward, right = env.dir_vec, env.right_vec
        ax = env.agent_pos[0] + forward[0] * (size - 1 - vy) + right[0] * (vx - size // 2)
        ay = env.agent_pos[1] + forward[1] * (size - 1 - vy) + right[1] * (vx - size // 2)
        inside = (ax >= 0) & (ax < env.width) & (ay >= 0) & (ay < env.height)
        ax, ay, vx, vy = ax[inside], ay[inside], vx[inside], vy[inside]
        self._seen[ax, ay] = True
        self._map[ax, ay] = view_image[vx, vy]
        # The view shows the carried object in the agent's cell; the map keeps the floor.
        under = env.grid.get(*env.agent_pos)
        self._map[tuple(env.agent_pos)] = under.encode() if under is not None else (OBJECT_TO_IDX["empty"], 0, 0)

    def _symbolic(self) -> np.ndarray:
        env = self._env
        carried = env.carrying.encode() if env.carrying is not None else (0, 0, 0)
        agent = np.array([*env.agent_pos, env.agent_dir, *carried], dtype=np.uint8)
        return encode_symbolic(self._map, agent, env.mission)

    def _student_image(self) -> np.ndarray:
        env, size = self._env, self._spec.image_size
        if self._spec.view == "partial":
            return _resize(env.get_pov_render(-(-size // env.agent_view_size)), size)
        if self._spec.view == "historical":
            tile = -(-size // max(env.width, env.height))
            return _resize(self._remembered_map(tile, draw_agent=True), size)
        return _resize(self._egocentric_map(-(-size // self._spec.ego_window)), size)

    def _remembered_map(self, tile: int, draw_agent: bool) -> np.ndarray:
        """The grid as rendered by MiniGrid with cells not seen this episode greyed out."""
        env = self._env
        agent_pos = env.agent_pos if draw_agent else None
        img = env.grid.render(tile, agent_pos=agent_pos, agent_dir=env.agent_dir)
        tiles = img.reshape(env.height, tile, env.width, tile, 3).transpose(0, 2, 1, 3, 4)  # views img
        tiles[~self._seen.T] = _UNSEEN_GREY
        return img

    def _egocentric_map(self, tile: int) -> np.ndarray:
        """The remembered map, ``ego_window`` cells around the agent, rotated so the agent faces up.

        The agent sits in the centre cell, drawn as the object it carries (empty if none). Only the window's seen
        cells are drawn, each with MiniGrid's own cached tile (``Grid.render_tile``, as ``Grid.render`` draws every
        cell): the same pixels as rendering the whole map and cropping it, without drawing the cells the crop
        drops (TwoDoor's 20x20 grid is 400 tiles a step against the window's 121).
        """
        env, window = self._env, self._spec.ego_window
        half = window // 2
        x, y = env.agent_pos
        crop = np.full((window * tile, window * tile, 3), _UNSEEN_GREY, dtype=np.uint8)
        for j in range(max(0, y - half), min(env.height, y + half + 1)):
            for i in range(max(0, x - half), min(env.width, x + half + 1)):
                if not self._seen[i, j]:
                    continue
                obj = env.carrying if (i, j) == (x, y) and env.carrying is not None else env.grid.get(i, j)
                row, col = (j - y + half) * tile, (i - x + half) * tile
                crop[row : row + tile, col : col + tile] = Grid.render_tile(obj, agent_dir=None, highlight=False, tile_size=tile)
        # MiniGrid directions: 0 east, 1 south, 2 west, 3 north; k counter-clockwise quarter turns bring it north.
        return np.ascontiguousarray(np.rot90(crop, k=(env.agent_dir + 1) % 4))

    def _third_person(self, size: int) -> np.ndarray:
        env = self._env
        tile = -(-size // max(env.width, env.height))
        return _resize(env.get_full_render(highlight=True, tile_size=tile), size)


def _resize(img: np.ndarray, size: int) -> np.ndarray:
    if img.shape[0] == size and img.shape[1] == size:
        return img
    return cv2.resize(img, (size, size), interpolation=cv2.INTER_AREA)


def make_minigrid_env(spec: MiniGridEnvSpec) -> MiniGridHabitatEnv:
    """VectorEnv ``make_env_fn``: runs inside each worker process."""
    from habitat_llm4teach.envs.minigrid import tasks  # noqa: F401  (registers the paper tasks)

    # Ctrl-C reaches the whole process group: the trainer handles it (saving a resume
    # state) and then closes the workers, so they must outlive it. They still exit on
    # SIGTERM, which multiprocessing sends them when the trainer dies.
    if multiprocessing.parent_process() is not None:
        signal.signal(signal.SIGINT, signal.SIG_IGN)

    return MiniGridHabitatEnv(spec)
