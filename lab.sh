#!/usr/bin/env bash
# Open the DisSysLab lessons (notebooks/) in JupyterLab:  ./lab.sh [jupyter lab args...]
#
# Installs what is missing first (see scripts/setup.sh): .venv with the
# project and JupyterLab, and Graphviz for drawing networks.
# Extra arguments go to `jupyter lab`, e.g.  ./lab.sh --no-browser --port 8890
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

. scripts/setup.sh --lab

opts=()
if [ "$(id -u)" -eq 0 ]; then
    opts+=(--allow-root)   # Jupyter refuses to run as root without it
fi

dir=notebooks
if [ ! -d "$dir" ]; then
    echo "[lab] There is no notebooks/ folder yet; opening the project folder instead."
    dir=.
fi

# The lessons are ours: trust them, so JupyterLab shows their stored diagrams (SVG).
if compgen -G "notebooks/*.ipynb" >/dev/null; then
    .venv/bin/jupyter trust notebooks/*.ipynb >/dev/null 2>&1 || true
fi

exec .venv/bin/jupyter lab "$dir" ${opts[@]+"${opts[@]}"} "$@"
