"""L4TResNetPolicy's network options against habitat's own, unmodified PointNavResNetPolicy."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from gym import spaces
from habitat_baselines.rl.ddppo.policy.resnet_policy import PointNavResNetPolicy

from habitat_baselines.rl.ddppo.policy.resnet_policy import ResNetEncoder
from torch.nn import functional as F

from habitat_llm4teach.distill.student import (
    OnePassPoolingResNetEncoder,
    OnePixelOutputConv2d,
    PointwiseConv2d,
    pointwise_on_1x1_maps,
)
from habitat_llm4teach.errors import ConfigError


def _habitat_policy(size: int, baseplanes: int = 32) -> tuple[PointNavResNetPolicy, spaces.Dict]:
    torch.manual_seed(0)
    space = spaces.Dict({"rgb": spaces.Box(0, 255, (size, size, 3), np.uint8)})
    policy = PointNavResNetPolicy(space, spaces.Discrete(7), hidden_size=64, rnn_type="LSTM", resnet_baseplanes=baseplanes,
                                  backbone="resnet18", normalize_visual_inputs=True)
    return policy, space


@pytest.mark.parametrize("size", [64, 44])
def test_pointwise_encoder_has_habitats_outputs_and_gradients(size):
    reference, space = _habitat_policy(size)
    encoder = reference.net.visual_encoder
    slim = copy.deepcopy(encoder)
    replaced = pointwise_on_1x1_maps(slim, space)
    # ResNet18's last stage on its 1x1 map and the compression layer become pointwise; the two convolutions that
    # make the last stage's 1x1 map from layer3's 2x2 one (the strided 3x3 and the 1x1 shortcut) keep their shapes.
    one_pixel = ["backbone.layer4.0.convs.0", "backbone.layer4.0.downsample.0"]
    pointwise = [name for name in replaced if name not in one_pixel]
    assert sorted(set(replaced) - set(pointwise)) == sorted(one_pixel)
    assert "compression.0" in pointwise and len(pointwise) == 4
    assert all(type(slim.get_submodule(name)) is PointwiseConv2d for name in pointwise)
    assert all(slim.get_submodule(name).kernel_size == (1, 1) for name in pointwise)
    assert all(type(slim.get_submodule(name)) is OnePixelOutputConv2d for name in one_pixel)
    assert all(slim.get_submodule(name).weight.shape == encoder.get_submodule(name).weight.shape for name in one_pixel)
    assert sum(p.numel() for p in slim.parameters()) < sum(p.numel() for p in encoder.parameters()) / 2
    # The probe forward pass left the running statistics alone.
    for (name, buffer), (_, slim_buffer) in zip(encoder.named_buffers(), slim.named_buffers()):
        assert torch.equal(buffer, slim_buffer), name

    images = {"rgb": torch.randint(0, 256, (6, size, size, 3), dtype=torch.uint8)}
    encoder.eval(), slim.eval()
    expected, got = encoder(images), slim(images)
    assert got.shape == expected.shape
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-5)

    target = torch.randn_like(expected)
    ((encoder(images) - target) ** 2).sum().backward()
    ((slim(images) - target) ** 2).sum().backward()
    for name in pointwise:
        full_grad = encoder.get_submodule(name).weight.grad  # [out, in, 3, 3]
        assert torch.count_nonzero(full_grad[:, :, [0, 0, 0, 1, 1, 2, 2, 2], [0, 1, 2, 0, 2, 0, 1, 2]]) == 0
        _assert_close_to_scale(slim.get_submodule(name).weight.grad, full_grad[:, :, 1:2, 1:2])
    # Every other parameter (the first convolution included) gets the gradient it gets in habitat's encoder.
    for (name, param), (_, slim_param) in zip(encoder.named_parameters(), slim.named_parameters()):
        if name.rsplit(".", 1)[0] not in pointwise:
            _assert_close_to_scale(slim_param.grad, param.grad)


def _assert_close_to_scale(got: torch.Tensor, expected: torch.Tensor) -> None:
    """Equal up to float32 summation order: within 1e-3 of the tensor's largest magnitude."""
    scale = float(expected.abs().max()) or 1.0
    torch.testing.assert_close(got, expected, rtol=0, atol=1e-3 * scale)


