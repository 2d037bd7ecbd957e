"""The teacher's CPU attention (teacher/attention.py) against attention written out from its definition and against
transformers' own SDPA path."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from habitat_llm4teach.teacher.attention import GROUPED_SDPA, grouped_query_sdpa, register_grouped_sdpa
from habitat_llm4teach.teacher.llm import CausalLM


def _by_definition(query, key, value, allowed):
    """softmax(q k^T / sqrt(d), over the allowed keys) v, query head h reading key/value head h // groups:
    [B, q, H, d]."""
    groups = query.shape[1] // key.shape[1]
    key, value = key.repeat_interleave(groups, 1), value.repeat_interleave(groups, 1)
    logits = query @ key.transpose(-1, -2) / math.sqrt(query.shape[-1])
    weights = torch.softmax(logits.masked_fill(~allowed, float("-inf")), -1)
    return (weights @ value).transpose(1, 2)


class _Layer(nn.Module):
    def __init__(self, groups: int) -> None:
        super().__init__()
        self.num_key_value_groups = groups


@pytest.mark.parametrize("additive", [False, True])
def test_grouped_attention_matches_its_definition_under_any_mask(additive):
    torch.manual_seed(0)
    batch, heads, kv_heads, q_len, past, dim = 2, 6, 2, 5, 9, 16
    query = torch.randn(batch, q_len, heads, dim).transpose(1, 2)  # transposed, as a model's projections give it
    key, value = torch.randn(batch, kv_heads, past + q_len, dim), torch.randn(batch, kv_heads, past + q_len, dim)
    allowed = torch.rand(batch, 1, q_len, past + q_len) > 0.3
    allowed[..., 0] = True  # every query sees at least one key
    mask = torch.zeros(allowed.shape).masked_fill(~allowed, torch.finfo(torch.float32).min) if additive else allowed
    out, weights = grouped_query_sdpa(_Layer(heads // kv_heads), query, key, value, mask)
    assert weights is None and out.shape == (batch, q_len, heads, dim)
    np.testing.assert_allclose(out.numpy(), _by_definition(query, key, value, allowed).numpy(), atol=1e-5)


def test_passes_it_cannot_fold_go_to_transformers_own_attention():
    """One query token, and no mask (causal): the same output as transformers' SDPA function."""
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    torch.manual_seed(1)
    layer = _Layer(3)
    for q_len, past in ((1, 7), (4, 0)):
        query = torch.randn(1, 6, q_len, 8)
        key, value = torch.randn(1, 2, past + q_len, 8), torch.randn(1, 2, past + q_len, 8)
        ours, _ = grouped_query_sdpa(layer, query, key, value, None)
        theirs, _ = sdpa_attention_forward(layer, query, key, value, None)
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), atol=1e-6)
    causal = torch.ones(4, 4, dtype=torch.bool).tril()[None, None]
    np.testing.assert_allclose(ours.numpy(), _by_definition(query, key, value, causal).numpy(), atol=1e-5)


def test_a_cpu_teacher_scores_as_with_transformers_sdpa(tiny_model_dir, monkeypatch):
    """The tiny model (4 query heads, 2 key/value heads) scored through the grouped attention and through
    transformers' SDPA: the same log-likelihoods, and the folded path did run."""
    grouped = CausalLM(str(tiny_model_dir), dtype="float32", device="cpu")
    assert grouped.model.config._attn_implementation == GROUPED_SDPA == register_grouped_sdpa()
    reference = CausalLM(str(tiny_model_dir), dtype="float32", device="cpu")
    reference.model.set_attn_implementation("sdpa")

    folded_heads = []
    sdpa = torch.nn.functional.scaled_dot_product_attention

    def recording(query, key, *args, **kwargs):
        folded_heads.append(query.shape[1] == key.shape[1])
        return sdpa(query, key, *args, **kwargs)

    monkeypatch.setattr(torch.nn.functional, "scaled_dot_product_attention", recording)
    system = grouped.render_chat([{"role": "system", "content": "You plan for an agent."}], add_generation_prompt=False)
    candidates = ["explore", "pick up yellow key", "open yellow door"]
    for description in ("Agent sees <yellow key>, holds <nothing>.", "Agent sees <yellow key>, holds <red key>."):
        prompt = grouped.render_chat([
            {"role": "system", "content": "You plan for an agent."}, {"role": "user", "content": description},
        ])
        expected = reference.score(prompt, candidates, static_prefix=system)
        folded_heads.clear()
        actual = grouped.score(prompt, candidates, static_prefix=system)
        np.testing.assert_allclose(actual, expected, atol=1e-4)
        assert any(folded_heads)
