"""``L4TResNetPolicy``: the student, habitat's PointNavResNetPolicy without the teacher-only observations.

It also takes the ResNet's width from ``llm4teach.student.resnet_baseplanes``,
an argument of habitat's policy that its ``from_config`` leaves at 32, and with
``llm4teach.student.pointwise_on_1x1_maps`` computes every 3x3 convolution
that only ever sees a 1x1 feature map as the 1x1 convolution of its centre tap
(:func:`pointwise_on_1x1_maps`), run as a matrix product (:class:`PointwiseConv2d`):
the same network up to float rounding, a third of the parameters (MiniGrid's
default student). A checkpoint trained with the other setting is refused with
the option that trained it (:meth:`L4TResNetPolicy.load_state_dict`). With
``llm4teach.student.pool_images_in_one_pass`` (also on in MiniGrid's default
student) its encoder scales and pools 8-bit images in one pass
(:class:`OnePassPoolingResNetEncoder`), the same input up to float rounding.

habitat's ResNet policy feeds every 1-D observation to its RNN and drops only
the ``eval.extra_sim_sensors`` cameras; the teacher's ``l4t_scene`` vector
(Habitat pick/place) is a lab sensor, so this subclass removes
``keys.TEACHER_ONLY`` from the observation space before habitat builds the
network, which is otherwise unchanged.

With ``llm4teach.teacher.plan_overlay=true`` (evaluation videos: the
quickstart for MiniGrid, scripts/eval_rearrange.sh for pick/place) it also runs
the teacher of ``llm4teach.teacher.env`` on the same observations and reports
its most probable plan and that plan's current skill as ``policy_info``
(``teacher_plan``, ``teacher_skill``), which habitat's evaluator writes onto
every video frame; the student's actions are unchanged.
"""

from __future__ import annotations

import functools
from typing import Any, Optional

import numpy as np
import torch
from gym import spaces
from habitat_baselines.common.baseline_registry import baseline_registry
from habitat_baselines.rl.ddppo.policy.resnet_policy import PointNavResNetPolicy, ResNetEncoder
from torch import nn
from torch.nn import functional as F

from habitat_llm4teach import keys
from habitat_llm4teach.errors import ConfigError
from habitat_llm4teach.teacher.guidance import Teacher
from habitat_llm4teach.teachers import build_teacher