def test_nothing_to_replace_on_large_maps():
    _, space = _habitat_policy(256, baseplanes=8)
    policy, _ = _habitat_policy(256, baseplanes=8)
    assert pointwise_on_1x1_maps(policy.net.visual_encoder, space) == []



def test_the_pointwise_student_leaves_torchs_random_stream_where_habitats_encoder_does():
    # The same network up to rounding should make the same run: action sampling and minibatch order must draw the
    # same random numbers after the replacement as without it.
    policy, space = _habitat_policy(64)
    torch.manual_seed(1)
    untouched = torch.rand(3)
    torch.manual_seed(1)
    assert pointwise_on_1x1_maps(policy.net.visual_encoder, space)  # some convolutions were replaced
    assert torch.equal(torch.rand(3), untouched)


def test_a_pointwise_convolution_is_torchs_1x1_convolution_on_any_map():
    torch.manual_seed(0)
    pointwise = PointwiseConv2d(6, 5, 1)
    reference = torch.nn.Conv2d(6, 5, 1)
    reference.load_state_dict(pointwise.state_dict())  # the same parameter shapes: checkpoints load either way
    for shape in [(4, 6, 1, 1), (4, 6, 3, 2)]:
        x = torch.randn(shape)
        torch.testing.assert_close(pointwise(x), reference(x), rtol=1e-5, atol=1e-6)
    assert pointwise(torch.randn(4, 6, 1, 1)).shape == (4, 5, 1, 1)


