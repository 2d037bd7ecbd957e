#!/usr/bin/env bash
# Install habitat-sim 0.3.4 (headless, with Bullet) into the project's .venv without conda.
# habitat-sim publishes no Linux wheels on PyPI, so this takes a wheel you have or builds one from v0.3.4's source.
#
#   scripts/install_habitat_sim.sh --wheel PATH.whl        # install a prebuilt wheel (e.g. one built below)
#   scripts/install_habitat_sim.sh --build [--src DIR] [--jobs N] [--out DIR]
#                                                          # clone v0.3.4 (or use --src), build a wheel, install it
# Options:
#   --src DIR      habitat-sim v0.3.4 source tree with submodules (default: clone into ~/.cache/llm4teach/habitat-sim-v0.3.4)
#   --jobs N       parallel compile jobs (default: nproc; fewer if memory runs out)
#   --out DIR      folder for the built wheel and build log (default: dist/)
#   --python PATH  interpreter to install into (default: .venv/bin/python, created by scripts/bootstrap.sh)
#   --no-apt       skip the Debian package step (e.g. non-Debian systems; the final import check still runs)
#   --patch-only   with --build: apply the two packaging changes to the source tree and stop (to build it yourself)
#   --dry-run      print every step, change nothing (the source patch is only checked)
#
# Both modes install the runtime Debian packages (as root with apt-get; otherwise the command is printed and
# the script stops) and then check the install: habitat-lab 0.3.4 (PyPI 0.3.320260507) needs habitat-sim 0.3.4's
# API (habitat_sim.Simulator.sensors). --build takes about 15 minutes on 2 cores from a cold cache; a rerun with the
# same --src reuses its build folder.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

HSIM_REPO=https://github.com/facebookresearch/habitat-sim
HSIM_TAG=v0.3.4
HSIM_VERSION=0.3.4
# Shared libraries the wheel links against / Mesa's software EGL for rendering on the CPU.
RUNTIME_DEBS=(libassimp5 libzstd1 libegl1 libopengl0 libgl1 libegl-mesa0 libgl1-mesa-dri)
# assimp and zstd from Debian (HABITAT_USE_SYSTEM_ASSIMP, USE_SYSTEM_ZSTD); Bullet, Magnum and the rest bundled.
BUILD_DEBS=(git ca-certificates build-essential cmake ninja-build pkg-config libassimp-dev libzstd-dev libeigen3-dev
            libegl-dev libopengl-dev libgl-dev libglvnd-dev)
# The recipe of the tested build: headless (EGL, no GUI viewers), Bullet, no CUDA, no audio, Release,
# OpenEXR plugins left out (they would need the bundled OpenEXR).
BUILD_ENV=(HABITAT_BUILD_GUI_VIEWERS=OFF HABITAT_WITH_BULLET=ON HABITAT_WITH_CUDA=OFF HABITAT_WITH_AUDIO=OFF
           HABITAT_USE_SYSTEM_ASSIMP=ON)
BUILD_CMAKE_ARGS="-DUSE_SYSTEM_ZSTD=ON -DUSE_SYSTEM_OPENEXR=ON -DMAGNUM_WITH_OPENEXRIMPORTER=OFF -DMAGNUM_WITH_OPENEXRIMAGECONVERTER=OFF"

usage() { sed -n '2,20p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2; exit 2; }
die() { echo "error: $*" >&2; exit 1; }

mode="" wheel="" src="" jobs="" out=dist py="" apt=1 dry_run=0 patch_only=0
while [[ $# -gt 0 ]]; do
    case "$1" in
        --wheel) mode=wheel; wheel=${2:?--wheel needs a path to a .whl}; shift 2 ;;
        --build) mode=build; shift ;;
        --src) src=${2:?--src needs a folder}; shift 2 ;;
        --jobs) jobs=${2:?--jobs needs a number}; shift 2 ;;
        --out) out=${2:?--out needs a folder}; shift 2 ;;
        --python) py=${2:?--python needs an interpreter}; shift 2 ;;
        --no-apt) apt=0; shift ;;
        --patch-only) patch_only=1; shift ;;
        --dry-run) dry_run=1; shift ;;
        -h|--help) usage ;;
        *) echo "error: unknown argument '$1'" >&2; usage ;;
    esac
