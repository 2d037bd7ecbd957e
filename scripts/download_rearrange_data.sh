#!/usr/bin/env bash
# Download habitat-lab's rearrangement data (ReplicaCAD scenes, the Fetch robot, YCB objects, pick/place episodes)
# into data/ with habitat-sim's own downloader: `python -m habitat_sim.utils.datasets_download --uids
# rearrange_task_assets`. In habitat-sim v0.3.4 that group is replica_cad_dataset (v1.6), hab_fetch (v2.0) and ycb,
# cloned from Hugging Face git repos followed by `git lfs pull`, plus rearrange_pick_dataset_v0 and
# rearrange_dataset_v2, zip files fetched with wget from dl.fbaipublicfiles.com.
#
#   scripts/download_rearrange_data.sh [--check] [datasets_download arguments, e.g. --data-path DIR, --replace]
#     --check   only check the prerequisites and print the command
#
# Needs: a real habitat-sim (scripts/install_habitat_sim.sh, or the conda environment of environment.yml), git,
# git-lfs (the Hugging Face repos keep their meshes in LFS: without it the clone has pointer files and the
# downloader's `git lfs pull` fails), wget, and access to huggingface.co and dl.fbaipublicfiles.com.
# Existing datasets are kept (--no-replace) unless you pass --replace, --no-replace or --clean yourself.
# Python: $PYTHON if set; else the active conda env / virtualenv; else .venv/bin/python.
#
# No download possible? `python scripts/build_rearrange_data.py --assets DIR` builds small test data in the same
# layout from a local copy of the public assets (see README, "Test data from the public assets").
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

check_only=0 args=() data_path=data user_path=0 user_mode=0
while [[ $# -gt 0 ]]; do
    case "$1" in
        --check) check_only=1 ;;
        -h|--help) sed -n '2,19p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
        --data-path) args+=("$1" "${2:?--data-path needs a folder}"); data_path=$2; user_path=1; shift ;;
        --data-path=*) args+=("$1"); data_path=${1#*=}; user_path=1 ;;
        --replace|--no-replace|--clean) args+=("$1"); user_mode=1 ;;
        *) args+=("$1") ;;
    esac
    shift
done
[[ $user_path == 1 ]] || args=(--data-path data/ "${args[@]}")
[[ $user_mode == 1 ]] || args+=(--no-replace)  # never stop at the downloader's "Replace versioned data?" prompt

if [[ -n ${PYTHON:-} ]]; then
    python=$PYTHON
elif [[ -n ${VIRTUAL_ENV:-} || ( -n ${CONDA_PREFIX:-} && ${CONDA_DEFAULT_ENV:-base} != base ) ]]; then
    python=python
elif [[ -x .venv/bin/python ]]; then
    python=.venv/bin/python
else
    python=python3
fi
command -v "$python" >/dev/null || { echo "error: no Python '$python' (set PYTHON=/path/to/python)" >&2; exit 2; }
echo "Python: $(command -v "$python")"

fail() { echo "error: $*" >&2; exit 2; }
sudo_=""; [[ $(id -u) -eq 0 ]] || sudo_="sudo "

# 1. A real habitat-sim. `import habitat_sim` alone proves nothing here: where habitat-sim is missing, this project
#    supplies placeholder modules (habitat_llm4teach/sim_optional.py) that import fine, submodules included.
sim_status=0
sim_info=$("$python" - <<'EOF' 2>&1
import importlib.util, os, sys
spec = importlib.util.find_spec("habitat_sim")
if spec is None or not spec.origin or not os.path.exists(spec.origin):  # placeholders have no file behind them
    print("habitat-sim is not installed"); sys.exit(3)
try:
    import habitat_sim
    import habitat_sim.utils.datasets_download  # noqa: F401
except ImportError as exc:
    print(f"habitat-sim at {os.path.dirname(spec.origin)} does not import: {exc}"); sys.exit(4)
if getattr(habitat_sim, "__habitat_llm4teach_placeholder__", False):
    print("habitat-sim is not installed (only the project's placeholder modules)"); sys.exit(3)
print(f"habitat-sim {getattr(habitat_sim, '__version__', '?')} at {os.path.dirname(habitat_sim.__file__)}")
EOF
) || sim_status=$?
case $sim_status in
    0) echo "$sim_info" ;;
    3) fail "$sim_info in $(command -v "$python"). Install it: scripts/install_habitat_sim.sh --wheel WHEEL (or --build), or" \
            "'conda env create -f environment.yml && conda activate llm4teach'. No download: python scripts/build_rearrange_data.py --assets DIR" ;;
    *) fail "$sim_info. Missing system libraries? scripts/install_habitat_sim.sh installs them (or pass PYTHON=...)" ;;
esac

# 2. The tools the downloader calls.
command -v git >/dev/null || fail "git is missing: ${sudo_}apt-get install -y git"
if ! lfs_version=$(git lfs version 2>/dev/null); then
    fail "git-lfs is missing. datasets_download clones replica_cad_dataset, hab_fetch and ycb from Hugging Face and runs" \
         "'git lfs pull' in each, which fails without it. Install it: ${sudo_}apt-get install -y git-lfs && git lfs install" \
         "(conda: conda install -c conda-forge git-lfs && git lfs install), then rerun."
fi
echo "git-lfs: $lfs_version"
git config --get-regexp '^filter\.lfs\.' >/dev/null 2>&1 \
    || fail "git-lfs is installed but not set up for your user: run 'git lfs install' once, then rerun."
command -v wget >/dev/null || fail "wget is missing (the downloader fetches the episode zips with it): ${sudo_}apt-get install -y wget"

cmd=("$python" -m habitat_sim.utils.datasets_download --uids rearrange_task_assets "${args[@]}")
printf '+'; printf ' %q' "${cmd[@]}"; printf '\n'
[[ $check_only == 1 ]] && { echo "Prerequisites present (--check: nothing downloaded)"; exit 0; }
start=$SECONDS
"${cmd[@]}" || fail "the download stopped (the message above says why; it needs huggingface.co and" \
    "dl.fbaipublicfiles.com). Rerun to continue: finished datasets are kept. No download: python scripts/build_rearrange_data.py --assets DIR"
echo "Rearrangement data in $(cd "$data_path" && pwd) ($(( (SECONDS - start) / 60 )) min). Run habitat from the folder" \
     "that holds data/: the episodes name their files relative to it."
