#!/usr/bin/env bash
# One install step shared by ./lab.sh and ./test.sh (sourced by both).
#
#   . scripts/setup.sh --lab      # venv + Python packages + Graphviz
#   . scripts/setup.sh --browser  # the same, plus Chromium for the browser tests
#
# Always give an option when sourcing: a bare `. scripts/setup.sh` would see
# the calling script's own arguments. Run on its own: bash scripts/setup.sh [--browser]
#
# Idempotent and fast when already done:
#   1. .venv/ is made with the first python3 that is >= 3.10 (kept if it works);
#   2. pip install -e ".[test]" runs only when pyproject.toml is newer than
#      the stamp file .venv/.dissyslab-installed;
#      The nbconvert settings of scripts/jupyter_nbconvert_config.json go to
#      .venv/etc/jupyter/ (HTML exports show the live views' static copies);
#   3. Graphviz's `dot`, bubblewrap's `bwrap` (the sandbox that grading runs
#      student code in) and, with --browser, Chromium are installed with
#      apt-get when missing and we are root or have passwordless sudo;
#      otherwise we say how to get them and carry on.
#
# Environment knobs:
#   PYTHON=/path/to/python3.12        use this interpreter for the venv
#   DISSYSLAB_NO_SYSTEM_INSTALL=1     never run apt-get, only print advice
#   DISSYSLAB_NO_BROWSER=1            skip the Chromium step (browser tests skip)
#   DISSYSLAB_CHROMIUM=/path/chrome   use this browser for the browser tests
#
# Exports (for the tests): DISSYSLAB_CHROMIUM when a browser was found,
# DISSYSLAB_NO_BROWSER=1 when --browser was asked for and none could be had.

set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

_dsl_want_browser=0
for _dsl_arg in "$@"; do
    case "$_dsl_arg" in
        --lab) ;;
        --browser) _dsl_want_browser=1 ;;
        *) echo "scripts/setup.sh: unknown option: $_dsl_arg" >&2; exit 2 ;;
    esac
done
unset _dsl_arg

_dsl_say()  { printf '[setup] %s\n' "$*"; }
_dsl_warn() { printf '[setup] %s\n' "$*" >&2; }

# --- 1. Python >= 3.10 and the .venv -----------------------------------------

_dsl_python_ok() {  # $1: interpreter; true if it runs and is >= 3.10
    "$1" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else 1)' >/dev/null 2>&1
}

_dsl_find_python() {
    local c
    for c in "${PYTHON:-}" python3 python3.14 python3.13 python3.12 python3.11 python3.10 python; do
        [ -n "$c" ] || continue
        command -v "$c" >/dev/null 2>&1 || continue
        if _dsl_python_ok "$c"; then
            command -v "$c"
            return 0
        fi
    done
    return 1
}

if [ -x .venv/bin/python ] && _dsl_python_ok .venv/bin/python; then
    :  # existing venv is fine
else
    if ! _dsl_py="$(_dsl_find_python)"; then
        _dsl_warn "DisSysLab needs Python 3.10 or newer, and none was found on PATH$(
            command -v python3 >/dev/null 2>&1 && printf ' (python3 is %s)' "$(python3 -V 2>&1)")."
        _dsl_warn "  Debian/Ubuntu:  sudo apt-get install python3 python3-venv   (Debian 12 / Ubuntu 22.04 or newer)"
        _dsl_warn "  macOS:          brew install python@3.12"
        _dsl_warn "  conda:          conda env create -f environment.yml   (then see README: Without the scripts)"
        _dsl_warn "  Or download one from python.org, then run this again (PYTHON=/path/to/python3 picks a specific one)."
        exit 1
    fi
    if [ -e .venv ]; then
        _dsl_say "Replacing the old .venv (it is broken or its Python is older than 3.10)."
        rm -rf .venv
    fi
    _dsl_say "Creating .venv with $_dsl_py ($("$_dsl_py" -c 'import platform; print(platform.python_version())'))"
    if ! "$_dsl_py" -m venv .venv; then
        rm -rf .venv
        _dsl_warn "Could not create a virtual environment with $_dsl_py."
        _dsl_warn "  Debian/Ubuntu: the venv module is packaged separately: sudo apt-get install python3-venv"
        exit 1
    fi
    unset _dsl_py
