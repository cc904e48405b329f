#!/usr/bin/env bash
# Open the DisSysLab lessons (notebooks/) in JupyterLab:  ./lab.sh [jupyter lab args...]
#
# Installs what is missing first (see scripts/setup.sh): .venv with the
# project and JupyterLab, and Graphviz for drawing networks.
# Extra arguments go to `jupyter lab`, e.g.  ./lab.sh --no-browser --port 8890
#
# Students see one line (the address to open, and which lesson comes first);
# JupyterLab's own log goes to .venv/lab.log. nbgrader's instructor tools are
# hidden (scripts/jupyter-student/). Instructors: ./lab.sh --instructor opens
# exercises/ with every nbgrader tool (see exercises/README.md).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

instructor=0
if [ "${1:-}" = "--instructor" ]; then
    instructor=1
    shift
fi

. scripts/setup.sh --lab

opts=()
if [ "$(id -u)" -eq 0 ]; then
    opts+=(--allow-root)   # Jupyter refuses to run as root without it
fi

here="$PWD"
workdir=.
dir=notebooks
first=01_basics.ipynb
if [ "$instructor" = 1 ]; then
    workdir=exercises   # nbgrader (and its Formgrader) finds nbgrader_config.py in the folder it runs in
    dir=.
    first=
elif [ ! -d "$dir" ]; then
    echo "[lab] There is no notebooks/ folder yet; opening the project folder instead."
    dir=.
    first=
elif [ -n "$first" ] && [ -f "$dir/$first" ]; then
    opts+=(--LabApp.default_url="/lab/tree/$first")   # the browser opens the first lesson
else
    first=
fi

# The lessons are ours: trust them, so JupyterLab shows their stored diagrams (SVG).
if compgen -G "notebooks/*.ipynb" >/dev/null; then
    .venv/bin/jupyter trust notebooks/*.ipynb >/dev/null 2>&1 || true
fi

if [ "$instructor" = 0 ]; then
    # Students: no nbgrader instructor tools (Create Assignment, Formgrader...).
    export JUPYTER_CONFIG_PATH="$PWD/scripts/jupyter-student${JUPYTER_CONFIG_PATH:+:$JUPYTER_CONFIG_PATH}"
fi

log=.venv/lab.log
: >"$log"
(cd "$workdir" && exec "$here/.venv/bin/jupyter" lab "$dir" ${opts[@]+"${opts[@]}"} "$@") >>"$log" 2>&1 &
lab=$!
stop() {
    kill -TERM "$lab" 2>/dev/null || true
    wait "$lab" 2>/dev/null || true
    echo
    echo "[lab] JupyterLab stopped."
    exit 0
}
trap stop INT TERM

# Wait for the address JupyterLab prints (with its access token), then say it in one line.
url=
for _ in $(seq 1 1200); do   # up to 2 minutes: the first start can be slow
    url="$(grep -Eo 'http://(localhost|127\.0\.0\.1)[^ ]*' "$log" | head -n 1 || true)"
    if [ -n "$url" ] || ! kill -0 "$lab" 2>/dev/null; then
        break
    fi
    sleep 0.1
done

if [ -z "$url" ]; then
    wait "$lab" && code=0 || code=$?
    echo "[lab] JupyterLab did not start. The end of its log ($log):" >&2
    tail -n 25 "$log" | sed 's/^/    /' >&2
    exit "$code"
fi

# JupyterLab prints its address a moment before it listens there: say it once it answers.
hostport="${url#http://}"
hostport="${hostport%%/*}"
for _ in $(seq 1 300); do   # up to 30 seconds
    if (exec 3<>"/dev/tcp/${hostport%:*}/${hostport##*:}") 2>/dev/null || ! kill -0 "$lab" 2>/dev/null; then
        break
    fi
    sleep 0.1
done

if [ "$instructor" = 1 ]; then
    echo "[lab] Instructor JupyterLab (exercises/, every nbgrader tool): $url   (Ctrl-C stops it; log: $log)"
elif [ -n "$first" ]; then
    echo "[lab] Open $url and start with $first. (Ctrl-C stops JupyterLab; log: $log)"
else
    echo "[lab] Open $url   (Ctrl-C stops JupyterLab; log: $log)"
fi
wait "$lab"
