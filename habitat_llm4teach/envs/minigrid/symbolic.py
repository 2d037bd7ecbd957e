"""The layout of the ``minigrid_symbolic`` observation, shared by the adapter that writes it and the teacher that reads it.

The remembered (W, H, 3) map in MiniGrid's symbolic encoding, flattened, then the
agent vector: x, y, direction, carried type/colour/state. Plain numpy, no env.
"""

from __future__ import annotations

import numpy as np

# Agent vector appended to the flattened map: x, y, direction, carried type/colour/state.
AGENT_FIELDS = 6


def symbolic_size(width: int, height: int) -> int:
    return width * height * 3 + AGENT_FIELDS


def decode_symbolic(flat: np.ndarray, width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    """Split a ``minigrid_symbolic`` vector into the (W, H, 3) map and the agent vector."""
    flat = np.asarray(flat).astype(np.int64)
    return flat[: width * height * 3].reshape(width, height, 3), flat[width * height * 3 :]
