"""A scripted stand-in for CausalLM (no weights)."""

from __future__ import annotations

from typing import Sequence

import numpy as np


class FakeLLM:
    """Stands in for CausalLM: fixed scores per continuation, scripted sampled texts."""

    name = "fake-llm"
    batch_queries = True  # CausalLM's: scores several prompts in one call (False on the CPU)

    def __init__(self, scores: dict[str, float] | None = None, samples: Sequence[str] = ()) -> None:
        self.scores = scores or {}
        self.samples = list(samples)
        self.score_calls = 0
        self.score_batch_sizes: list[int] = []
        self.sample_calls = 0

    def render_chat(self, messages, add_generation_prompt: bool = True) -> str:
        text = "".join(f"[{m['role']}] {m['content']}\n" for m in messages)
        return text + ("[assistant] " if add_generation_prompt else "")

    def score(self, prompt: str, continuations: Sequence[str], static_prefix: str = "") -> np.ndarray:
        assert prompt.startswith(static_prefix)
        self.score_calls += 1
        values = np.array([self.scores.get(c, -5.0) for c in continuations])
        return np.stack([values * 3, values], 1)

    def score_batch(self, prompts: Sequence[str], continuations: Sequence[Sequence[str]], static_prefix: str = "") -> list[np.ndarray]:
        self.score_batch_sizes.append(len(prompts))
        scores = [self.score(p, c, static_prefix) for p, c in zip(prompts, continuations)]
        self.score_calls -= len(prompts)  # one batched call, not len(prompts) single ones
        return scores

    def sample(self, prompt: str, n: int, temperature: float, max_new_tokens: int = 48, static_prefix: str = "") -> list[str]:
        assert prompt.startswith(static_prefix)
        self.sample_calls += 1
        return (self.samples * n)[:n]
