"""Local causal language models through transformers: loading, chat prompts, scoring, sampling.

Owns everything that touches model weights. A model is named by a Hugging Face
id (resolved from the local cache only: no model hub at run time), a local
folder with ``config.json`` and weights, or a ``.gguf`` file. A GGUF is
dequantised by transformers once and saved as safetensors under
``<gguf folder>/.converted/`` (one-time ~50 s for a 1.5B model; reloads take
well under a second); its sha256 is checked against the known models of
``scripts/fetch_model.py`` before conversion.

Scoring reuses KV caches: a static prefix (system prompt and examples) is run
once per model. A query scored alone (:meth:`CausalLM._score_one`) reuses the KV
cache of the longest token prefix it shares with a recent query (automatic
prefix caching, as vLLM does: consecutive descriptions of one episode share
their first half, "Task: pick the banana. You hold nothing. ..."), then runs its
new tokens and all its candidates in one forward pass under a 4D attention mask.
On a GPU :meth:`CausalLM.score_batch` runs the queries of several descriptions
right-padded as one batch, then all their candidates in a second pass
(cross-prompt batching for the server); on a CPU it scores them one by one. Only the positions whose logits are read go through the LM head
(its 151k-word vocabulary is ~15% of a 1.5B model's weights). On this 2-core CPU
a pick/place description costs 0.4 s on one thread instead of 1.5 s with two
passes and no reuse: a forward pass of a few tokens costs about as much as one
of twenty, since the weights are read from memory either way.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import json
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

import numpy as np
import torch

from habitat_llm4teach.teacher.attention import register_grouped_sdpa
from habitat_llm4teach.teacher.int8 import Int8UnavailableError, int8_available, quantize_linears

logger = logging.getLogger(__name__)

# sha256 of the GGUF files scripts/fetch_model.py assembles (by file name).
KNOWN_GGUF_SHA256 = {
    "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf": "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
    "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf": "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
    "SmolLM2-135M-Instruct.Q4_1.gguf": "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
}
_DTYPES = {"bfloat16": torch.bfloat16, "float16": torch.float16, "float32": torch.float32}
# ``dtype="auto"`` picks one of _DTYPES or int8 for the device (:func:`resolve_precision`).
AUTO_DTYPE = "auto"
# ``dtype="int8"``: float32 weights loaded, then every linear layer, the LM head included, made int8 (teacher/int8.py;
# CPU only).
INT8_DTYPE = "int8"


def dtype_name(dtype: torch.dtype) -> str:
    """``torch.bfloat16`` -> ``"bfloat16"``: a key of ``_DTYPES``, as converted folders and logs name a dtype."""
    return str(dtype).removeprefix("torch.")


def model_name(ref: str) -> str:
    """How plan caches and the teacher server name the model ``ref`` refers to (a file's or folder's name)."""
    return Path(ref).name if Path(ref).exists() else ref


class ModelLoadError(RuntimeError):
    """A model reference that cannot be loaded; the message names it and the fix."""


class PromptTemplateError(ValueError):
    """A model's chat template that cannot render our prompt."""


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(16 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _has_weights(folder: Path) -> bool:
    return any(folder.glob("*.safetensors")) or any(folder.glob("*.bin"))


def _convert_gguf(gguf: Path, dtype: torch.dtype) -> Path:
    """Dequantise a GGUF into a safetensors folder once; return the folder."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    stat = gguf.stat()
    out = gguf.parent / ".converted" / f"{gguf.stem}-{dtype_name(dtype)}"
    marker = out / "source.json"
    source = {"gguf": gguf.name, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
    if marker.is_file() and json.loads(marker.read_text()) == source and _has_weights(out):
        return out
    expected = KNOWN_GGUF_SHA256.get(gguf.name)
    if expected is not None:
        actual = _sha256(gguf)
        if actual != expected:
            raise ModelLoadError(
                f"GGUF '{gguf}' has sha256 {actual}, expected {expected}: the file is corrupt or incomplete; "
                "delete it and rerun scripts/fetch_model.py"
            )
    logger.info("Converting %s to safetensors once (about a minute for 1.5B parameters)...", gguf.name)
    start = time.perf_counter()
    try:
        tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=dtype)
    except Exception as error:  # transformers raises many types for unreadable files
        raise ModelLoadError(f"cannot read GGUF '{gguf}': {type(error).__name__}: {error}") from error
    # Without GGUF matmul kernels transformers dequantises fully but keeps the quantizer
    # attached, which forbids saving; the weights are already dense.
    model.hf_quantizer = None
    model.config.__dict__.pop("quantization_config", None)
    model.is_quantized = False
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    marker.write_text(json.dumps(source))
    logger.info("Converted in %.0f s -> %s", time.perf_counter() - start, out)
    return out


def resolve_model(ref: str, dtype: Optional[torch.dtype] = None) -> str:
    """A loadable local folder (or cached hub id) for ``ref``, or a :class:`ModelLoadError`.

    A GGUF is converted to ``dtype`` (None: ``dtype="auto"`` on the default device, what the teacher loads)."""
    if dtype is None:
        dtype = resolve_dtype(AUTO_DTYPE, resolve_device("auto"))
    path = Path(ref).expanduser()
    if ref.endswith(".gguf"):
        if not path.is_file():
            raise ModelLoadError(f"GGUF file '{ref}' does not exist; fetch it with scripts/fetch_model.py")
        return str(_convert_gguf(path, dtype))
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise ModelLoadError(f"model folder '{ref}' has no config.json")
        ggufs = sorted(path.glob("*.gguf"))
        if not _has_weights(path):
            if ggufs:
                return str(_convert_gguf(ggufs[0], dtype))
            raise ModelLoadError(f"model folder '{ref}' has no weights (*.safetensors, *.bin or *.gguf)")
        return str(path)
    if path.suffix or ref.startswith((".", "/", "~")) or ref.count("/") > 1:
        raise ModelLoadError(f"model path '{ref}' does not exist")
    try:
        from huggingface_hub import snapshot_download

        return snapshot_download(ref, local_files_only=True)
    except Exception as error:
        raise ModelLoadError(
            f"model '{ref}' is neither a local path nor in the local Hugging Face cache "
            f"({type(error).__name__}); this setup loads models offline only: pass a folder or a .gguf "
            "(scripts/fetch_model.py fetches the default models)"
        ) from error


@dataclass
class _PrefixState:
    text: str
    cache: object  # transformers Cache after running the prefix
    length: int


@dataclass
class _QueryState:
    """A recent query's static prefix, its tokens after it and the KV cache of prefix + tokens (never mutated)."""

    static_prefix: str
    ids: tuple[int, ...]
    cache: object


# Recent queries whose KV caches later queries may extend (each ~45 MB for a 1.5B model and a 700-token prefix).
QUERY_REUSE_SLOTS = 8
# Shorter shared prefixes are not worth copying a cache for.
MIN_REUSED_TOKENS = 4


def _common_prefix_length(a: Sequence[int], b: Sequence[int]) -> int:
    n = min(len(a), len(b))
    for i in range(n):
        if a[i] != b[i]:
            return i
    return n


def cpu_has_bfloat16_units() -> bool:
    """Whether this CPU multiplies bfloat16 in hardware (AMX or AVX512-BF16), as torch's own dispatch detects it."""
    probes = ("_is_amx_tile_supported", "_is_avx512_bf16_supported")
    return any(bool(getattr(torch.cpu, probe, lambda: False)()) for probe in probes)


def resolve_precision(dtype: str, device: str = "cpu") -> str:
    """The precision the teacher runs ``dtype`` (a key of ``_DTYPES``, ``"auto"`` or ``"int8"``) in on ``device``
    (e.g. ``"cpu"``, ``"cuda:1"``): a key of ``_DTYPES`` or ``"int8"``.

    ``auto``: bfloat16 on a GPU that supports it (else float16); on a CPU, bfloat16 where it has bfloat16 units, else
    int8 (float32 where this torch lacks int8 kernels). Without bfloat16 units every bfloat16 matmul is emulated: on a
    2-core AVX2-only EPYC the 1.5B teacher took 6.2 s a description in bfloat16 and 2.8 s in float32 (README, "The
    teacher on a CPU without bfloat16 units"); with int8 linear layers the default prompt took 0.94 s where float32 took
    3.2 s, and no labelled set lost more than one row of first-skill accuracy (README, "The teacher in int8").

    ``int8`` (CPU only): float32 weights loaded, then every linear layer, the LM head included, made int8
    (teacher/int8.py).
    """
    if dtype == INT8_DTYPE:
        if torch.device(device).type != "cpu":
            raise ModelLoadError(f"dtype '{INT8_DTYPE}' runs on a CPU only (device '{device}'); use 'auto' on a GPU")
        return INT8_DTYPE
    if dtype != AUTO_DTYPE:
        if dtype not in _DTYPES:
            raise ModelLoadError(
                f"unknown dtype '{dtype}'; expected '{AUTO_DTYPE}', '{INT8_DTYPE}' or one of {sorted(_DTYPES)}"
            )
        return dtype
    if torch.device(device).type == "cuda":
        return "bfloat16" if torch.cuda.is_bf16_supported() else "float16"
    if cpu_has_bfloat16_units():
        return "bfloat16"
    return INT8_DTYPE if int8_available() else "float32"


def resolve_dtype(dtype: str, device: str = "cpu") -> torch.dtype:
    """The torch dtype the weights load in for ``dtype`` on ``device`` (:func:`resolve_precision`; int8: float32,
    quantised after loading): the dtype a GGUF is converted to."""
    precision = resolve_precision(dtype, device)
    return torch.float32 if precision == INT8_DTYPE else _DTYPES[precision]


def resolve_device(device: str) -> str:
    """``auto``: the last visible CUDA device (training ranks take the first ones), else ``cpu``."""
    if device != "auto":
        return device
    return f"cuda:{torch.cuda.device_count() - 1}" if torch.cuda.is_available() else "cpu"


def _on_cpu_threads(method):  # type: ignore[no-untyped-def]
    """Run a CPU forward pass on ``self.cpu_threads`` threads (default: every core this process may use), then
    restore the thread count.

    habitat-baselines pins the trainer process to one thread (``force_torch_single_threaded``),
    which would leave an in-process LLM teacher on one core of an otherwise idle machine.
    """

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        before = torch.get_num_threads()
        threads = self.cpu_threads or len(os.sched_getaffinity(0))
        if self.device.type != "cpu" or threads == before:
            return method(self, *args, **kwargs)
        torch.set_num_threads(threads)
        try:
            return method(self, *args, **kwargs)
        finally:
            torch.set_num_threads(before)

    return wrapper


class CausalLM:
    """One causal LM with its tokenizer, on one device, in inference mode."""

    def __init__(self, ref: str, dtype: str = AUTO_DTYPE, device: str = "auto", cpu_threads: int = 0) -> None:
        """``dtype``: a key of ``_DTYPES`` or ``"auto"`` (:func:`resolve_dtype`); ``cpu_threads``: torch threads of
        a forward pass on the CPU; 0 = every core this process may use."""
        from transformers import AutoModelForCausalLM, AutoTokenizer

        if cpu_threads < 0:
            raise ModelLoadError(f"cpu_threads must be >= 0 (0: every core), got {cpu_threads}")
        self.cpu_threads = cpu_threads
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        self.device = torch.device(resolve_device(device))
        self.dtype_name = resolve_precision(dtype, str(self.device))
        torch_dtype = resolve_dtype(self.dtype_name, str(self.device))
        folder = resolve_model(ref, torch_dtype)
        self.name = model_name(ref)
        logger.info("Teacher model %s in %s on %s", self.name, self.dtype_name, self.device)
        self.tokenizer = AutoTokenizer.from_pretrained(folder)
        # On a CPU, grouped-query attention that copies no keys or values (teacher/attention.py).
        attention = register_grouped_sdpa() if self.device.type == "cpu" else None
        # device_map places the weights through accelerate (e.g. "cuda:1" for a dedicated teacher GPU).
        self.model = AutoModelForCausalLM.from_pretrained(
            folder, dtype=torch_dtype, device_map={"": str(self.device)},
            **({"attn_implementation": attention} if attention else {}),
        ).eval()
        if self.dtype_name == INT8_DTYPE:
            start = time.perf_counter()
            try:
                replaced = quantize_linears(self.model)
            except Int8UnavailableError as error:
                raise ModelLoadError(str(error)) from error
            logger.info("%d linear layers made int8 in %.1f s", replaced, time.perf_counter() - start)
        if self.tokenizer.pad_token_id is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self._prefix: Optional[_PrefixState] = None
        self._recent_queries: list[_QueryState] = []  # most recent last; cleared when the cached static prefix changes
        # score_batch: several queries as one right-padded batch (a GPU), or each alone in one pass with cache
        # reuse (a CPU, where a pass costs in proportion to its tokens beyond a few, padding included).
        self.batch_queries = self.device.type != "cpu"
        self.query_tokens_run = 0  # query tokens through the model, and those a reused cache saved
        self.query_tokens_reused = 0

    @property
    def has_chat_template(self) -> bool:
        return bool(self.tokenizer.chat_template)

    def render_chat(self, messages: Sequence[dict], add_generation_prompt: bool = True) -> str:
        """The prompt text for chat ``messages`` (plain "role: content" lines without a template)."""
        if self.has_chat_template:
            try:
                return self.tokenizer.apply_chat_template(
                    list(messages), tokenize=False, add_generation_prompt=add_generation_prompt
                )
            except Exception as error:  # jinja raises TemplateError subclasses and others
                raise PromptTemplateError(
                    f"the chat template of model '{self.name}' failed to render: {type(error).__name__}: {error}"
                ) from error
        lines = [f"{m['role']}: {m['content']}" for m in messages]
        return "\n".join(lines) + ("\nassistant: " if add_generation_prompt else "")

    def _encode(self, text: str) -> torch.Tensor:
        return self.tokenizer(text, add_special_tokens=False, return_tensors="pt").input_ids.to(self.device)

    def _prefix_copy(self, static_prefix: str) -> tuple[Optional[object], int]:
        """A copy of the cached ``static_prefix``'s KV cache (callers extend it) and its length; (None, 0) without one."""
        if not static_prefix:
            return None, 0
        prefix = self._run_prefix(static_prefix)
        return copy.deepcopy(prefix.cache), prefix.length

    @_on_cpu_threads
    def warm_up(self, static_prefix: str) -> int:
        """Run ``static_prefix`` now (it is cached for the calls that name it); its length in tokens."""
        return self._run_prefix(static_prefix).length

    @torch.inference_mode()
    def _run_prefix(self, static_text: str) -> _PrefixState:
        if self._prefix is None or self._prefix.text != static_text:
            ids = self._encode(static_text)
            out = self.model(ids, use_cache=True, logits_to_keep=1)
            self._prefix = _PrefixState(static_text, out.past_key_values, ids.shape[1])
            self._recent_queries = []  # their caches extend the old prefix
        return self._prefix

    def _reusable_cache(self, ids: Sequence[int], static_prefix: str) -> tuple[Optional[object], int, int]:
        """(KV cache to extend, static prefix length, tokens of ``ids`` it already holds).

        A copy of the cache of the recent query sharing the longest token prefix with ``ids`` (cropped to the
        shared part), else of the static prefix. At least one token of ``ids`` is left to run: its logits
        predict the answer.
        """
        prefix_len = self._run_prefix(static_prefix).length if static_prefix else 0
        source, shared = None, 0
        for state in self._recent_queries:
            if state.static_prefix != static_prefix:
                continue
            n = _common_prefix_length(state.ids, ids)
            if n > shared:
                source, shared = state, n
        shared = min(shared, len(ids) - 1)
        if source is None or shared < MIN_REUSED_TOKENS:
            cache, _ = self._prefix_copy(static_prefix)
            return cache, prefix_len, 0
        cache = copy.deepcopy(source.cache)
        if len(source.ids) > shared:
            cache.crop(-(len(source.ids) - shared))  # negative: tokens to remove (every transformers version)
        return cache, prefix_len, shared

    def _score_one(self, ids: Sequence[int], encoded: Sequence[Sequence[int]], static_prefix: str) -> np.ndarray:
        """One query and all its candidates in a single forward pass: [C, 2] (sum, mean) log-likelihoods.

        The tokens run are the query's (after the reused cache) and every candidate's but its last, side by
        side: a 4D attention mask lets each candidate see the cache, the query and its own earlier tokens
        only, and position ids continue each candidate from the query's end, so every logit is the one the
        candidate would get alone after the query. On a CPU a forward pass of a few tokens costs about as
        much as one of twenty (the weights are read from memory either way), so one pass instead of two
        nearly halves a description's cost.
        """
        cache, prefix_len, shared = self._reusable_cache(ids, static_prefix)
        past = prefix_len + shared
        new = list(ids[shared:])
        tails = [list(e[:-1]) for e in encoded]  # the candidates' tokens whose logits are read
        n_new, n_tail = len(new), sum(len(t) for t in tails)
        allowed = torch.zeros((n_new + n_tail, past + n_new + n_tail), dtype=torch.bool)
        allowed[:, :past] = True  # the static prefix and the reused query tokens
        allowed[:n_new, past:past + n_new] = torch.ones(n_new, n_new, dtype=torch.bool).tril()
        allowed[n_new:, past:past + n_new] = True  # every candidate sees the whole query
        positions = list(range(past, past + n_new))
        row = n_new
        for tail in tails:
            n = len(tail)
            allowed[row:row + n, past + row:past + row + n] = torch.ones(n, n, dtype=torch.bool).tril()
            positions += range(prefix_len + len(ids), prefix_len + len(ids) + n)
            row += n
        dtype = self.model.dtype
        # An additive float mask: what eager and SDPA attention both take as a custom 4D mask.
        mask = torch.zeros(allowed.shape, dtype=dtype).masked_fill(~allowed, torch.finfo(dtype).min)[None, None]
        keep = torch.arange(n_new - 1, n_new + n_tail, device=self.device)  # the query's last token, then the tails
        out = self.model(
            torch.tensor([new + [t for tail in tails for t in tail]], dtype=torch.long, device=self.device),
            past_key_values=cache, attention_mask=mask.to(self.device),
            position_ids=torch.tensor([positions], dtype=torch.long, device=self.device),
            use_cache=True, logits_to_keep=keep,
        )
        logprobs = torch.log_softmax(out.logits[0].float(), -1)  # [1 + n_tail, V]
        scores = []
        offset = 1
        for candidate, tail in zip(encoded, tails):
            # Token 0 is predicted by the query's last logits, token j >= 1 by the candidate's token j - 1.
            rows = [0] + list(range(offset, offset + len(tail)))
            token_logprobs = logprobs[rows, torch.tensor(candidate, device=self.device)]
            scores.append((float(token_logprobs.sum()), float(token_logprobs.mean())))
            offset += len(tail)
        self.query_tokens_run += n_new
        self.query_tokens_reused += shared
        query_cache = out.past_key_values
        if n_tail:
            query_cache.crop(-n_tail)  # the candidates' tokens were appended last
        self._remember_query(_QueryState(static_prefix, tuple(ids), query_cache))
        return np.array(scores, dtype=np.float32)

    def _remember_query(self, query: _QueryState) -> None:
        kept = [q for q in self._recent_queries if (q.static_prefix, q.ids) != (query.static_prefix, query.ids)]
        self._recent_queries = kept[-(QUERY_REUSE_SLOTS - 1):] + [query]

    def score(self, prompt: str, continuations: Sequence[str], static_prefix: str = "") -> np.ndarray:
        """Log-likelihood of each continuation after ``prompt``: array [C, 2] of (sum, mean) over tokens.

        ``static_prefix`` (a prefix of ``prompt`` shared by many calls) is computed once and reused.
        """
        return self.score_batch([prompt], [continuations], static_prefix)[0]

    @_on_cpu_threads
    @torch.inference_mode()
    def score_batch(
        self, prompts: Sequence[str], continuations: Sequence[Sequence[str]], static_prefix: str = "",
        max_rows: int = 64,
    ) -> list[np.ndarray]:
        """:meth:`score` for several prompts at once: one [C_i, 2] array per prompt.

        Prompts are processed in groups of at most ``max_rows`` continuation rows (bounding the
        memory of the repeated prefix cache); each group costs two forward passes on top of the
        cached ``static_prefix``.
        """
        if len(prompts) != len(continuations):
            raise ValueError(f"{len(prompts)} prompts but {len(continuations)} continuation lists")
        results: list[np.ndarray] = []
        group: list[int] = []
        rows = 0
        for i, conts in enumerate(continuations):
            if not conts:
                raise ValueError(f"prompt {i} has no continuations to score")
            if group and (rows + len(conts) > max_rows or not self.batch_queries):
                results += self._score_group([prompts[j] for j in group], [continuations[j] for j in group], static_prefix)
                group, rows = [], 0
            group.append(i)
            rows += len(conts)
        if group:
            results += self._score_group([prompts[j] for j in group], [continuations[j] for j in group], static_prefix)
        return results

    def _score_group(
        self, prompts: Sequence[str], continuations: Sequence[Sequence[str]], static_prefix: str
    ) -> list[np.ndarray]:
        """A query alone: one pass (:meth:`_score_one`). Several: two passes, the queries right-padded as one
        batch, then every candidate of every query.

        Right padding keeps each query's positions contiguous after the prefix, and causal
        attention never lets a real token see the pads after it. Candidates are placed after the
        longest query with the pads masked out and their positions continuing their own query's.
        """
        pad = self.tokenizer.pad_token_id
        queries = []
        for prompt in prompts:
            if not prompt.startswith(static_prefix):
                raise ValueError("static_prefix must be a prefix of prompt")
            ids = self.tokenizer(prompt[len(static_prefix):], add_special_tokens=False).input_ids
            if not ids:
                raise ValueError("prompt adds no tokens to static_prefix")
            queries.append(ids)
        encoded = [[self.tokenizer(c, add_special_tokens=False).input_ids for c in conts] for conts in continuations]
        if any(len(e) == 0 for conts in encoded for e in conts):
            raise ValueError("empty continuation")

        batch = len(queries)
        if batch == 1:
            return [self._score_one(queries[0], encoded[0], static_prefix)]
        query_ids, query_mask = self._right_padded(queries, pad)  # [B, Lq]
        query_lens = query_mask.sum(1)  # [B]
        cache, past_len = self._prefix_copy(static_prefix)
        if cache is not None:
            cache.batch_repeat_interleave(batch)
        ones = lambda n: torch.ones((n, past_len), dtype=torch.long, device=self.device)  # noqa: E731
        last_positions = query_lens - 1  # [B]
        keep = torch.unique(last_positions)  # sorted; the LM head runs on these positions only
        out = self.model(
            query_ids, past_key_values=cache, attention_mask=torch.cat([ones(batch), query_mask], 1), use_cache=True,
            logits_to_keep=keep,
        )
        last_logits = out.logits[torch.arange(batch, device=self.device), torch.searchsorted(keep, last_positions)].float()
        cache = out.past_key_values

        row_query = torch.tensor([i for i, conts in enumerate(encoded) for _ in conts], device=self.device)  # [R]
        cont_ids, cont_mask = self._right_padded([e for conts in encoded for e in conts], pad)  # [R, Lc]
        rows = len(row_query)
        # Token j is predicted by the logits before it: the query's last for j = 0, the candidate's token j - 1 after.
        # So the candidates' last column is never run (its logits predict nothing we read).
        predicting = last_logits[row_query, None]  # [R, 1, V]
        if cont_ids.shape[1] > 1:
            cache.reorder_cache(row_query)
            attention = torch.cat([ones(rows), query_mask[row_query], cont_mask[:, :-1]], 1)
            positions = past_len + query_lens[row_query, None] + torch.arange(cont_ids.shape[1] - 1, device=self.device)[None]
            cont_logits = self.model(
                cont_ids[:, :-1], past_key_values=cache, attention_mask=attention, position_ids=positions
            ).logits.float()
            predicting = torch.cat([predicting, cont_logits], 1)  # [R, Lc, V]
        token_logprobs = torch.log_softmax(predicting, -1).gather(-1, cont_ids.unsqueeze(-1)).squeeze(-1)
        token_logprobs = token_logprobs * cont_mask
        sums = token_logprobs.sum(1)
        means = sums / cont_mask.sum(1)
        both = torch.stack([sums, means], 1).cpu().numpy()  # [R, 2]
        bounds = np.cumsum([0] + [len(conts) for conts in encoded])
        return [both[bounds[i]:bounds[i + 1]] for i in range(batch)]

    def _right_padded(self, sequences: Sequence[Sequence[int]], pad: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Token ids [N, L] right-padded with ``pad`` and their attention mask [N, L]."""
        longest = max(len(s) for s in sequences)
        ids = torch.full((len(sequences), longest), pad, dtype=torch.long, device=self.device)
        mask = torch.zeros((len(sequences), longest), dtype=torch.long, device=self.device)
        for i, seq in enumerate(sequences):
            ids[i, : len(seq)] = torch.tensor(seq)
            mask[i, : len(seq)] = 1
        return ids, mask

    @torch.inference_mode()
    def _prefill(self, prompt: str, static_prefix: str) -> tuple[object, int, torch.Tensor]:
        """Run ``prompt`` (reusing the cached ``static_prefix``): (cache, length, last logits [1, V])."""
        if not prompt.startswith(static_prefix):
            raise ValueError("static_prefix must be a prefix of prompt")
        cache, past_len = self._prefix_copy(static_prefix)
        query_ids = self._encode(prompt[len(static_prefix):])
        out = self.model(query_ids, past_key_values=cache, use_cache=True, logits_to_keep=1)
        return out.past_key_values, past_len + query_ids.shape[1], out.logits[:, -1].float()

    @_on_cpu_threads
    @torch.inference_mode()
    def sample(
        self, prompt: str, n: int, temperature: float, max_new_tokens: int = 48, static_prefix: str = ""
    ) -> list[str]:
        """``n`` sampled completions of ``prompt``: one prefill, then ``n`` sequences decoded as a batch."""
        cache, past_len, logits = self._prefill(prompt, static_prefix)
        cache.batch_repeat_interleave(n)
        logits = logits.expand(n, -1)
        stop_ids = torch.tensor(sorted(self._stop_token_ids()), device=self.device)
        tokens = torch.empty((n, 0), dtype=torch.long, device=self.device)
        finished = torch.zeros(n, dtype=torch.bool, device=self.device)
        for _ in range(max_new_tokens):
            if temperature > 0:
                next_ids = torch.multinomial(torch.softmax(logits / temperature, -1), 1).squeeze(1)
            else:
                next_ids = logits.argmax(-1)
            next_ids = torch.where(finished, torch.full_like(next_ids, self.tokenizer.pad_token_id), next_ids)
            tokens = torch.cat([tokens, next_ids[:, None]], 1)
            finished |= torch.isin(next_ids, stop_ids)
            if bool(finished.all()):
                break
            past_len += 1
            attention = torch.ones((n, past_len), dtype=torch.long, device=self.device)
            out = self.model(next_ids[:, None], past_key_values=cache, attention_mask=attention, use_cache=True)
            cache, logits = out.past_key_values, out.logits[:, -1].float()
        return self.tokenizer.batch_decode(tokens, skip_special_tokens=True)

    def _stop_token_ids(self) -> set[int]:
        stops = {self.tokenizer.eos_token_id, self.tokenizer.pad_token_id}
        generation_eos = getattr(self.model.generation_config, "eos_token_id", None)
        stops.update(generation_eos if isinstance(generation_eos, list) else [generation_eos])
        return {t for t in stops if t is not None}
