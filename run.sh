#!/usr/bin/env bash
# One entry point that sets up a fresh machine and then runs one job.
#
#   ./run.sh demo    install everything, then run the offline demo (the main job)
#   ./run.sh test    install everything, then run the test suite
#   ./run.sh docs    install everything, then build the documentation (warnings are errors)
#   ./run.sh setup   install only
#
# What "install everything" means, in order:
#   1. ffmpeg/ffprobe (needed by musdb/stempeg to read MUSDB18 .stem.mp4 files) from
#      Debian's packages when missing (needs root or sudo; otherwise we stop and say so);
#   2. a project virtual environment, .venv/ (so a system Python that refuses
#      `pip install`, PEP 668 on Debian and Ubuntu, is never touched); Debian's
#      python3-venv is installed first when the interpreter lacks venv/ensurepip;
#   3. PyTorch's CPU build, pinned (torch==2.13.0) so pip never pulls a multi-GB CUDA build;
#   4. this package in editable mode with its test and docs extras.
# Every step is skipped when already satisfied, so the script is cheap to run again.
# Set PYTHON=/path/to/python to use that interpreter (e.g. a virtual environment of your
# own) instead of .venv/; set VENV=dir to put the project environment elsewhere.
set -euo pipefail
cd "$(dirname "$0")"
TORCH_VERSION=${TORCH_VERSION:-2.13.0}
VENV=${VENV:-.venv}

log() { printf '[run.sh] %s\n' "$*" >&2; }

SUDO=""
need_root() {
    if [ "$(id -u)" != 0 ]; then
        if command -v sudo >/dev/null; then SUDO=sudo; else
            log "error: need root (or sudo) to apt-get install $1; install it yourself and re-run"
            exit 1
        fi
    fi
    if ! command -v apt-get >/dev/null; then
        log "error: no apt-get here; install $1 with your package manager and re-run"
        exit 1
    fi
}

apt_install() {
    need_root "$*"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "$@" >/dev/null
}

install_ffmpeg() {
    if command -v ffmpeg >/dev/null && command -v ffprobe >/dev/null; then return; fi
    log "ffmpeg/ffprobe not found: installing Debian's ffmpeg package"
    apt_install ffmpeg
}

# The interpreter every later step uses: $PYTHON if set, else the project venv.
choose_python() {
    if [ -n "${PYTHON:-}" ]; then PY=$PYTHON; return; fi
    PY=$VENV/bin/python
    if [ -x "$PY" ]; then return; fi
    local base=python3
    command -v "$base" >/dev/null || { log "error: python3 not found; install Python >= 3.10"; exit 1; }
    log "creating the project virtual environment $VENV (with $($base -V 2>&1))"
    if ! "$base" -m venv "$VENV" >/dev/null 2>&1; then
        # Debian/Ubuntu ship venv's ensurepip separately (python3-venv, python3.X-venv)
        rm -rf "$VENV"
        local ver
        ver=$("$base" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
        log "python3 has no working venv module: installing Debian's python3-venv"
        apt_install python3-venv "python$ver-venv" || apt_install python3-venv
        "$base" -m venv "$VENV"
    fi
    "$PY" -m pip install -q --disable-pip-version-check --upgrade pip
}

install_python() {
    if ! "$PY" -c "import torch" 2>/dev/null; then
        log "installing torch==$TORCH_VERSION (CPU build)"
        "$PY" -m pip install -q "torch==$TORCH_VERSION"
    fi
    log "installing sklearn-vpnn (editable) with test and docs extras"
    "$PY" -m pip install -q --disable-pip-version-check -e ".[test,docs]"
}

setup() { install_ffmpeg; choose_python; install_python; }

default_musdb() {
    if [ -z "${MUSDB_PATH:-}" ] && [ -d ../shared/data/musdb18-7 ]; then
        MUSDB_PATH=$(cd ../shared/data/musdb18-7 && pwd)
        export MUSDB_PATH
    fi
}

job=${1:-}
shift || true
case "$job" in
    setup) setup ;;
    demo)
        setup
        exec "$PY" -m sklearn_vpnn demo "$@" ;;
    test)
        setup
        default_musdb
        if [ -n "${MUSDB_PATH:-}" ]; then log "MUSDB_PATH=$MUSDB_PATH (tests on real audio will run)";
        else log "MUSDB_PATH not set: tests on real audio will be skipped, saying so"; fi
        exec "$PY" -m pytest "$@" ;;
    docs)
        setup
        default_musdb
        exec "$PY" -m sphinx -W --keep-going -b html docs docs/_build/html "$@" ;;
    *)
        echo "usage: ./run.sh {demo|test|docs|setup} [args...]" >&2
        exit 2 ;;
esac
