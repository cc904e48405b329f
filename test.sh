#!/usr/bin/env bash
# Run the whole DisSysLab test suite:  ./test.sh [pytest args...]
#
# Installs what is missing first (see scripts/setup.sh): .venv with the
# project and its test tools, Graphviz, and Chromium for the browser tests.
# With no arguments it lints the code with ruff, then runs tests/ and
# notebooks/ (notebooks are checked strictly with nbval); with arguments
# they go straight to pytest (no lint), e.g.
#   ./test.sh tests/test_core.py -k merge -x
#   ./test.sh -m "not browser and not slow"
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

. scripts/setup.sh --browser

# Notebooks are executed and their outputs compared (strict nbval), always in
# this venv's kernel whatever kernelspec a notebook names.
args=(--nbval --nbval-current-env)
if [ -f tests/nbval_sanitize.cfg ]; then
    args+=(--nbval-sanitize-with tests/nbval_sanitize.cfg)
fi
# nbval is for the lessons: notebooks kept under tests/ (fixtures) are not
# run as nbval tests; the tests that use them open them themselves.
args+=("--ignore-glob=tests/*.ipynb")

if [ "$#" -eq 0 ]; then
    paths=()
    for d in tests notebooks; do
        if [ -d "$d" ]; then paths+=("$d"); fi
    done
    if [ "${#paths[@]}" -eq 0 ]; then
        echo "[test] There is no tests/ or notebooks/ folder yet: nothing to test."
        exit 0
    fi
    set -- "${paths[@]}"

    # Lint first (settings in pyproject.toml, [tool.ruff]): a failure stops
    # the run before the tests.
    echo "[test] .venv/bin/python -m ruff check ."
    if ! .venv/bin/python -m ruff check .; then
        echo "[test] ruff found problems (above); fix them, or run .venv/bin/python -m ruff check --fix . for the fixable ones. No tests were run." >&2
        exit 1
    fi
fi

echo "[test] .venv/bin/python -m pytest ${args[*]} $*"
exec .venv/bin/python -m pytest "${args[@]}" "$@"
