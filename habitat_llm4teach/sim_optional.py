"""Simulator-optional import of habitat-lab / habitat-baselines.

habitat-lab 0.3.3 imports ``habitat_sim``, ``magnum`` and ``corrade`` at module
load, so without habitat-sim nothing of habitat-baselines imports. This module
owns the fallback: when, and only when, those modules cannot be found on the
normal import path, a finder appended to ``sys.meta_path`` supplies *inert*
placeholder modules so that habitat-lab/baselines import and the trainer runs
non-Habitat environments (MiniGrid).

Placeholders never imitate simulator behaviour: constructing any Habitat
simulator or task raises :class:`HabitatSimNotInstalledError` with the install
command. The finder is activated by a ``.pth`` file at interpreter start (so it
is active in VectorEnv workers and every torchrun rank) and again on import of
:mod:`habitat_llm4teach`.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import logging
import os
import sys
import types
from typing import Any, Mapping, Optional, Sequence

PLACEHOLDER_ROOTS = ("habitat_sim", "magnum", "corrade")
# Modules that must stay missing so habitat's own fallback path runs
# (habitat/utils/profiling_wrapper.py turns into no-ops on ImportError).
KEEP_MISSING = frozenset({"habitat_sim.utils.profiling_utils"})
PLACEHOLDER_FLAG = "__habitat_llm4teach_placeholder__"
NO_TRITON_ENV = "LLM4TEACH_NO_TRITON"

INSTALL_HINT = (
    "habitat-sim is not installed, so Habitat simulators and tasks are unavailable. "
    "Install habitat-sim 0.3.4 into .venv with `scripts/install_habitat_sim.sh --wheel WHEEL` "
    "(or `--build` to build one from source), or create the conda environment with "
    "`conda env create -f environment.yml`. MiniGrid tasks run without it."
)

logger = logging.getLogger(__name__)


class HabitatSimNotInstalledError(ImportError):
    """Raised when Habitat simulator or task code runs on placeholder modules."""

    def __init__(self, what: str = "") -> None:
        prefix = f"Cannot construct {what}: " if what else ""
        super().__init__(prefix + INSTALL_HINT)


class _PlaceholderMeta(type):
    """Attribute access on a placeholder class yields another cached placeholder."""

    def __getattr__(cls, name: str) -> Any:
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        return _placeholder_class(f"{cls.__qualname__}.{name}", cls.__module__)

    def __repr__(cls) -> str:
        return f"<habitat-sim placeholder {cls.__module__}.{cls.__qualname__}>"


class _PlaceholderBase(metaclass=_PlaceholderMeta):
    """Inert stand-in: import-time uses (annotations, defaults, subclassing) work."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        return _placeholder_class(f"{type(self).__qualname__}.{name}", type(self).__module__)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return type(self)()


_CLASS_CACHE: dict[tuple[str, str], type] = {}


def _placeholder_class(qualname: str, module: str) -> type:
    key = (module, qualname)
    if key not in _CLASS_CACHE:
        cls = _PlaceholderMeta(qualname.rsplit(".", 1)[-1], (_PlaceholderBase,), {"__module__": module})
        cls.__qualname__ = qualname
        _CLASS_CACHE[key] = cls
    return _CLASS_CACHE[key]


class _PlaceholderModule(types.ModuleType):
    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        if f"{self.__name__}.{name}" in KEEP_MISSING:
            raise AttributeError(name)
        return _placeholder_class(name, self.__name__)


class _PlaceholderLoader(importlib.abc.Loader):
    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
        return _PlaceholderModule(spec.name)

    def exec_module(self, module: types.ModuleType) -> None:
        setattr(module, PLACEHOLDER_FLAG, True)
        module.__path__ = []  # a package, so submodule imports resolve through the finder
        _guard_habitat_registry()


class SimulatorPlaceholderFinder(importlib.abc.MetaPathFinder):
    """Last-resort finder: only consulted when no real module was found."""

    def find_spec(
        self, fullname: str, path: Optional[Sequence[str]], target: Optional[types.ModuleType] = None
    ) -> Optional[importlib.machinery.ModuleSpec]:
        root = fullname.split(".", 1)[0]
        if root not in PLACEHOLDER_ROOTS or fullname in KEEP_MISSING:
            return None
        if "." in fullname and not getattr(sys.modules.get(root), PLACEHOLDER_FLAG, False):
            return None  # a submodule the real package lacks stays missing: placeholders stand in for absent packages only
        return importlib.machinery.ModuleSpec(fullname, _PlaceholderLoader(), is_package=True)


