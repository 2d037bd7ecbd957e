#!/usr/bin/env bash
# Download habitat-lab's rearrangement data (ReplicaCAD scenes, pick/place episodes, YCB objects, the Fetch robot)
# into data/, with habitat-sim's own downloader. Needs habitat-sim (conda env create -f environment.yml).
#   scripts/download_rearrange_data.sh [extra datasets_download arguments]
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python}
if ! "$PYTHON" -c "import habitat_sim.utils.datasets_download" 2>/dev/null; then
    echo "error: habitat-sim is not installed in $(command -v "$PYTHON"): create the GPU environment with" \
         "'conda env create -f environment.yml && conda activate llm4teach' (habitat-sim 0.3.3 withbullet headless)" >&2
    exit 2
fi
"$PYTHON" -m habitat_sim.utils.datasets_download --uids rearrange_task_assets --data-path data/ "$@"
echo "Rearrangement data in $(pwd)/data"