done
[[ -n $mode ]] || usage
[[ $mode == build || ( -z $src && $patch_only == 0 ) ]] || die "--src and --patch-only only go with --build"
[[ $patch_only == 0 || -n $src ]] || die "--patch-only needs --src DIR"
jobs=${jobs:-${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc 2>/dev/null || echo 2)}}
[[ $jobs =~ ^[1-9][0-9]*$ ]] || die "--jobs wants a positive number, not '$jobs'"

start=$SECONDS
step_no=0
step() { step_no=$((step_no + 1)); printf '\n[%d] %s  (%ds elapsed)\n' "$step_no" "$*" "$((SECONDS - start))"; }
# shell_words ARG...: the arguments as a command line to copy (single quotes where needed).
shell_words() {
    local arg sep=""
    for arg in "$@"; do
        if [[ $arg =~ ^[A-Za-z0-9_./:=,+@%-]+$ ]]; then printf '%s%s' "$sep" "$arg"
        else printf "%s'%s'" "$sep" "${arg//\'/\'\\\'\'}"; fi
        sep=" "
    done
}
# run CMD...: print it, run it unless --dry-run.
run() { echo "+ $(shell_words "$@")"; [[ $dry_run == 1 ]] || "$@"; }

# ---- the interpreter to install into --------------------------------------------------------------------------
default_py=0
if [[ -z $py ]]; then
    py=.venv/bin/python
    default_py=1
fi
if [[ $default_py == 1 && $patch_only == 0 ]]; then
    step "Project environment .venv (scripts/bootstrap.sh: habitat-lab/baselines first, so pip resolves habitat-sim beside them)"
    run scripts/bootstrap.sh
fi
if [[ $patch_only == 0 ]] && [[ $dry_run == 0 || -x $py ]]; then
    [[ -x $py ]] || die "no Python at '$py' (run scripts/bootstrap.sh, or pass --python PATH)"
    "$py" -c 'import sys; sys.exit(sys.version_info < (3, 10))' \
        || die "$py is Python $("$py" -c 'import sys; print(sys.version.split()[0])'); habitat-lab 0.3.4 and habitat-sim v0.3.4's build need >= 3.10"
    py_tag=$("$py" -c 'import sys; print("cp%d%d" % sys.version_info[:2])')
else
    py_tag="cp3XX"   # dry run before .venv exists
fi