@pytest.mark.parametrize("kernel, stride, padding, input_size", [
    (3, 2, 1, (2, 2)),  # ResNet18's strided 3x3 from a 2x2 map: 4 of the 9 taps
    (1, 2, 0, (2, 2)),  # its 1x1 shortcut: the top-left pixel
    (3, 1, 0, (3, 3)),  # every tap
    (3, 2, 1, (2, 1)),  # a non-square map
])
def test_a_one_pixel_output_convolution_is_torchs_convolution(kernel, stride, padding, input_size):
    torch.manual_seed(0)
    reference = torch.nn.Conv2d(6, 5, kernel, stride=stride, padding=padding)
    one_pixel = OnePixelOutputConv2d(6, 5, kernel, stride=stride, padding=padding, input_size=input_size)
    one_pixel.load_state_dict(reference.state_dict())  # the same parameter shapes: checkpoints load either way
    x = torch.randn(4, 6, *input_size, requires_grad=True)
    x_ref = x.detach().clone().requires_grad_()
    got, expected = one_pixel(x), reference(x_ref)
    assert got.shape == expected.shape == (4, 5, 1, 1)
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-6)
    target = torch.randn(4, 5, 1, 1)
    ((got - target) ** 2).sum().backward()
    ((expected - target) ** 2).sum().backward()
    torch.testing.assert_close(x.grad, x_ref.grad, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(one_pixel.weight.grad, reference.weight.grad, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(one_pixel.bias.grad, reference.bias.grad, rtol=1e-5, atol=1e-6)
    # Another map size goes through the convolution.
    larger = torch.randn(4, 6, input_size[0] + 3, input_size[1] + 3)
    torch.testing.assert_close(one_pixel(larger), reference(larger), rtol=1e-5, atol=1e-6)


def test_a_one_pixel_output_convolution_refuses_a_map_it_does_not_shrink_to_one_pixel():
    with pytest.raises(ValueError, match="1x1 map"):
        OnePixelOutputConv2d(6, 5, 3, stride=1, padding=1, input_size=(2, 2))
    # Its product reads padding as zeros: another padding mode would give other outputs.
    with pytest.raises(ValueError, match="zero padding"):
        OnePixelOutputConv2d(6, 5, 3, stride=2, padding=1, padding_mode="reflect", input_size=(2, 2))


class _OneConvEncoder(torch.nn.Module):
    visual_keys = ["rgb"]

    def __init__(self, padding_mode: str) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(2, 2, 3, padding=1, padding_mode=padding_mode)

    def forward(self, observations):
        return self.conv(observations["rgb"].float().permute(0, 3, 1, 2))


def test_only_zero_padding_makes_a_3x3_convolution_on_a_1x1_map_pointwise():
    # With replicate padding the outer taps multiply the pixel itself: the centre tap alone would change the outputs.
    space = spaces.Dict({"rgb": spaces.Box(0, 255, (1, 1, 2), np.uint8)})
    assert pointwise_on_1x1_maps(_OneConvEncoder("zeros"), space) == ["conv"]
    assert pointwise_on_1x1_maps(_OneConvEncoder("replicate"), space) == []


def _rgb_depth_space(size: int, depth: bool) -> spaces.Dict:
    keys = {"rgb": spaces.Box(0, 255, (size, size, 3), np.uint8)}
    if depth:
        keys["depth"] = spaces.Box(0.0, 1.0, (size, size, 1), np.float32)
    return spaces.Dict(keys)


@pytest.mark.parametrize("pointwise", [False, True])
def test_one_pass_pooling_has_habitats_outputs_and_gradients(pointwise):
    reference, space = _habitat_policy(64)
    encoder = reference.net.visual_encoder
    if pointwise:
        pointwise_on_1x1_maps(encoder, space)
    one_pass = copy.deepcopy(encoder)
    OnePassPoolingResNetEncoder.adopt(one_pass)
    assert type(one_pass) is OnePassPoolingResNetEncoder
    for (name, param), (_, same) in zip(encoder.named_parameters(), one_pass.named_parameters()):
        assert torch.equal(param, same), name

    # A slice of a larger batch, as PPO's minibatches are: not contiguous.
    images = {"rgb": torch.randint(0, 256, (12, 64, 64, 3), dtype=torch.uint8)[::2]}
    # The backbone's input, computed as torch does it without habitat: mean of each 2x2 block of image / 255.
    expected_input = F.avg_pool2d(images["rgb"].permute(0, 3, 1, 2).double() / 255, 2)
    got_input = OnePassPoolingResNetEncoder._pooled(images["rgb"], 1 / 255).permute(0, 3, 1, 2)
    torch.testing.assert_close(got_input.double(), expected_input, rtol=0, atol=1e-7)

    expected, got = encoder(images), one_pass(images)
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-5)
    target = torch.randn_like(expected)
    ((encoder(images) - target) ** 2).sum().backward()
    ((one_pass(images) - target) ** 2).sum().backward()
    for (name, param), (_, same) in zip(encoder.named_parameters(), one_pass.named_parameters()):
        _assert_close_to_scale(same.grad, param.grad)


def test_one_pass_pooling_leaves_other_images_to_habitat(monkeypatch):
    calls = []
    original = ResNetEncoder.forward
    monkeypatch.setattr(ResNetEncoder, "forward", lambda self, obs: calls.append(1) or original(self, obs))
    for space, images in [
        # a float depth image beside the 8-bit one
        (_rgb_depth_space(32, depth=True), {"rgb": torch.randint(0, 256, (2, 32, 32, 3), dtype=torch.uint8),
                                            "depth": torch.rand(2, 32, 32, 1)}),
        # an odd side: habitat's pooling drops the last row and column
        (_rgb_depth_space(33, depth=False), {"rgb": torch.randint(0, 256, (2, 33, 33, 3), dtype=torch.uint8)}),
    ]:
        calls.clear()
        torch.manual_seed(0)
        encoder = PointNavResNetPolicy(space, spaces.Discrete(7), hidden_size=32, backbone="resnet18").net.visual_encoder
        one_pass = copy.deepcopy(encoder)
        OnePassPoolingResNetEncoder.adopt(one_pass)
        encoder.eval(), one_pass.eval()
        expected = encoder(images)
        assert calls == [1]
        torch.testing.assert_close(one_pass(images), expected, rtol=0, atol=0)
        assert calls == [1, 1]


def test_one_pass_pooling_refuses_an_encoder_that_is_not_habitats_resnet():
    with pytest.raises(ConfigError, match="pool_images_in_one_pass"):
        OnePassPoolingResNetEncoder.adopt(torch.nn.Linear(2, 2))
