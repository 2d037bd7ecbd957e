"""Plan query -> plan distribution: the LLM planner, in the paper's two ways of asking.

- :class:`ScorePlanner` scores every valid candidate next skill by its
  log-likelihood as the answer to the prompt (one batched forward pass over a
  cached prompt prefix) and normalises with a sharpening temperature: exact,
  always valid, deterministic.
- :class:`SamplePlanner` is the paper's soft planner: sample ``n`` answers at a
  temperature, validate each against the skill grammar and the perceived
  objects, and turn plan frequencies into probabilities.

Both look answers up in the :class:`PlanCache` first. ``plan_batch`` answers
several queries at once (the inference server's batches): ScorePlanner
scores all their candidates in one cross-prompt backend call; SamplePlanner
asks one description after the other.

A query (``teacher/types.PlanQuery``) is text only: the description, the
candidate next skills and the targets a plan may name; the planner never sees
a perception. It holds no prompts either: each env's teacher hands it a
:class:`PromptSet` (teacher/minigrid/prompts.py, teacher/rearrange/prompts.py).
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Mapping, Optional, Sequence

import numpy as np

from habitat_llm4teach.teacher.cache import CacheKey, PlanCache
from habitat_llm4teach.teacher.llm import CausalLM
from habitat_llm4teach.teacher.types import Plan, PlanDistribution, PlanQuery, SkillCall

if TYPE_CHECKING:
    from habitat_llm4teach.config.structured import TeacherConfig

logger = logging.getLogger(__name__)

def user_message(description: str, candidates: Sequence[SkillCall], ask: str) -> str:
    return f"{description}\nSkills: {'; '.join(str(c) for c in candidates)}.\n{ask}"


@dataclass(frozen=True)
class PromptSet:
    """What the planner tells the LLM for one kind of environment, and how it reads the answers."""

    name: str  # the env kind it speaks for ("minigrid", "rearrange"); requests to the server name it
    version: str  # part of the plan-cache key
    skills: tuple[str, ...]  # the skill vocabulary: a candidate or target naming another skill is refused
    system_prompt: str
    examples: tuple[tuple[PlanQuery, str, str], ...]  # (query, next skill, whole plan)
    # LLM plan text + the targets each skill may name -> (valid steps, rejected steps)
    parse_steps: Callable[[str, Mapping[str, Sequence[str]]], tuple[list[SkillCall], int]]
    # The env teacher's perception -> its query (description, offered next skills, nameable targets)
    query_of: Callable[[Any], PlanQuery]


class Planner(ABC):
    """Cache-first planning; subclasses ask the LLM."""

    ask: str

    def __init__(self, llm: CausalLM, cache: Optional[PlanCache] = None, *, prompts: PromptSet) -> None:
        self.llm = llm
        self.cache = cache if cache is not None else PlanCache()
        self.prompts = prompts
        # System prompt and examples: fixed, so built and rendered once.
        self._messages_before_query = self._build_messages_before_query()
        self.static_prefix = llm.render_chat(self._messages_before_query, add_generation_prompt=False)

    @property
    @abstractmethod
    def cache_mode(self) -> str:
        """The mode with every setting that changes answers, part of the cache key."""

    @abstractmethod
    def _example_answer(self, example: tuple[str, str, str]) -> str: ...

    @abstractmethod
    def _query(self, prompt: str, query: PlanQuery) -> PlanDistribution: ...

    def _build_messages_before_query(self) -> list[dict]:
        messages = [{"role": "system", "content": self.prompts.system_prompt}]
        for example in self.prompts.examples:
            query = example[0]
            messages.append({"role": "user", "content": user_message(query.description, query.candidates, self.ask)})
            messages.append({"role": "assistant", "content": self._example_answer(example)})
        return messages

    def prompt(self, query: PlanQuery) -> str:
        message = {"role": "user", "content": user_message(query.description, query.candidates, self.ask)}
        return self.llm.render_chat([*self._messages_before_query, message])

    def cache_key(self, description: str) -> CacheKey:
        return CacheKey(description, self.llm.name, self.prompts.version, self.cache_mode)

    def plan(self, query: PlanQuery) -> PlanDistribution:
        key = self.cache_key(query.description)
        cached = self.cache.get(key)
        if cached is not None:
            return cached
        answer = self._query(self.prompt(query), query)
        self.cache.put(key, answer)
        return answer

    def plan_batch(self, queries: Sequence[PlanQuery]) -> list[PlanDistribution]:
        """:meth:`plan` for several queries: cache first, each new description asked once, all of them in one
        backend call where the planner supports it."""
        answers: dict[str, Optional[PlanDistribution]] = {}
        for query in queries:
            if query.description not in answers:
                answers[query.description] = self.cache.get(self.cache_key(query.description))
        new = {q.description: q for q in queries if answers[q.description] is None}
        if new:
            prompts = [self.prompt(q) for q in new.values()]
            for description, answer in zip(new, self._query_batch(prompts, list(new.values()))):
                self.cache.put(self.cache_key(description), answer)
                answers[description] = answer
        return [answers[q.description] for q in queries]

    def _query_batch(self, prompts: Sequence[str], queries: Sequence[PlanQuery]) -> list[PlanDistribution]:
        return [self._query(prompt, query) for prompt, query in zip(prompts, queries)]


class ScorePlanner(Planner):
    ask = "Next skill:"

    def __init__(
        self, llm: CausalLM, cache: Optional[PlanCache] = None, sharpen_temperature: float = 1.0, length_norm: str = "mean",
        *, prompts: PromptSet,
    ) -> None:
        if sharpen_temperature <= 0:
            raise ValueError(f"sharpen_temperature must be > 0, got {sharpen_temperature}")
        if length_norm not in ("mean", "sum"):
            raise ValueError(f"length_norm must be 'mean' or 'sum', got '{length_norm}'")
        self.sharpen_temperature = sharpen_temperature
        self.length_norm = length_norm
        super().__init__(llm, cache, prompts=prompts)

    @property
    def cache_mode(self) -> str:
        return f"score:{self.length_norm}:T={self.sharpen_temperature:g}"

    def _example_answer(self, example: tuple[str, str, str]) -> str:
        return example[1]

    def _column(self, scores: np.ndarray) -> np.ndarray:
        return scores[:, 1] if self.length_norm == "mean" else scores[:, 0]

    def skill_scores(self, prompt: str, candidates: Sequence[SkillCall]) -> np.ndarray:
        """Length-normalised (or summed) log-likelihood of each candidate as the answer."""
        return self._column(self.llm.score(prompt, [str(c) for c in candidates], static_prefix=self.static_prefix))

    def _distribution(self, candidates: Sequence[SkillCall], scores: np.ndarray) -> PlanDistribution:
        logits = scores / self.sharpen_temperature
        probs = np.exp(logits - logits.max())
        probs /= probs.sum()
        order = np.argsort(-probs, kind="stable")
        return PlanDistribution(tuple(Plan((candidates[i],), float(probs[i])) for i in order))

    def _query(self, prompt: str, query: PlanQuery) -> PlanDistribution:
        return self._distribution(query.candidates, self.skill_scores(prompt, query.candidates))

    def _query_batch(self, prompts: Sequence[str], queries: Sequence[PlanQuery]) -> list[PlanDistribution]:
        """Every candidate of every prompt in one cross-prompt batch (CausalLM.score_batch)."""
        candidates = [q.candidates for q in queries]
        scores = self.llm.score_batch(prompts, [[str(c) for c in cs] for cs in candidates], static_prefix=self.static_prefix)
        return [self._distribution(cs, self._column(s)) for cs, s in zip(candidates, scores)]


class SamplePlanner(Planner):
    ask = "Plan:"

    def __init__(
        self, llm: CausalLM, cache: Optional[PlanCache] = None, num_samples: int = 10, temperature: float = 0.7,
        max_new_tokens: int = 48, *, prompts: PromptSet,
    ) -> None:
        if num_samples < 1:
            raise ValueError(f"num_samples must be >= 1, got {num_samples}")
        self.num_samples = num_samples
        self.temperature = temperature
        self.max_new_tokens = max_new_tokens
        super().__init__(llm, cache, prompts=prompts)

    @property
    def cache_mode(self) -> str:
        return f"sample:n={self.num_samples}:t={self.temperature:g}"

    def _example_answer(self, example: tuple[str, str, str]) -> str:
        return example[2]

    def _query(self, prompt: str, query: PlanQuery) -> PlanDistribution:
        texts = self.llm.sample(prompt, self.num_samples, self.temperature, self.max_new_tokens, self.static_prefix)
        counts: Counter[tuple[SkillCall, ...]] = Counter()
        invalid = 0
        targets = query.targets_by_skill
        for text in texts:
            steps, rejected = self.prompts.parse_steps(text, targets)
            invalid += rejected
            if steps:
                counts[tuple(steps)] += 1
            else:
                logger.debug("no valid plan in LLM output %r", text)
        total = sum(counts.values())
        plans = tuple(Plan(steps, n / total) for steps, n in counts.most_common())
        return PlanDistribution(plans, invalid)


def build_planner(
    config: "TeacherConfig", prompts: PromptSet, llm: Optional[CausalLM] = None, cache: Optional[PlanCache] = None
) -> Planner:
    """The planner a :class:`TeacherConfig` describes, speaking ``prompts``; its LLM and plan cache are loaded
    unless given (the server shares one of each between the prompt sets it serves)."""
    if config.mode not in ("score", "sample"):
        raise ValueError(f"teacher mode must be 'score' or 'sample', got '{config.mode}'")
    if cache is None:
        cache = PlanCache(config.cache_path, read_only=config.cache_read_only)
    if llm is None:
        llm = CausalLM(config.model, dtype=config.dtype, device=config.device)
    if config.mode == "score":
        return ScorePlanner(llm, cache, config.sharpen_temperature, config.length_norm, prompts=prompts)
    return SamplePlanner(llm, cache, config.num_samples, config.sample_temperature, prompts=prompts)
