"""scripts/fetch_model.py's conversion step: a model that transformers cannot read stops the fetch with the
loader's error (exit status 1, no path printed), and a converted model is not converted again; it converts to the
dtype the teacher's ``dtype=auto`` loads on this machine."""

from __future__ import annotations

import json
import sys

import pytest
import torch
from helpers import REPO, set_cpu_bfloat16_units

sys.path.insert(0, str(REPO / "scripts"))
import fetch_model  # noqa: E402


def test_an_unreadable_gguf_fails_the_conversion_with_the_loaders_error(tmp_path, capsys) -> None:
    bad = tmp_path / "custom.gguf"
    bad.write_bytes(b"not a gguf at all")
    assert fetch_model.convert(bad) is False
    assert "cannot read GGUF" in capsys.readouterr().err


@pytest.mark.parametrize("bfloat16_units, folder", [(False, "model-float32"), (True, "model-bfloat16")])
def test_a_model_converted_before_is_not_read_again(tmp_path, capsys, monkeypatch, bfloat16_units, folder) -> None:
    # A CPU without bfloat16 units (AMX, AVX512-BF16) gets float32 weights, one with them bfloat16.
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    set_cpu_bfloat16_units(monkeypatch, amx=bfloat16_units, avx512_bf16=False)
    # The conversion marker names this exact file: a byte that is no GGUF proves the file is not opened again.
    gguf = tmp_path / "model.gguf"
    gguf.write_bytes(b"not a gguf at all")
    out = tmp_path / ".converted" / folder
    out.mkdir(parents=True)
    (out / "model.safetensors").write_bytes(b"")
    stat = gguf.stat()
    (out / "source.json").write_text(json.dumps({"gguf": gguf.name, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}))
    assert fetch_model.convert(gguf) is True
    assert str(out) in capsys.readouterr().err
