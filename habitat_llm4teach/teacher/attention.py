"""Attention for the teacher's forward passes on a CPU: grouped-query attention without copying the keys and values.

Owns one transformers attention function, :func:`grouped_query_sdpa`, registered under :data:`GROUPED_SDPA` through
transformers' ``AttentionInterface`` (the library's extension point for attention kernels) and picked by
``CausalLM`` on a CPU.

Why: the teacher's models share each key/value head among several query heads (Qwen2.5-1.5B: 12 query heads, 2
key/value heads). Given a mask, transformers' SDPA path repeats every key and value head once per query head
(``repeat_kv``), copying the whole cached prompt, six times over, in every layer of every pass. A scored description
runs a few dozen tokens against a cached prompt of 700-1,300 tokens, so on a 2-core CPU those copies and the attention
over them took about a quarter of a description's time. Here the query heads that share a key/value head are folded
into one longer query instead (``[B, H, q, d]`` viewed as ``[B, H_kv, groups * q, d]``) and the mask repeated along
the query axis: the same products, with nothing copied but the mask. The outputs are those of transformers' own path
(tests/teacher/test_attention.py compares them).
"""

from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F

GROUPED_SDPA = "llm4teach_grouped_sdpa"


def grouped_query_sdpa(
    module: torch.nn.Module,
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attention_mask: Optional[torch.Tensor],
    dropout: float = 0.0,
    scaling: Optional[float] = None,
    is_causal: Optional[bool] = None,
    **kwargs,
) -> tuple[torch.Tensor, None]:
    """transformers' attention-function signature: ``query`` [B, H, q, d], ``key``/``value`` [B, H_kv, k, d],
    ``attention_mask`` [B, 1, q, k] (bool or additive float) or None; returns ([B, q, H, d], None).

    Passes this cannot fold (no mask, one query token, a mask per head, a position bias, dropout, no grouping) go to
    transformers' own SDPA function unchanged."""
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    groups = getattr(module, "num_key_value_groups", 1)
    batch, heads, q_len, dim = query.shape
    foldable = (
        groups > 1 and q_len > 1 and attention_mask is not None and attention_mask.dim() == 4
        and attention_mask.shape[1] == 1 and attention_mask.shape[2] == q_len and not dropout
        and kwargs.get("position_bias") is None and key.shape[1] * groups == heads
    )
    if not foldable:
        return sdpa_attention_forward(module, query, key, value, attention_mask, dropout=dropout, scaling=scaling,
                                      is_causal=is_causal, **kwargs)
    # Query head h reads key/value head h // groups (transformers' repeat_kv), so consecutive heads fold together.
    folded_query = query.reshape(batch, heads // groups, groups * q_len, dim)
    folded_mask = attention_mask[:, :, :, : key.shape[2]].repeat(1, 1, groups, 1)
    out = F.scaled_dot_product_attention(folded_query, key, value, attn_mask=folded_mask, scale=scaling)
    return out.reshape(batch, heads, q_len, dim).transpose(1, 2).contiguous(), None


def register_grouped_sdpa() -> Optional[str]:
    """Register :func:`grouped_query_sdpa` with transformers (idempotent), with SDPA's mask builder (without one,
    transformers builds no masks for a custom attention): the name to load a model with. None where this
    transformers has no attention registry (the model then loads with its default attention)."""
    try:
        from transformers import AttentionInterface
        from transformers.masking_utils import AttentionMaskInterface, sdpa_mask
    except ImportError:
        return None
    AttentionInterface.register(GROUPED_SDPA, grouped_query_sdpa)
    AttentionMaskInterface.register(GROUPED_SDPA, sdpa_mask)
    return GROUPED_SDPA