apt_install() {  # apt_install WHAT PKG...: install missing Debian packages as root, else print the command and stop
    local what=$1; shift
    if [[ $apt == 0 ]]; then
        echo "Skipping Debian packages (--no-apt). $what needs: $*"
        return 0
    fi
    if ! command -v dpkg-query >/dev/null; then
        echo "Not a Debian/Ubuntu system: install your distribution's equivalents of: $*  (then rerun with --no-apt)"
        [[ $dry_run == 1 ]] && return 0
        exit 2
    fi
    local missing=() pkg
    for pkg in "$@"; do
        [[ $(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null) == "install ok installed" ]] || missing+=("$pkg")
    done
    if [[ ${#missing[@]} -eq 0 ]]; then
        echo "All present: $*"
        return 0
    fi
    if [[ $(id -u) -ne 0 ]]; then
        echo "error: $what needs Debian packages that are missing: ${missing[*]}. Install them, then rerun:" >&2
        echo "  sudo apt-get update && sudo apt-get install -y --no-install-recommends ${missing[*]}" >&2
        [[ $dry_run == 1 ]] && return 0
        exit 2
    fi
    run apt-get update -qq
    run env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

# ---- --build: source, the two packaging changes, the wheel ---------------------------------------------------
# FILE|LINE IN v0.3.4|LINE AFTER (whole lines)
PATCH_EDITS=(
    'pyproject.toml|version = "0.3.3"|version = "0.3.4"'
    'pyproject.toml|    "numpy>=2.0.0,<2.4",|    "numpy>=1.26.4,<2.4",'
    'src_python/habitat_sim/__init__.py|__version__ = "0.3.3"|__version__ = "0.3.4"'
)
patch_source() {  # patch_source DIR: the only changes to upstream, to its packaging; code untouched
    local dir=$1
    # 1. Version: the v0.3.4 tag still says 0.3.3 in pyproject.toml (the wheel's version, and what the conda nightlies
    #    are named after) and in src_python/habitat_sim/__init__.py (habitat_sim.__version__).
    # 2. numpy: v0.3.4 requires numpy>=2.0.0,<2.4 (habitat-sim PR #2624), habitat-lab 0.3.4 pins numpy==1.26.4, so pip
    #    cannot install both. #2624 changed version pins only, not code, and the bindings look numpy up at run time
    #    (pybind11), so the pin is relaxed to numpy>=1.26.4,<2.4: one pip run then installs both. Upstream's
    #    requirements.txt is not used to build the wheel and stays as is.
    local edit file from to
    if [[ $dry_run == 1 && ! -d $dir ]]; then  # dry run before the clone: the commands, unchecked
        for edit in "${PATCH_EDITS[@]}"; do
            IFS='|' read -r file from to <<<"$edit"
            run sed -i "s/^${from//./\\.}\$/$to/" "$dir/$file"
        done
        return 0
    fi
    for edit in "${PATCH_EDITS[@]}"; do  # check all three first: patch nothing unless every line is where v0.3.4 has it
        IFS='|' read -r file from to <<<"$edit"
        [[ -f $dir/$file ]] || die "$dir/$file is missing: --src must be a habitat-sim $HSIM_TAG source tree"
        grep -Fxq "$from" "$dir/$file" || grep -Fxq "$to" "$dir/$file" \
            || die "$dir/$file has no line '$from' (nor '$to'): not habitat-sim $HSIM_TAG's packaging (check out tag $HSIM_TAG)"
    done
    for edit in "${PATCH_EDITS[@]}"; do
        IFS='|' read -r file from to <<<"$edit"
        if grep -Fxq "$to" "$dir/$file"; then
            echo "  $file: already '$to'"
        else  # whole-line match; the lines hold no sed metacharacters but '.'
            run sed -i "s/^${from//./\\.}\$/$to/" "$dir/$file"
            [[ $dry_run == 1 ]] || grep -Fxq "$to" "$dir/$file" || die "patching $dir/$file failed"
        fi
    done
}

if [[ $mode == build && $patch_only == 1 ]]; then
    step "Packaging changes to $src: version $HSIM_VERSION, numpy pin relaxed to >=1.26.4,<2.4"
    patch_source "$src"
    [[ $dry_run == 1 ]] && echo "(dry run: nothing was changed)"
    exit 0
fi

if [[ $mode == build ]]; then
    mkdir_out() { [[ $dry_run == 1 ]] || mkdir -p "$out"; }
    step "Build tools (Debian packages)"
    # CMake needs the interpreter's headers (Python.h); Debian's own Python has them in python3.X-dev.
    if [[ $dry_run == 0 || -x $py ]] && ! "$py" -c 'import os, sys, sysconfig; sys.exit(not os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")))'; then
        base=$("$py" -c 'import sys; print(sys.base_prefix)')
        if [[ $base == /usr ]]; then
            BUILD_DEBS+=("python3.${py_tag#cp3}-dev")
        else
            die "Python.h is missing for $py (prefix $base): install that Python's development headers"
        fi
    fi
    apt_install "Building habitat-sim" "${BUILD_DEBS[@]}"

    step "Source: habitat-sim $HSIM_TAG with submodules"
    if [[ -z $src ]]; then
        src=${XDG_CACHE_HOME:-$HOME/.cache}/llm4teach/habitat-sim-$HSIM_TAG
        if [[ -f $src/pyproject.toml ]]; then
            echo "Reusing the clone at $src"
        else
            # Not shallow: the submodules are pinned to commits that need not be their branches' tips.
            run git clone --recursive --branch "$HSIM_TAG" "$HSIM_REPO" "$src" \
                || die "cloning $HSIM_REPO failed (needs GitHub access; remove $src and rerun, or pass --src DIR)"
        fi
    fi
    if [[ $dry_run == 0 || -d $src ]]; then
        { [[ -f $src/pyproject.toml ]] && grep -q '^name = "habitat-sim"' "$src/pyproject.toml"; } \
            || die "$src is not a habitat-sim source tree (no pyproject.toml naming habitat-sim)"
        if git -C "$src" rev-parse --git-dir >/dev/null 2>&1; then
            head_tag=$(git -C "$src" describe --tags --exact-match 2>/dev/null || true)
            [[ $head_tag == "$HSIM_TAG" ]] || echo "note: $src is at '$(git -C "$src" describe --tags --always 2>/dev/null)', not $HSIM_TAG"
        fi
        if [[ ! -f $src/src/deps/magnum/CMakeLists.txt || ! -f $src/src/deps/bullet3/CMakeLists.txt ]]; then
            msg="$src has no submodules (src/deps/magnum, src/deps/bullet3 are empty): run 'git -C $src submodule update --init --recursive'"
            if [[ $dry_run == 1 ]]; then echo "warning: $msg"; else die "$msg"; fi
        fi
    fi

    step "Packaging changes: version $HSIM_VERSION, numpy pin relaxed to >=1.26.4,<2.4"
    patch_source "$src"

    step "Build environment: scikit-build-core and pybind11 in a venv of the same Python (keeps .venv clean)"
    bvenv=$src/.llm4teach-build-venv
    [[ -x $bvenv/bin/python ]] || run "$py" -m venv "$bvenv"
    run "$bvenv/bin/python" -m pip install -q --progress-bar off --upgrade pip "scikit-build-core>=0.10" "pybind11>=2.10"

    step "Compiling the wheel with $jobs jobs into $out/ (about 15 min on 2 cores from a cold cache; log: $out/habitat-sim-build.log)"
    mkdir_out
    out_abs=$out
    [[ $dry_run == 1 ]] || out_abs=$(cd "$out" && pwd)
    build_cmd=(env "${BUILD_ENV[@]}" CMAKE_BUILD_PARALLEL_LEVEL="$jobs" CMAKE_ARGS="$BUILD_CMAKE_ARGS"
               "$bvenv/bin/python" -m pip wheel . --no-build-isolation --no-deps
               --config-settings=cmake.build-type=Release -w "$out_abs")
    echo "+ cd $(shell_words "$src") && $(shell_words "${build_cmd[@]}") 2>&1 | tee $(shell_words "$out_abs/habitat-sim-build.log")"
    if [[ $dry_run == 0 ]]; then
        t0=$SECONDS
        (cd "$src" && "${build_cmd[@]}") 2>&1 | tee "$out_abs/habitat-sim-build.log" \
            || die "the habitat-sim build failed after $(( (SECONDS - t0) / 60 )) min; the end of $out_abs/habitat-sim-build.log says why (a missing -dev package, or memory: retry with --jobs 1)"
        echo "Compiled in $(( (SECONDS - t0) / 60 )) min"
    fi
    wheel=$out/habitat_sim-$HSIM_VERSION-$py_tag-$py_tag-linux_$(uname -m).whl
fi

# ---- install the wheel and check it ----------------------------------------------------------------------------
step "Checking the wheel $wheel"
if [[ $dry_run == 0 || -f $wheel ]]; then
    [[ -f $wheel ]] || die "no wheel at '$wheel'"
    [[ $(basename "$wheel") == habitat_sim-*.whl ]] || die "'$wheel' is not a habitat_sim wheel"
    wtags=$(basename "$wheel" .whl | cut -d- -f3-)
    [[ $wtags == "$py_tag-"* ]] || die "$(basename "$wheel") is built for ${wtags%%-*}, but $py is $py_tag: use a wheel for $py_tag, or --build one"
    [[ $wtags == *"_$(uname -m)" ]] || die "$(basename "$wheel") is not for this machine ($(uname -m))"
    # An unpatched v0.3.4 wheel asks for numpy>=2, which habitat-lab's numpy==1.26.4 rules out: say so before pip does.
    "$py" - "$wheel" <<'EOF' || exit 1
import sys, zipfile
from pip._vendor.packaging.requirements import Requirement
with zipfile.ZipFile(sys.argv[1]) as whl:
    meta = next(n for n in whl.namelist() if n.endswith(".dist-info/METADATA"))
    lines = whl.read(meta).decode().splitlines()
version = next(l.split(":", 1)[1].strip() for l in lines if l.startswith("Version:"))
for line in lines:
    if line.startswith("Requires-Dist:"):
        req = Requirement(line.split(":", 1)[1].strip())
        if req.name == "numpy" and not req.marker and not req.specifier.contains("1.26.4"):
            sys.exit(f"error: this habitat-sim {version} wheel requires {req}, but habitat-lab 0.3.4 pins numpy==1.26.4, "
                     "so pip cannot install both. Build the wheel with `scripts/install_habitat_sim.sh --build`, which "
                     "relaxes upstream's numpy pin (a pin-only change in habitat-sim v0.3.4).")
print(f"habitat-sim {version} wheel; requirements fit habitat-lab 0.3.4's numpy==1.26.4")
EOF
fi

step "Runtime libraries (Debian packages)"
apt_install "habitat-sim" "${RUNTIME_DEBS[@]}"

step "pip install into $py"
# First the exact wheel (replacing any installed habitat-sim, even one with the same version), then its dependencies,
# resolved together with what is installed (habitat-lab's numpy==1.26.4).
run "$py" -m pip install -q --progress-bar off --no-deps --force-reinstall "$wheel" \
    || die "pip could not install $wheel into $py (see above)"
run "$py" -m pip install -q --progress-bar off "$wheel" \
    || die "pip could not install habitat-sim's dependencies beside habitat-lab (see above)"

step "Checking the install"
check() {
    "$py" - <<'EOF'
import sys
try:
    import habitat_sim
except ImportError as exc:  # the real package was found but its libraries did not load
    sys.exit(f"error: habitat_sim does not import: {exc}\n  Missing system libraries? The runtime packages are: "
             "libassimp5 libzstd1 libegl1 libopengl0 libgl1 libegl-mesa0 libgl1-mesa-dri")
if getattr(habitat_sim, "__habitat_llm4teach_placeholder__", False):
    sys.exit("error: habitat_sim is still the project's placeholder: pip installed it somewhere this Python does not "
             "look (check --python)")
version = getattr(habitat_sim, "__version__", "?")
if not hasattr(habitat_sim.Simulator, "sensors"):
    sys.exit(f"error: habitat-sim {version} at {habitat_sim.__file__} lacks Simulator.sensors: habitat-lab 0.3.4 needs "
             "habitat-sim 0.3.4 (install a v0.3.4 wheel or use --build)")
note = "" if version == "0.3.4" else f" (it says {version}: an unpatched v0.3.4 build; the API is 0.3.4's)"
print(f"OK: habitat-sim {version}{note} from {habitat_sim.__file__}, Simulator.sensors present")
EOF
}
if [[ $dry_run == 1 ]]; then
    echo "+ $py -c 'import habitat_sim' ... (real package, not the placeholder; __version__; Simulator.sensors)"
else
    check
fi
printf '\nDone in %ds. Renders on a GPU, or on the CPU through Mesa (habitat.simulator.habitat_sim_v0.gpu_device_id=-1).\n' \
    "$((SECONDS - start))"
[[ $dry_run == 1 ]] && echo "(dry run: nothing was changed)"
exit 0