def install() -> None:
    """Append the placeholder finder to ``sys.meta_path`` once (idempotent); keep triton out where it would crash Mesa."""
    if not any(isinstance(f, SimulatorPlaceholderFinder) for f in sys.meta_path):
        sys.meta_path.append(SimulatorPlaceholderFinder())
    if triton_must_stay_out():
        # None in sys.modules makes `import triton` raise ImportError; torch then runs without it (no GPU to use it for).
        sys.modules.setdefault("triton", None)


def triton_must_stay_out(environ: "Mapping[str, str]" = os.environ) -> bool:
    """Whether this interpreter may render with Mesa's llvmpipe, which cannot share a process with triton.

    PyPI torch brings triton, which bundles its own LLVM; Mesa's software renderer loads
    libLLVM too, and a process holding both dies ("LLVM ERROR: Option 'default' already
    exists!" or a segfault). Triton only serves NVIDIA GPUs, so it stays out when a real
    habitat-sim is installed and no NVIDIA device exists. ``LLM4TEACH_NO_TRITON=1`` forces it
    out (set by the rearrange env factory when it renders on the CPU beside a GPU), ``=0`` keeps it.
    Runs at every interpreter start (the .pth file), so it only looks at files, never imports.
    """
    forced = environ.get(NO_TRITON_ENV)
    if forced in ("0", "1"):
        return forced == "1"
    if os.path.exists("/dev/nvidiactl"):
        return False
    return importlib.machinery.PathFinder.find_spec("habitat_sim") is not None


def placeholders_active() -> bool:
    """True when ``habitat_sim`` resolves to a placeholder (importing it if needed)."""
    import habitat_sim

    return bool(getattr(habitat_sim, PLACEHOLDER_FLAG, False))


def describe_mode() -> str:
    """One line saying whether the real simulator or the placeholders are in use."""
    if placeholders_active():
        return "habitat-sim not found: inert placeholder modules active (MiniGrid only; Habitat tasks raise)"
    import habitat_sim

    triton = "; triton kept out of this process tree (Mesa CPU rendering)" if sys.modules.get("triton", 0) is None else ""
    return f"habitat-sim {getattr(habitat_sim, '__version__', '?')} found: real simulator mode{triton}"


def _raise_missing(kind: str, name: str) -> type:
    class _Missing:
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            raise HabitatSimNotInstalledError(f"Habitat {kind} '{name}'")

    _Missing.__name__ = f"Missing{kind.capitalize()}"
    return _Missing


def _guard_habitat_registry() -> None:
    """Make every Habitat simulator and task lookup raise a clear error."""
    registry_module = sys.modules.get("habitat.core.registry")
    if registry_module is None:
        # habitat not imported yet (or not at all): patch once it finishes loading.
        _PostImportHook.arm()
        return
    registry_cls = registry_module.Registry
    if getattr(registry_cls, PLACEHOLDER_FLAG, False):
        return
    registry_cls.get_simulator = classmethod(lambda cls, name: _raise_missing("simulator", name))
    registry_cls.get_task = classmethod(lambda cls, name: _raise_missing("task", name))
    setattr(registry_cls, PLACEHOLDER_FLAG, True)


class _PostImportHook(importlib.abc.MetaPathFinder):
    """Runs the registry guard right after ``habitat.core.registry`` executes."""

    _armed = False

    @classmethod
    def arm(cls) -> None:
        if not cls._armed:
            cls._armed = True
            sys.meta_path.insert(0, cls())

    def find_spec(self, fullname, path, target=None):  # type: ignore[no-untyped-def]
        if fullname != "habitat.core.registry":
            return None
        sys.meta_path.remove(self)
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or spec.loader is None:
            return spec
        inner_exec = spec.loader.exec_module

        def exec_then_guard(module: types.ModuleType) -> None:
            inner_exec(module)
            _guard_habitat_registry()

        spec.loader.exec_module = exec_then_guard  # type: ignore[method-assign]
        return spec
