#!/usr/bin/env bash
# habitat-sim 0.3.4 into the project's .venv without conda (habitat-sim has no Linux wheel on PyPI):
#   scripts/install_habitat_sim.sh --wheel PATH.whl          # a wheel built before (ours, or your own)
#   scripts/install_habitat_sim.sh --build [--src DIR] [--jobs N] [--out DIR] [--dry-run]
# --build compiles habitat-sim v0.3.4 from a source checkout (cloned with `git clone --recursive --branch v0.3.4`
# unless --src names one) into a wheel, headless with Bullet: 15-30 minutes on 2 cores. Either way the runtime
# Debian packages are installed (as root; otherwise the apt-get line is printed) and the install is checked:
# habitat-lab 0.3.4 (PyPI 0.3.320260507) needs habitat-sim 0.3.4's Simulator.sensors.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

RUNTIME_DEBS=(libassimp5 libzstd1 libegl1 libopengl0 libgl1 libegl-mesa0 libgl1-mesa-dri)
BUILD_DEBS=(git build-essential cmake ninja-build libassimp-dev libeigen3-dev libzstd-dev libegl-dev libopengl-dev
            libgl-dev libglvnd-dev libx11-dev)
mode="" wheel="" src="" jobs=${CMAKE_BUILD_PARALLEL_LEVEL:-2} out=dist dry_run=0
usage() { sed -n '2,8p' "$0" >&2; exit 2; }
while [[ $# -gt 0 ]]; do
    case "$1" in
        --wheel) mode=wheel; wheel=${2:?--wheel needs a path}; shift 2 ;;
        --build) mode=build; shift ;;
        --src) src=${2:?--src needs a folder}; shift 2 ;;
        --jobs) jobs=${2:?}; shift 2 ;;
        --out) out=${2:?}; shift 2 ;;
        --dry-run) dry_run=1; shift ;;
        -h|--help) usage ;;
        *) echo "error: unknown argument '$1'" >&2; usage ;;
    esac
done
[[ -n $mode ]] || usage

run() { echo "+ $*"; [[ $dry_run == 1 ]] || "$@"; }

apt_install() {
    local missing=()
    for pkg in "$@"; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
    [[ ${#missing[@]} -eq 0 ]] && return 0
    if [[ $(id -u) -ne 0 ]]; then
        echo "error: Debian packages missing: ${missing[*]}; install them with" >&2
        echo "  sudo apt-get install -y --no-install-recommends ${missing[*]}" >&2
        exit 2
    fi
    run apt-get update -qq
    run env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

[[ $dry_run == 1 ]] || scripts/bootstrap.sh  # .venv with habitat-lab/baselines first: pip then resolves beside them
py=.venv/bin/python
start=$SECONDS

if [[ $mode == build ]]; then
    apt_install "${BUILD_DEBS[@]}"
    if [[ -z $src ]]; then
        src=$(mktemp -d)/habitat-sim
        run git clone --recursive --branch v0.3.4 --depth 1 --shallow-submodules https://github.com/facebookresearch/habitat-sim "$src"
    fi
    [[ $dry_run == 1 || -f $src/pyproject.toml ]] || { echo "error: $src is not a habitat-sim source checkout" >&2; exit 2; }
    # The two packaging changes, nothing in the code: the v0.3.4 tag still says 0.3.3, and its numpy pin (>=2) would
    # fight habitat-lab's numpy==1.26.4 (upstream's numpy-2 change only moved version pins).
    run sed -i -E 's/__version__ = "0\.3\.3"/__version__ = "0.3.4"/' "$src/src_python/habitat_sim/__init__.py"
    run sed -i -E 's/"numpy[^"]*"/"numpy>=1.26.4,<2.4"/' "$src/pyproject.toml"
    run "$py" -m pip install -q scikit-build-core cmake ninja pybind11 "numpy==1.26.4" setuptools wheel
    mkdir -p "$out"
    run env HABITAT_BUILD_GUI_VIEWERS=OFF HABITAT_USE_SYSTEM_ASSIMP=ON CMAKE_BUILD_PARALLEL_LEVEL="$jobs" \
        CMAKE_ARGS="-DUSE_SYSTEM_ZSTD=ON -DMAGNUM_WITH_OPENEXRIMPORTER=OFF -DMAGNUM_WITH_OPENEXRIMAGECONVERTER=OFF" \
        "$py" -m pip wheel "$src" --no-build-isolation --no-deps --config-settings=cmake.build-type=Release -w "$out"
    [[ $dry_run == 1 ]] && exit 0
    wheel=$(ls -t "$out"/habitat_sim-*.whl | head -n 1)
    echo "Built $wheel in $(( (SECONDS - start) / 60 )) min"
fi

[[ -f $wheel ]] || { echo "error: no wheel at '$wheel'" >&2; exit 2; }
apt_install "${RUNTIME_DEBS[@]}"
run "$py" -m pip install -q --progress-bar off "$wheel"
"$py" - <<'EOF'
import sys
import habitat_sim
from habitat_llm4teach.sim_optional import PLACEHOLDER_FLAG
if getattr(habitat_sim, PLACEHOLDER_FLAG, False):
    sys.exit("error: habitat_sim still resolves to the placeholders: the wheel did not install into .venv")
if not hasattr(habitat_sim.Simulator, "sensors"):
    sys.exit(f"error: habitat-sim {habitat_sim.__version__} lacks Simulator.sensors: habitat-lab 0.3.4 needs 0.3.4")
print(f"habitat-sim {habitat_sim.__version__} ready in .venv (headless: renders on a GPU, or on the CPU through Mesa)")
EOF
echo "Done in $(( SECONDS - start )) s"