fi

# --- 2. Python packages ------------------------------------------------------

_dsl_stamp=.venv/.dissyslab-installed
if [ -f "$_dsl_stamp" ] && [ "$_dsl_stamp" -nt pyproject.toml ]; then
    :  # up to date
else
    _dsl_say "Installing DisSysLab and its lesson/test tools into .venv (about a minute the first time)..."
    rm -f "$_dsl_stamp"
    if .venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".[test]" \
            >.venv/pip-install.log 2>&1; then
        touch "$_dsl_stamp"
        _dsl_say "Python packages installed (log: .venv/pip-install.log)."
    else
        _dsl_warn "pip install failed. The last lines of .venv/pip-install.log:"
        tail -n 40 .venv/pip-install.log | sed 's/^/    /' >&2
        exit 1
    fi
fi
unset _dsl_stamp

# HTML exports (jupyter nbconvert --to html) of the lessons show each live view's stored
# final state, which needs no network, rather than the widget, whose code comes from a CDN.
_dsl_conf=.venv/etc/jupyter/jupyter_nbconvert_config.json
if ! cmp -s scripts/jupyter_nbconvert_config.json "$_dsl_conf"; then
    mkdir -p "$(dirname "$_dsl_conf")"
    cp scripts/jupyter_nbconvert_config.json "$_dsl_conf"
fi
unset _dsl_conf

# --- 3. System programs: Graphviz's dot, bubblewrap, Chromium for browser tests

_dsl_have_bwrap() {  # bubblewrap, the sandbox dissyslab.check grades student code in
    command -v bwrap >/dev/null 2>&1
}

_dsl_find_chromium() {
    local c
    if [ -n "${DISSYSLAB_CHROMIUM:-}" ] && [ -x "$DISSYSLAB_CHROMIUM" ]; then
        printf '%s\n' "$DISSYSLAB_CHROMIUM"; return 0
    fi
    if [ -x /usr/bin/chromium ]; then
        printf '%s\n' /usr/bin/chromium; return 0
    fi
    for c in chromium chromium-browser; do
        c="$(command -v "$c" 2>/dev/null)" || continue
        if [ -x "$c" ]; then
            printf '%s\n' "$c"; return 0
        fi
    done
    return 1
}

_dsl_have_dot() {  # Graphviz's dot is on PATH and runs
    dot -V >/dev/null 2>&1
}

_dsl_sudo=""
_dsl_can_apt() {  # true if we may run apt-get as root without a password prompt
    [ "${DISSYSLAB_NO_SYSTEM_INSTALL:-0}" != "1" ] || return 1
    command -v apt-get >/dev/null 2>&1 || return 1
    if [ "$(id -u)" -eq 0 ]; then
        _dsl_sudo=""
        return 0
    fi
    if command -v sudo >/dev/null 2>&1 && sudo -n true >/dev/null 2>&1; then
        _dsl_sudo="sudo -n"
        return 0
    fi
    return 1
}

_dsl_apt() {  # apt-get with no questions; output goes to .venv/apt.log
    # shellcheck disable=SC2086
    $_dsl_sudo env DEBIAN_FRONTEND=noninteractive \
        apt-get -o DPkg::Lock::Timeout=120 "$@" >>.venv/apt.log 2>&1
}

