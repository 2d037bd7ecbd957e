"""Shared test helpers: run the real CLI, build a tiny random causal LM (real plumbing, no download)."""

from __future__ import annotations

import importlib.machinery
import os
import subprocess
import sys
from pathlib import Path
from typing import Sequence

REPO = Path(__file__).resolve().parents[1]
# A real habitat-sim on the import path (our placeholder finder only serves a missing one).
REAL_SIM = importlib.machinery.PathFinder.find_spec("habitat_sim") is not None

# The first words of gym's "unmaintained" notice (gym_notices), printed at most once per run (gym_notice.py).
GYM_NOTICE = "Gym has been unmaintained"

# A few-update budget: 2 envs x 16 steps = 32 env steps per PPO update.
TINY_TRAINING = (
    "habitat_baselines.num_environments=2",
    "habitat_baselines.rl.ppo.num_steps=16",
    "habitat_baselines.rl.ppo.num_mini_batch=1",
    "habitat_baselines.rl.ppo.ppo_epoch=1",
    "habitat_baselines.log_interval=1",
)


def set_cpu_bfloat16_units(monkeypatch, amx: bool, avx512_bf16: bool) -> None:
    """Make torch report this CPU's bfloat16 units (what ``llm4teach.teacher.dtype=auto`` reads) as given."""
    import torch

    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: amx)
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: avx512_bf16)


def run_cli(
    args: Sequence[str], timeout: float = 300, torchrun_procs: int = 0, cwd: Path = REPO
) -> subprocess.CompletedProcess:
    """Run ``python -m habitat_llm4teach.run`` (or under torchrun) in ``cwd`` and capture its output."""
    if torchrun_procs:
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={torchrun_procs}"]
        cmd += ["-m", "habitat_llm4teach.run", *args]
    else:
        cmd = [sys.executable, "-m", "habitat_llm4teach.run", *args]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def output_of(result: subprocess.CompletedProcess) -> str:
    return result.stdout + result.stderr


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def tensorboard_scalars(run_dir: Path) -> dict[str, list[tuple[int, float]]]:
    """Every scalar a run wrote to ``<run_dir>/tb``: tag -> [(step, value)]."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    found: dict[str, list[tuple[int, float]]] = {}
    for events in sorted((run_dir / "tb").glob("events.out.tfevents.*")):
        accumulator = EventAccumulator(str(events), size_guidance={"scalars": 0})
        accumulator.Reload()
        for tag in accumulator.Tags()["scalars"]:
            found.setdefault(tag, []).extend((e.step, e.value) for e in accumulator.Scalars(tag))
    return found


CHAT_TEMPLATE = (
    "{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}<|end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)
CORPUS = [
    "Agent sees <yellow key>, <yellow door (locked)>, holds <nothing>. Goal: open the door.",
    "explore; pick up yellow key; open yellow door; drop red key; go to green goal",
    "You plan for an agent in a grid world. Next skill: Plan:",
] * 20


def build_tiny_causal_lm(out: Path) -> Path:
    """Save a 2-layer random Qwen2 with a byte-level BPE tokenizer and a chat template into ``out``."""
    import torch
    from tokenizers import ByteLevelBPETokenizer
    from transformers import PreTrainedTokenizerFast, Qwen2Config, Qwen2ForCausalLM

    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(CORPUS, vocab_size=400, special_tokens=["<|end|>", "<|pad|>"])
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=bpe, eos_token="<|end|>", pad_token="<|pad|>")
    tokenizer.chat_template = CHAT_TEMPLATE
    tokenizer.save_pretrained(out)
    torch.manual_seed(0)
    config = Qwen2Config(
        vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=2048,
        eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
    )
    Qwen2ForCausalLM(config).save_pretrained(out)
    return out
