"""Int8 linear layers (``dtype=int8``): accuracy against float32 products, outlier rows, the model swap, errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from helpers import set_cpu_bfloat16_units

from habitat_llm4teach.teacher import llm
from habitat_llm4teach.teacher.int8 import OUTLIER_RATIO, RowSplitInt8Linear, int8_available, quantize_linears
from habitat_llm4teach.teacher.llm import CausalLM, ModelLoadError, resolve_dtype, resolve_precision


# uint8 activations with one scale per group of rows: about 2 % of a row's norm on Gaussian inputs.
TOLERANCE = 0.05


def _relative_error(actual: torch.Tensor, expected: torch.Tensor) -> torch.Tensor:
    """Per row: |actual - expected| / |expected| (Euclidean norms)."""
    return ((actual - expected).norm(dim=-1) / expected.norm(dim=-1)).detach()


@pytest.fixture
def linear():
    torch.manual_seed(0)
    layer = nn.Linear(256, 384)
    layer.requires_grad_(False)
    return layer.eval()


def test_int8_products_follow_the_float32_ones(linear):
    rows = torch.randn(2, 40, 256)
    expected = linear(rows)
    actual = RowSplitInt8Linear(linear)(rows)
    assert actual.shape == expected.shape and actual.dtype == torch.float32
    assert float(_relative_error(actual, expected).max()) < TOLERANCE


def test_an_outlier_row_keeps_the_other_rows_accurate(linear):
    """One token 500 times larger than the rest (as a causal LM's first token is): with one scale for the whole
    input, torch's own dynamic quantisation loses the other rows; quantised apart, they stay within the tolerance."""
    rows = torch.randn(32, 256)
    rows[0] *= 500.0
    expected = linear(rows)
    split = RowSplitInt8Linear(linear)(rows)
    one_scale = torch.ao.quantization.quantize_dynamic(nn.Sequential(linear), {nn.Linear}, dtype=torch.qint8)(rows)
    assert float(_relative_error(split, expected).max()) < TOLERANCE
    assert float(_relative_error(one_scale[1:], expected[1:]).mean()) > 0.1  # why rows are split at all


def test_a_single_row_and_all_outlier_rows_are_products_too(linear):
    one = torch.randn(1, 1, 256)
    assert float(_relative_error(RowSplitInt8Linear(linear)(one), linear(one)).max()) < TOLERANCE
    # a median of zero (most rows zero, e.g. padding): every non-zero row is an outlier and still computed
    rows = torch.zeros(5, 256)
    rows[0] = torch.randn(256)
    out = RowSplitInt8Linear(linear)(rows)
    np.testing.assert_allclose(out[1:].numpy(), linear(rows[1:]).detach().numpy(), atol=1e-5)
    assert float(_relative_error(out[:1], linear(rows[:1])).max()) < TOLERANCE


def test_quantize_linears_replaces_every_linear_the_lm_head_included():
    model = nn.Module()
    model.block = nn.Sequential(nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 8))
    model.lm_head = nn.Linear(8, 16)
    assert quantize_linears(model) == 3
    assert all(isinstance(module, RowSplitInt8Linear) for module in (model.block[0], model.block[2], model.lm_head))
    assert isinstance(model.block[1], nn.ReLU)
    assert model.block[0].outlier_ratio == OUTLIER_RATIO


def test_a_non_float32_layer_is_refused():
    with pytest.raises(RuntimeError, match="float32 CPU weights"):
        RowSplitInt8Linear(nn.Linear(8, 8).to(torch.bfloat16))


def test_int8_is_a_cpu_dtype():
    assert resolve_precision("int8", "cpu") == "int8"
    assert resolve_dtype("int8", "cpu") == torch.float32  # the weights it loads before quantising
    with pytest.raises(ModelLoadError, match="CPU only"):
        resolve_dtype("int8", "cuda:0")


def test_auto_is_int8_on_a_cpu_without_bfloat16_units_where_torch_has_the_kernels(monkeypatch):
    assert int8_available()  # torch's x86 wheels ship fbgemm; the test machine's int8 products run above
    set_cpu_bfloat16_units(monkeypatch, False, False)
    assert resolve_precision("auto", "cpu") == "int8"
    monkeypatch.setattr(llm, "int8_available", lambda: False)
    assert resolve_precision("auto", "cpu") == "float32"
    set_cpu_bfloat16_units(monkeypatch, True, False)
    assert resolve_precision("auto", "cpu") == "bfloat16"


def test_an_int8_teacher_scores_as_its_float32_model(tiny_model_dir):
    """The same prompts and candidates scored by the float32 model and by its int8 copy: log-likelihoods close,
    the same best candidate."""
    float_lm = CausalLM(str(tiny_model_dir), dtype="float32")
    int8_lm = CausalLM(str(tiny_model_dir), dtype="int8")
    assert int8_lm.dtype_name == "int8" and float_lm.dtype_name == "float32"
    assert any(isinstance(m, RowSplitInt8Linear) for m in int8_lm.model.modules())
    assert isinstance(int8_lm.model.lm_head, RowSplitInt8Linear)
    system = float_lm.render_chat([{"role": "system", "content": "You plan for an agent."}], add_generation_prompt=False)
    prompt = float_lm.render_chat([
        {"role": "system", "content": "You plan for an agent."},
        {"role": "user", "content": "Agent sees <yellow key>, holds <nothing>. Goal: open the door."},
    ])
    candidates = ["explore", "pick up yellow key", "open yellow door", "go to the goal"]
    expected = float_lm.score(prompt, candidates, static_prefix=system)
    actual = int8_lm.score(prompt, candidates, static_prefix=system)
    np.testing.assert_allclose(actual, expected, atol=0.05 * float(np.abs(expected).max()))
    assert int(np.argmax(actual[:, 1])) == int(np.argmax(expected[:, 1]))