_dsl_apt_updated=0
_dsl_apt_install() {  # $1: Debian package. One apt-get update per run, then install.
    if [ "$_dsl_apt_updated" = 0 ]; then
        _dsl_say "Running apt-get update (log: .venv/apt.log)..."
        if ! _dsl_apt update; then
            _dsl_warn "apt-get update failed; see .venv/apt.log."
            _dsl_apt_updated=failed
        else
            _dsl_apt_updated=1
        fi
    fi
    [ "$_dsl_apt_updated" = 1 ] || return 1
    _dsl_say "Installing $1 with apt-get (one time)..."
    if _dsl_apt install -y -q "$1"; then
        return 0
    fi
    _dsl_warn "apt-get install $1 failed; the last lines of .venv/apt.log:"
    tail -n 10 .venv/apt.log | sed 's/^/    /' >&2
    return 1
}

_dsl_need_dot=0
_dsl_have_dot || _dsl_need_dot=1
_dsl_need_bwrap=0
if [ "$(uname -s)" = Linux ] && ! _dsl_have_bwrap; then
    _dsl_need_bwrap=1
fi
_dsl_need_chromium=0
if [ "$_dsl_want_browser" = 1 ] && [ "${DISSYSLAB_NO_BROWSER:-0}" != "1" ] \
        && ! _dsl_find_chromium >/dev/null; then
    _dsl_need_chromium=1
fi

if [ "$_dsl_need_dot" = 1 ] || [ "$_dsl_need_chromium" = 1 ] || [ "$_dsl_need_bwrap" = 1 ]; then
    if _dsl_can_apt; then
        : >.venv/apt.log
        if [ "$_dsl_need_dot" = 1 ]; then
            _dsl_apt_install graphviz || true
        fi
        if [ "$_dsl_need_bwrap" = 1 ]; then
            _dsl_apt_install bubblewrap || true
        fi
        if [ "$_dsl_need_chromium" = 1 ]; then
            _dsl_apt_install chromium || true
        fi
    fi
fi

if ! _dsl_have_dot; then
    _dsl_warn "Graphviz ('dot') is not installed, so the lessons will draw networks as text instead. To get pictures:"
    _dsl_warn "  Debian/Ubuntu:  sudo apt-get install graphviz"
    _dsl_warn "  macOS:          brew install graphviz"
    _dsl_warn "  conda:          conda install -c conda-forge graphviz"
fi

if [ "$(uname -s)" = Linux ] && ! _dsl_have_bwrap; then
    _dsl_warn "bubblewrap ('bwrap') is not installed, so nbgrader autograde would run student code without a sandbox. To get it:"
    _dsl_warn "  Debian/Ubuntu:  sudo apt-get install bubblewrap"
fi

if [ "$_dsl_want_browser" = 1 ]; then
    if [ "${DISSYSLAB_NO_BROWSER:-0}" = "1" ]; then
        _dsl_say "DISSYSLAB_NO_BROWSER=1: browser tests will be skipped."
        export DISSYSLAB_NO_BROWSER=1
    elif DISSYSLAB_CHROMIUM="$(_dsl_find_chromium)"; then
        export DISSYSLAB_CHROMIUM
    else
        unset DISSYSLAB_CHROMIUM
        export DISSYSLAB_NO_BROWSER=1
        _dsl_warn "Chromium is not installed, so the browser tests will be skipped (DISSYSLAB_NO_BROWSER=1). To run them:"
        _dsl_warn "  Debian:         sudo apt-get install chromium"
        _dsl_warn "  Ubuntu:         sudo snap install chromium"
        _dsl_warn "  macOS:          brew install --cask chromium   (then DISSYSLAB_CHROMIUM=/Applications/Chromium.app/Contents/MacOS/Chromium)"
        _dsl_warn "  Anywhere:       DISSYSLAB_CHROMIUM=/path/to/chrome-or-chromium ./test.sh"
    fi
fi

unset _dsl_want_browser _dsl_need_dot _dsl_need_chromium _dsl_apt_updated _dsl_sudo
unset -f _dsl_python_ok _dsl_find_python _dsl_find_chromium _dsl_have_dot _dsl_can_apt _dsl_apt _dsl_apt_install
