"""Int8 linear layers for the teacher on CPUs without bfloat16 units (``llm4teach.teacher.dtype=int8``).

Owns one transform, :func:`quantize_linears`: every ``nn.Linear`` of a float32 model, the LM head included, becomes a
:class:`RowSplitInt8Linear`, whose weights are int8 per output channel and whose input rows are quantised to uint8
when the layer runs (torch's dynamic quantisation, fbgemm/x86 kernels). On a 2-core AVX2-only CPU an int8 matrix
product runs about 3.4 times as fast as the float32 one (16.6 ms against 57.3 ms for 128 x 1536 by 1536 x 8960), and
the teacher's forward passes are almost all such products.

Why rows are split: torch's dynamic quantisation gives a whole input one scale. A few tokens of a causal LM (the
first of the prompt, chat-template delimiters) carry activations hundreds of times larger than the rest, so one scale
leaves the other tokens a handful of levels. Quantising every linear that way cut the facts teacher's first-skill
accuracy on the dev set from 1.00 to 0.59 (README, "The teacher in int8"). Here the rows whose peak is an outlier
(more than ``outlier_ratio`` times the median row's peak) are quantised apart, with their own scale: one more small
product where a pass has such rows. The ratio 2 was chosen on the default prompt's dev set (4 lost two of its 46 rows
against float32, 2 none); then no labelled set of either MiniGrid prompt loses more than one row against float32
(some gain up to three), and calibration moves by 0.04 at most.
The LM head is made int8 too. It is a tenth of a 1.5B model's weights (151,936 words x 1,536), and every pass reads
all of it for the few positions whose logits are scored: in float32 that read took 0.35 s of the default teacher's
1.3 s a description on a 2-core AVX2 CPU, 0.05 s in int8. With it int8 no labelled set moved by more than one row
(README, "The teacher in int8").
"""

from __future__ import annotations

import warnings

import torch
from torch import nn

# A row whose peak |activation| exceeds this many times the median row's peak is quantised apart from the others.
OUTLIER_RATIO = 2.0


class Int8UnavailableError(RuntimeError):
    """This torch build cannot run int8 linear layers; the message names the fix."""


def _dynamic_linear_class():  # type: ignore[no-untyped-def]
    try:
        from torch.ao.nn.quantized.dynamic import Linear as DynamicLinear
        from torch.ao.quantization import per_channel_dynamic_qconfig
    except ImportError as error:  # torch announces the move of eager quantisation to torchao
        raise Int8UnavailableError(
            f"llm4teach.teacher.dtype=int8 needs torch's dynamic quantisation (torch.ao), which torch "
            f"{torch.__version__} lacks ({error}); use dtype=float32 or auto"
        ) from error
    if "x86" not in torch.backends.quantized.supported_engines and "fbgemm" not in torch.backends.quantized.supported_engines:
        raise Int8UnavailableError(
            f"llm4teach.teacher.dtype=int8 needs torch's x86/fbgemm int8 kernels; this build has "
            f"{torch.backends.quantized.supported_engines}: use dtype=float32 or auto"
        )
    return DynamicLinear, per_channel_dynamic_qconfig


def int8_available() -> bool:
    """Whether this torch build runs :class:`RowSplitInt8Linear` (``dtype=auto`` falls back to float32 where not)."""
    try:
        _dynamic_linear_class()
    except Int8UnavailableError:
        return False
    return True


class RowSplitInt8Linear(nn.Module):
    """A linear layer with int8 weights (per output channel) whose outlier input rows are quantised apart."""

    def __init__(self, linear: nn.Linear, outlier_ratio: float = OUTLIER_RATIO) -> None:
        super().__init__()
        if linear.weight.dtype != torch.float32 or linear.weight.device.type != "cpu":
            raise Int8UnavailableError(
                f"int8 linear layers run on float32 CPU weights, got {linear.weight.dtype} on {linear.weight.device}"
            )
        dynamic_linear, qconfig = _dynamic_linear_class()
        linear.qconfig = qconfig
        with warnings.catch_warnings():  # torch flags eager quantisation as deprecated in favour of torchao
            warnings.simplefilter("ignore")
            self.int8 = dynamic_linear.from_float(linear)
        self.in_features, self.out_features = linear.in_features, linear.out_features
        self.outlier_ratio = outlier_ratio

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        rows = x.reshape(-1, self.in_features)
        row_peak = rows.abs().amax(dim=1)
        outlier = row_peak > self.outlier_ratio * row_peak.median()
        if not bool(outlier.any()):
            return self.int8(x)
        out = rows.new_empty(rows.shape[0], self.out_features)
        out[outlier] = self.int8(rows[outlier])
        if not bool(outlier.all()):
            out[~outlier] = self.int8(rows[~outlier])
        return out.reshape(*x.shape[:-1], self.out_features)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, outlier_ratio={self.outlier_ratio}"


def quantize_linears(model: nn.Module, outlier_ratio: float = OUTLIER_RATIO) -> int:
    """Replace every ``nn.Linear`` of ``model`` by a :class:`RowSplitInt8Linear`, in place; how many.

    The float32 weights of the replaced layers are released (about a quarter of the memory is left), but an LM head's
    weights tied to the input embeddings, which stay float32 for the lookup."""
    replaced = 0
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            if type(child) is nn.Linear:
                setattr(parent, name, RowSplitInt8Linear(child, outlier_ratio))
                replaced += 1
    return replaced
