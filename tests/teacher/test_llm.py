"""The transformers backend: loading and its errors, chat rendering, batched scoring, sampling."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import set_cpu_bfloat16_units

from habitat_llm4teach.teacher.llm import (
    KNOWN_GGUF_SHA256,
    CausalLM,
    ModelLoadError,
    cpu_has_bfloat16_units,
    resolve_dtype,
    resolve_model,
)


@pytest.fixture(scope="module")
def tiny_lm(tiny_model_dir):
    return CausalLM(str(tiny_model_dir), dtype="float32")


def full_sequence_logprobs(lm: CausalLM, prompt: str, continuation: str) -> list[float]:
    ids = lm.tokenizer(prompt, add_special_tokens=False).input_ids
    cont = lm.tokenizer(continuation, add_special_tokens=False).input_ids
    with torch.inference_mode():
        logp = torch.log_softmax(lm.model(torch.tensor([ids + cont])).logits[0].float(), -1)
    return [logp[len(ids) - 1 + j, t].item() for j, t in enumerate(cont)]


@pytest.mark.parametrize("use_static_prefix", [True, False])
def test_batched_scores_match_full_sequence_scoring(tiny_lm, use_static_prefix):
    system = tiny_lm.render_chat([{"role": "system", "content": "You plan for an agent."}], add_generation_prompt=False)
    prompt = tiny_lm.render_chat([
        {"role": "system", "content": "You plan for an agent."},
        {"role": "user", "content": "Agent sees <yellow key>, holds <nothing>. Goal: open the door."},
    ])
    candidates = ["explore", "pick up yellow key", "open yellow door"]
    scores = tiny_lm.score(prompt, candidates, static_prefix=system if use_static_prefix else "")
    for (total, mean), candidate in zip(scores, candidates):
        expected = full_sequence_logprobs(tiny_lm, prompt, candidate)
        assert total == pytest.approx(sum(expected), abs=1e-3)
        assert mean == pytest.approx(np.mean(expected), abs=1e-3)
    # the cached prefix is reused, not corrupted, by a second query
    again = tiny_lm.score(prompt, candidates, static_prefix=system if use_static_prefix else "")
    np.testing.assert_allclose(again, scores, atol=1e-4)


def test_static_prefix_must_prefix_the_prompt(tiny_lm):
    with pytest.raises(ValueError, match="prefix"):
        tiny_lm.score("abc", ["x"], static_prefix="zzz")


def test_greedy_sampling_matches_transformers_generate(tiny_lm):
    system = tiny_lm.render_chat([{"role": "system", "content": "You plan."}], add_generation_prompt=False)
    prompt = tiny_lm.render_chat([{"role": "system", "content": "You plan."}, {"role": "user", "content": "Plan:"}])
    ids = tiny_lm.tokenizer(prompt, add_special_tokens=False, return_tensors="pt").input_ids
    with torch.inference_mode():
        reference = tiny_lm.model.generate(ids, do_sample=False, max_new_tokens=8, pad_token_id=tiny_lm.tokenizer.pad_token_id)
    expected = tiny_lm.tokenizer.decode(reference[0, ids.shape[1]:], skip_special_tokens=True)
    for static in (system, ""):
        assert tiny_lm.sample(prompt, n=2, temperature=0.0, max_new_tokens=8, static_prefix=static) == [expected] * 2


def test_sample_returns_n_completions(tiny_lm):
    outs = tiny_lm.sample(tiny_lm.render_chat([{"role": "user", "content": "Plan:"}]), n=3, temperature=1.0, max_new_tokens=5)
    assert len(outs) == 3 and all(isinstance(o, str) for o in outs)


def test_chat_template_used_and_plain_fallback(tiny_lm):
    messages = [{"role": "user", "content": "hi"}]
    assert tiny_lm.render_chat(messages) == "<|user|>hi<|end|>\n<|assistant|>"
    template = tiny_lm.tokenizer.chat_template
    tiny_lm.tokenizer.chat_template = None
    try:
        assert tiny_lm.render_chat(messages) == "user: hi\nassistant: "
    finally:
        tiny_lm.tokenizer.chat_template = template


def test_broken_chat_template_is_named(tiny_lm):
    from habitat_llm4teach.teacher.llm import PromptTemplateError

    template = tiny_lm.tokenizer.chat_template
    tiny_lm.tokenizer.chat_template = "{{ raise_exception('no system role') }}{% for m in messages %"
    try:
        with pytest.raises(PromptTemplateError, match="chat template of model"):
            tiny_lm.render_chat([{"role": "user", "content": "hi"}])
    finally:
        tiny_lm.tokenizer.chat_template = template


def test_loads_offline(tiny_model_dir, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert CausalLM(str(tiny_model_dir), dtype="bfloat16").model.dtype == torch.bfloat16


def test_auto_dtype_follows_the_device(monkeypatch):
    assert resolve_dtype("float32") == torch.float32 and resolve_dtype("bfloat16", "cuda:0") == torch.bfloat16
    for amx, avx512_bf16, expected in ((False, False, torch.float32), (True, False, torch.bfloat16),
                                       (False, True, torch.bfloat16)):
        set_cpu_bfloat16_units(monkeypatch, amx, avx512_bf16)
        assert resolve_dtype("auto", "cpu") == expected
    for supported, expected in ((True, torch.bfloat16), (False, torch.float16)):
        monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, supported=supported, **k: supported)
        assert resolve_dtype("auto", "cuda:1") == expected
    with pytest.raises(ModelLoadError, match="unknown dtype 'fp8'; expected 'auto', 'int8' or one of"):
        resolve_dtype("fp8")


def test_auto_dtype_loads_the_model_in_the_resolved_dtype(tiny_model_dir, monkeypatch):
    set_cpu_bfloat16_units(monkeypatch, False, False)
    without_units = CausalLM(str(tiny_model_dir), dtype="auto", device="cpu")
    assert without_units.model.dtype == torch.float32 and without_units.dtype_name == "int8"
    set_cpu_bfloat16_units(monkeypatch, True, False)
    with_units = CausalLM(str(tiny_model_dir), dtype="auto", device="cpu")
    assert with_units.model.dtype == torch.bfloat16 and with_units.dtype_name == "bfloat16"


@pytest.mark.skipif(not Path("/proc/cpuinfo").is_file(), reason="needs Linux's /proc/cpuinfo")
def test_bfloat16_units_agree_with_the_kernels_cpu_flags():
    flags = {flag for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("flags")
             for flag in line.split(":", 1)[1].split()}
    assert cpu_has_bfloat16_units() == bool(flags & {"amx_bf16", "avx512_bf16"})


def test_bad_model_references(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelLoadError, match="does not exist"):
        resolve_model(str(tmp_path / "missing-model"))
    with pytest.raises(ModelLoadError, match="GGUF file .* does not exist"):
        resolve_model(str(tmp_path / "missing.gguf"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelLoadError, match="no config.json"):
        resolve_model(str(tmp_path / "empty"))
    (tmp_path / "noweights").mkdir()
    (tmp_path / "noweights" / "config.json").write_text("{}")
    with pytest.raises(ModelLoadError, match="has no weights"):
        resolve_model(str(tmp_path / "noweights"))
    with pytest.raises(ModelLoadError, match="neither a local path nor in the local Hugging Face cache"):
        resolve_model("some-org/some-model-that-is-not-cached")
    with pytest.raises(ModelLoadError, match="unknown dtype"):
        CausalLM(str(tmp_path / "noweights"), dtype="int3")


def test_gguf_checksum_mismatch_is_named(tmp_path):
    name = "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert name in KNOWN_GGUF_SHA256
    bad = tmp_path / name
    bad.write_bytes(b"GGUF" + b"\x00" * 1000)
    with pytest.raises(ModelLoadError, match=f"{name}' has sha256 .* expected {KNOWN_GGUF_SHA256[name]}"):
        resolve_model(str(bad))


def test_unreadable_gguf_is_a_clear_error(tmp_path):
    bad = tmp_path / "custom.gguf"
    bad.write_bytes(b"not a gguf at all")
    with pytest.raises(ModelLoadError, match="cannot read GGUF"):
        resolve_model(str(bad))


@pytest.fixture(params=[True, False], ids=["batched", "one-by-one"])
def batching(tiny_lm, request):
    """Queries right-padded as one batch (the GPU default) or each alone with cache reuse (the CPU default)."""
    before = tiny_lm.batch_queries
    tiny_lm.batch_queries = request.param
    yield request.param
    tiny_lm.batch_queries = before


@pytest.mark.parametrize("use_static_prefix", [True, False])
@pytest.mark.parametrize("max_rows", [64, 4])
def test_cross_prompt_batched_scores_equal_one_prompt_at_a_time(tiny_lm, use_static_prefix, max_rows, batching):
    """Descriptions of different lengths with different candidate counts, right-padded into one batch."""
    system_msg = {"role": "system", "content": "You plan for an agent."}
    system = tiny_lm.render_chat([system_msg], add_generation_prompt=False)
    users = [
        "Agent sees <yellow key>, holds <nothing>. Goal: open the door.",
        "Agent sees <nothing>, holds <nothing>.",
        "Agent sees <yellow key>, <yellow door (locked)>, <red ball>, holds <nothing>. Goal: open the door.",
    ]
    prompts = [tiny_lm.render_chat([system_msg, {"role": "user", "content": u}]) for u in users]
    candidates = [["explore", "pick up yellow key"], ["explore"], ["explore", "pick up yellow key", "open yellow door", "drop red key"]]
    static = system if use_static_prefix else ""
    batched = tiny_lm.score_batch(prompts, candidates, static_prefix=static, max_rows=max_rows)
    assert [b.shape for b in batched] == [(2, 2), (1, 2), (4, 2)]
    for prompt, conts, scores in zip(prompts, candidates, batched):
        np.testing.assert_allclose(scores, tiny_lm.score(prompt, conts, static_prefix=static), atol=1e-4)
        for (total, _), cont in zip(scores, conts):
            assert total == pytest.approx(sum(full_sequence_logprobs(tiny_lm, prompt, cont)), abs=1e-3)


def test_score_batch_rejects_bad_input(tiny_lm):
    with pytest.raises(ValueError, match="2 prompts but 1 continuation lists"):
        tiny_lm.score_batch(["a", "b"], [["x"]])
    with pytest.raises(ValueError, match="no continuations"):
        tiny_lm.score_batch(["a"], [[]])
    with pytest.raises(ValueError, match="adds no tokens"):
        tiny_lm.score_batch(["abc"], [["x"]], static_prefix="abc")


@pytest.mark.parametrize("cpu_threads", [0, 1])
def test_a_cpu_forward_pass_runs_on_cpu_threads_and_restores_the_trainers_count(tiny_model_dir, cpu_threads):
    """0: every core (habitat pins the trainer to one thread); n: n threads (the server on a CPU it shares)."""
    import os

    lm = CausalLM(str(tiny_model_dir), dtype="float32", device="cpu", cpu_threads=cpu_threads)
    seen: list[int] = []
    forward = lm.model.forward

    def recording_forward(*args, **kwargs):  # type: ignore[no-untyped-def]
        seen.append(torch.get_num_threads())
        return forward(*args, **kwargs)

    lm.model.forward = recording_forward
    before = torch.get_num_threads()
    torch.set_num_threads(1 if cpu_threads == 0 else 2)
    try:
        lm.score("Agent sees <yellow key>.", ["explore", "pick up yellow key"])
        assert seen and set(seen) == {cpu_threads or len(os.sched_getaffinity(0))}
        assert torch.get_num_threads() == (1 if cpu_threads == 0 else 2)  # the caller's count is back
    finally:
        torch.set_num_threads(before)


def test_negative_cpu_threads_is_refused(tiny_model_dir):
    with pytest.raises(ModelLoadError, match="cpu_threads"):
        CausalLM(str(tiny_model_dir), dtype="float32", device="cpu", cpu_threads=-1)


@pytest.mark.parametrize("use_static_prefix", [True, False])
def test_queries_sharing_a_prefix_reuse_its_cache_and_score_as_full_sequences(tiny_model_dir, use_static_prefix):
    """Consecutive descriptions of one episode share their first tokens: the later ones run only their own tail,
    and every score still equals the log-likelihood of the whole sequence run from scratch."""
    lm = CausalLM(str(tiny_model_dir), dtype="float32")
    system_msg = {"role": "system", "content": "You plan for a robot."}
    system = lm.render_chat([system_msg], add_generation_prompt=False) if use_static_prefix else ""
    users = [
        "Task: pick the banana. You hold nothing. <banana>: out of reach. Nothing else within reach.",
        "Task: pick the banana. You hold nothing. <banana>: out of reach. Also within reach: <chair>.",
        "Task: pick the banana. You hold nothing. <banana>: within reach. Nothing else within reach.",
        "Task: pick the banana. You hold nothing. <banana>: out of reach. Also within reach: <chair>.",  # again
        "Task: place the mug on the sink. You hold <mug>.",
    ]
    candidates = ["navigate to banana", "pick banana", "look around"]
    for user in users:
        prompt = lm.render_chat([system_msg, {"role": "user", "content": user}])
        for (total, mean), candidate in zip(lm.score(prompt, candidates, static_prefix=system), candidates):
            expected = full_sequence_logprobs(lm, prompt, candidate)
            assert total == pytest.approx(sum(expected), abs=1e-3)
            assert mean == pytest.approx(np.mean(expected), abs=1e-3)
    assert lm.query_tokens_reused > lm.query_tokens_run / 2  # the banana queries share most of their tokens
    # A query identical to an earlier one still runs its last token (its logits give the answer).
    run_before = lm.query_tokens_run
    lm.score(lm.render_chat([system_msg, {"role": "user", "content": users[0]}]), candidates, static_prefix=system)
    assert lm.query_tokens_run == run_before + 1


def test_single_token_candidates_need_no_candidate_pass(tiny_lm):
    """Every candidate one token long: the query's last logits score them all."""
    prompt = tiny_lm.render_chat([{"role": "user", "content": "Say a letter:"}])
    letters = [c for c in "abcdefgh" if len(tiny_lm.tokenizer(c, add_special_tokens=False).input_ids) == 1][:3]
    assert len(letters) == 3
    scores = tiny_lm.score(prompt, letters)
    for (total, mean), letter in zip(scores, letters):
        assert total == mean == pytest.approx(full_sequence_logprobs(tiny_lm, prompt, letter)[0], abs=1e-4)
