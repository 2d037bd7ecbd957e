"""``FusedAdamPPO`` / ``FusedAdamDDPPO``: habitat's PPO and DD-PPO updaters with a fused Adam step.

Owns the student's optimizer. habitat-baselines builds ``Adam(foreach=True)``; on a CPU the fused kernel does
the same update several times faster, and in a profile of MiniGrid LLM4Teach training on a 2-core CPU the
optimizer step was ~12 % of all the trainer's time (16 steps an update; ``scripts/bench_ppo_fps.py`` measures
the gain). It is the same algorithm with the same hyper-parameters and state (a resume state from either loads into the other); only
the order of float operations differs. Where the fused kernel is unavailable (other devices, old torch, non-float
parameters) habitat's optimizer is built, as before.

Every updater of ours (``L4TDistill*``) takes the mixin too, so PPO and LLM4Teach keep the same optimizer.
"""

from __future__ import annotations

from typing import Any, Optional

import torch
from habitat import logger
from habitat_baselines.common.baseline_registry import baseline_registry
from habitat_baselines.rl.ddppo.algo.ddppo import DDPPO
from habitat_baselines.rl.ppo.ppo import PPO

FUSED_DEVICES = ("cpu", "cuda")


class FusedAdam:
    """Mixin for habitat's ``PPO``: ``_create_optimizer`` (habitat's named hook) builds ``Adam(fused=True)``."""

    def _create_optimizer(self, lr: float, eps: float) -> Optional[torch.optim.Optimizer]:
        params = [p for p in self.parameters() if p.requires_grad]  # type: ignore[attr-defined]
        if not params or not fused_adam_supported(params):
            return super()._create_optimizer(lr, eps)  # type: ignore[misc]
        logger.info(f"Number of params to train: {sum(p.numel() for p in params)} (fused Adam)")
        return torch.optim.Adam(params, lr=lr, eps=eps, fused=True)

    def load_state_dict(self, state: dict) -> None:
        """habitat's (a resume state's ``optim_state``), keeping the fused step: torch's ``Optimizer.load_state_dict``
        restores every group option saved, and a state saved by habitat's own Adam says ``foreach``."""
        fused = self.optimizer is not None and self.optimizer.defaults.get("fused") is True  # type: ignore[attr-defined]
        super().load_state_dict(state)  # type: ignore[misc]
        if fused:
            for group in self.optimizer.param_groups:  # type: ignore[attr-defined]
                group["fused"], group["foreach"] = True, None


def fused_adam_supported(params: list[Any]) -> bool:
    """Whether ``Adam(fused=True)`` runs on these parameters: one float dtype on a CPU or CUDA device."""
    devices = {p.device.type for p in params}
    return len(devices) == 1 and devices <= set(FUSED_DEVICES) and all(p.is_floating_point() for p in params)


@baseline_registry.register_updater
class FusedAdamPPO(FusedAdam, PPO):
    """habitat's PPO with a fused Adam step (``updater_name: FusedAdamPPO``)."""


@baseline_registry.register_updater
class FusedAdamDDPPO(FusedAdam, DDPPO):
    """habitat's DD-PPO with a fused Adam step (``distrib_updater_name: FusedAdamDDPPO``)."""