@baseline_registry.register_policy
class L4TResNetPolicy(PointNavResNetPolicy):
    overlay_teacher: Optional[Teacher] = None  # the env's teacher (planner in process) when plan_overlay is on

    @classmethod
    def from_config(cls, config: Any, observation_space: spaces.Dict, action_space: spaces.Space, **kwargs: Any):
        student_space = spaces.Dict({k: v for k, v in observation_space.spaces.items() if k not in keys.TEACHER_ONLY})
        baseplanes = int(config.llm4teach.student.resnet_baseplanes)
        if baseplanes < 2 or baseplanes % 2:
            # habitat's ResNet uses GroupNorm with baseplanes // 2 groups.
            raise ConfigError(f"llm4teach.student.resnet_baseplanes must be an even number >= 2, got {baseplanes}")
        # habitat's from_config only calls cls(...) with its keyword arguments; hand it a constructor that
        # adds the one it does not pass.
        build = functools.partial(cls, resnet_baseplanes=baseplanes)
        policy = PointNavResNetPolicy.from_config.__func__(build, config, student_space, action_space, **kwargs)
        if config.llm4teach.student.pointwise_on_1x1_maps and not policy.net.is_blind:
            pointwise_on_1x1_maps(policy.net.visual_encoder, student_space)
        # .get: the config of a resume state saved before the key existed lacks it; such a run trained without it.
        if config.llm4teach.student.get("pool_images_in_one_pass", False) and not policy.net.is_blind:
            OnePassPoolingResNetEncoder.adopt(policy.net.visual_encoder)
        teacher_config = config.llm4teach.teacher
        if teacher_config.get("plan_overlay", False):
            policy.overlay_teacher = build_teacher(teacher_config, observation_space, action_space)
        return policy

    def load_state_dict(self, state_dict: Any, *args: Any, **kwargs: Any):
        """torch's, with the student option to use when a checkpoint was trained with another student network."""
        try:
            return super().load_state_dict(state_dict, *args, **kwargs)
        except RuntimeError as error:
            built = self.state_dict()
            mismatched = {key: (tuple(value.shape), tuple(built[key].shape)) for key, value in state_dict.items()
                          if key in built and tuple(value.shape) != tuple(built[key].shape)}
            if not mismatched:
                raise
            trained_rnn = self._rnn_type_of(state_dict)
            if trained_rnn is not None and trained_rnn != self._rnn_type_of(built):
                minigrid = " (MiniGrid: minigrid/student=resnet18_64_pointwise or resnet18_64)" if trained_rnn == "LSTM" else ""
                hint = f"it was trained with habitat_baselines.rl.ddppo.rnn_type={trained_rnn}{minigrid}"
            elif all(saved[:2] == now[:2] and {saved[2:], now[2:]} == {(3, 3), (1, 1)} for saved, now in mismatched.values()):
                pointwise = next(iter(mismatched.values()))[0][2:] == (1, 1)
                student = "resnet18_64_pointwise" if pointwise else "resnet18_64"
                until = "" if pointwise else ", MiniGrid's default student until 2026-12-06"
                hint = (f"it was trained with llm4teach.student.pointwise_on_1x1_maps={str(pointwise).lower()} "
                        f"(MiniGrid: minigrid/student={student}{until})")
            else:
                hint = "it was trained with another student network (width, image size, RNN): use the options that trained it"
            shapes = "; ".join(f"{key}: checkpoint {saved}, this policy {now}" for key, (saved, now) in list(mismatched.items())[:3])
            raise ConfigError(f"this checkpoint does not fit the student built from the config: {hint}. "
                              f"{len(mismatched)} parameter(s) differ in shape, e.g. {shapes}") from error

    @staticmethod
    def _rnn_type_of(state_dict: Any) -> Optional[str]:
        """The recurrent cell a state dict was made with, from its gate count (weight_hh: [gates * hidden, hidden])."""
        weight = state_dict.get("net.state_encoder.rnn.weight_hh_l0")
        if weight is None or weight.dim() != 2 or weight.shape[0] % weight.shape[1]:
            return None
        return {3: "GRU", 4: "LSTM"}.get(weight.shape[0] // weight.shape[1])

    def act(self, observations: Any, *args: Any, **kwargs: Any):
        action_data = super().act(observations, *args, **kwargs)
        if self.overlay_teacher is not None:
            self.overlay_teacher.guide_batch(observations)
            action_data.policy_info = [
                {"teacher_plan": plan or "(none)", "teacher_skill": skill or "(no guidance)"}
                for plan, skill in zip(self.overlay_teacher.last_plans, self.overlay_teacher.last_skills)
            ]
        return action_data


class PointwiseConv2d(nn.Conv2d):
    """A 1x1 convolution computed as a matrix product when its input is a 1x1 map.

    Its parameters keep nn.Conv2d's shapes (weight [out, in, 1, 1]), so checkpoints do not change; the product is
    the same sum as the convolution in another order. Why: oneDNN runs a 1x1 convolution on a 1x1 map (habitat's
    2048-channel compression layer on MiniGrid's image) at a third of the speed of the matrix product it is, forward
    and backward, on this CPU.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-2:] != (1, 1) or self.groups != 1:
            return super().forward(x)
        return F.linear(x.flatten(1), self.weight.flatten(1), self.bias)[:, :, None, None]


class OnePixelOutputConv2d(nn.Conv2d):
    """A convolution whose output is a 1x1 map, computed as one matrix product over the input window it reads.

    With a 1x1 output, the kernel sits at one place: output = sum over the input pixels under it of their kernel
    tap times their channels, the matrix product of the window's pixels (flattened) and the matching taps. Taps
    that only cover zero padding take no part, as in the convolution, where they never change an output and get
    a zero gradient. The parameters keep nn.Conv2d's shapes, so checkpoints do not change. Why: oneDNN runs such
    a convolution (ResNet18's strided first convolution of its last stage, and its 1x1 strided shortcut, on
    MiniGrid's 2x2 map) at about half the speed of the product, forward and backward, on this CPU. Inputs of
    another size than ``input_size`` go through the convolution.
    """

    def __init__(self, *args: Any, input_size: tuple[int, int], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not self.computes_as_product(self, input_size):
            raise ValueError(f"{self} does not make a 1x1 map from a {input_size} input with zero padding")
        self.input_size = tuple(input_size)
        # Input rows (columns) the kernel covers, and the taps that cover them: input i meets tap i + padding.
        self._input_window = tuple(slice(max(0, -pad), min(size, k - pad))
                                   for size, pad, k in zip(input_size, self.padding, self.kernel_size))
        self._tap_window = tuple(slice(w.start + pad, w.stop + pad) for w, pad in zip(self._input_window, self.padding))

    @staticmethod
    def computes_as_product(conv: nn.Conv2d, input_size: tuple[int, ...]) -> bool:
        """Whether ``conv`` makes a 1x1 map from an ``input_size`` map with plain zero padding, ungrouped and
        undilated: what this class computes as a product."""
        return (
            conv.groups == 1 and conv.dilation == (1, 1) and conv.padding_mode == "zeros"
            and isinstance(conv.padding, tuple)
            and all((size + 2 * pad - k) // stride + 1 == 1
                    for size, pad, k, stride in zip(input_size, conv.padding, conv.kernel_size, conv.stride))
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if tuple(x.shape[-2:]) != self.input_size:
            return super().forward(x)
        window = x[:, :, self._input_window[0], self._input_window[1]]
        taps = self.weight[:, :, self._tap_window[0], self._tap_window[1]]
        return F.linear(window.flatten(1), taps.flatten(1), self.bias)[:, :, None, None]


class OnePassPoolingResNetEncoder(ResNetEncoder):
    """habitat's ResNetEncoder that scales and 2x2-average-pools its 8-bit images in one pass over each image.

    habitat's forward converts every image to float at full size, scales it, concatenates the keys and only then
    halves it with ``avg_pool2d``: four passes over the full-size image, each making a new tensor, in every forward
    (PPO sees each image again in every epoch). Adding the four 8-bit values of each 2x2 block in float (exact: at
    most 4 x 255) and scaling the sum once gives the same input up to float rounding. Why: on a 2-core CPU habitat's
    way took ~10 % of the MiniGrid student's forward and backward (README "The MiniGrid student on a CPU"). Batches
    with a visual key that is not 8-bit (depth) or an odd image side go through habitat's forward unchanged.
    """

    @classmethod
    def adopt(cls, encoder: nn.Module) -> None:
        """Make habitat's ``encoder`` (built by its policy) one of these in place: same modules and parameters,
        so checkpoints and the random stream do not change."""
        if type(encoder) is not ResNetEncoder:
            raise ConfigError("llm4teach.student.pool_images_in_one_pass needs habitat's ResNetEncoder; "
                              f"this backbone builds {type(encoder).__name__}: set it to false")
        encoder.__class__ = cls

    def _pools_in_one_pass(self, observations: dict[str, torch.Tensor]) -> bool:
        return all(
            self.key_needs_rescaling[key] is not None and observations[key].dtype == torch.uint8
            and observations[key].shape[1] % 2 == 0 and observations[key].shape[2] % 2 == 0
            for key in self.visual_keys
        )

    @staticmethod
    def _pooled(image: torch.Tensor, scale: float) -> torch.Tensor:
        """[batch, height, width, channels] 8-bit image -> its 2x2 block means times ``scale``, [b, h/2, w/2, c]."""
        batch, height, width, channels = image.shape
        # Each row pair as [:, :, 0] and [:, :, 1]; in a row, each pixel pair as the two halves of 2 * channels values.
        pixel_pairs = image.reshape(batch, height // 2, 2, width // 2, 2 * channels).float()
        row_sums = pixel_pairs[:, :, 0] + pixel_pairs[:, :, 1]
        return (row_sums[..., :channels] + row_sums[..., channels:]) * (scale / 4)

    def forward(self, observations: dict[str, torch.Tensor]) -> torch.Tensor:  # type: ignore[override]
        if self.is_blind or not self._pools_in_one_pass(observations):
            return super().forward(observations)
        pooled = [self._pooled(observations[key], self.key_needs_rescaling[key]) for key in self.visual_keys]
        image = pooled[0] if len(pooled) == 1 else torch.cat(pooled, dim=-1)
        # [batch, channels, height, width], channels-last in memory like habitat's permuted image.
        x = self.running_mean_and_var(image.permute(0, 3, 1, 2))
        x = self.backbone(x)
        return self.compression(x)


def pointwise_on_1x1_maps(encoder: nn.Module, observation_space: spaces.Dict) -> list[str]:
    """Replace each 3x3 convolution (padding 1) of ``encoder`` whose input is always a 1x1 map by a 1x1 convolution
    holding its centre tap (:class:`PointwiseConv2d`), and each other convolution that always makes a 1x1 map by a
    :class:`OnePixelOutputConv2d` with the same parameters; returns the replaced modules' names.

    On a 1x1 map with padding 1, the eight outer taps of a 3x3 kernel only ever multiply zero padding: they never
    change an output and never get a gradient (so Adam never moves them). The centre tap alone gives the same outputs
    and gradients up to float rounding (training runs still diverge from habitat's: Adam turns rounding-level
    differences in tiny gradients into weight differences; README "The MiniGrid student on a CPU"). habitat's ResNet
    encoder has such convolutions wherever the image is small enough for its last stage to reach 1x1 (MiniGrid's
    64 px image: ResNet18's last stage and the 2048-channel compression layer, two thirds of the student's
    parameters and ~1/3 of its update time on a CPU). The convolutions that lead into that stage (its strided
    first convolution and shortcut, from a 2x2 map) keep their parameters and are computed as matrix products too.

    Map sizes are found by one forward pass of a blank observation, in eval mode (no running-statistics update and,
    under DD-PPO, no collective), before any training.
    """
    input_sizes: dict[str, tuple[int, ...]] = {}
    hooks = [
        module.register_forward_hook(lambda _m, inputs, _o, name=name: input_sizes.__setitem__(name, tuple(inputs[0].shape[-2:])))
        for name, module in encoder.named_modules()
        if isinstance(module, nn.Conv2d)
    ]
    blank = {
        key: torch.from_numpy(np.zeros((1, *space.shape), dtype=space.dtype))
        for key, space in observation_space.spaces.items()
        if key in encoder.visual_keys
    }
    was_training = encoder.training
    try:
        encoder.eval()
        with torch.no_grad():
            encoder(blank)
    finally:
        encoder.train(was_training)
        for hook in hooks:
            hook.remove()
    replaced = []
    for name, module in list(encoder.named_modules()):
        if not isinstance(module, nn.Conv2d) or name not in input_sizes or module.dilation != (1, 1):
            continue
        input_size = input_sizes[name]
        # Only zero padding leaves the outer taps with nothing to multiply (replicate or circular padding repeats the pixel).
        centre_tap_only = (input_size == (1, 1) and module.kernel_size == (3, 3) and module.padding == (1, 1)
                           and module.padding_mode == "zeros")
        one_pixel_output = input_size != (1, 1) and OnePixelOutputConv2d.computes_as_product(module, input_size)
        if not (centre_tap_only or one_pixel_output):
            continue
        # Built without drawing from torch's random stream (its weights are overwritten next): the rest of the run
        # (action sampling, minibatch order) then draws the same numbers as with habitat's encoder.
        with torch.random.fork_rng(devices=[]):
            if centre_tap_only:
                replacement = PointwiseConv2d(module.in_channels, module.out_channels, 1, stride=module.stride,
                                              groups=module.groups, bias=module.bias is not None)
            else:
                replacement = OnePixelOutputConv2d(
                    module.in_channels, module.out_channels, module.kernel_size, stride=module.stride,
                    padding=module.padding, bias=module.bias is not None, input_size=input_size,
                )
        with torch.no_grad():
            replacement.weight.copy_(module.weight[:, :, 1:2, 1:2] if centre_tap_only else module.weight)
            if module.bias is not None:
                replacement.bias.copy_(module.bias)
        parent_name, _, child_name = name.rpartition(".")
        setattr(encoder.get_submodule(parent_name) if parent_name else encoder, child_name, replacement)
        replaced.append(name)
    return replaced
