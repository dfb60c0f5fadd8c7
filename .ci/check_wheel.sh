#!/usr/bin/env bash
# The wheel path a new user takes, checked from scratch: build the wheel, install it with
# torch's CPU build into a fresh virtual environment (no source tree, no ffmpeg on PATH,
# no MUSDB), then separate a generated WAV with the bundled model and load it in Python.
#   usage: .ci/check_wheel.sh [python]     (default: python3)
set -euo pipefail
cd "$(dirname "$0")/.."
BASE=${1:-python3}
TORCH_VERSION=${TORCH_VERSION:-2.13.0}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
log() { printf '[check_wheel] %s\n' "$*" >&2; }

log "building the wheel"
"$BASE" -m pip wheel -q --no-deps --disable-pip-version-check -w "$work/dist" . >/dev/null
wheel=$(ls "$work"/dist/sklearn_vpnn-*.whl)
"$BASE" -c "import sys, zipfile; names = zipfile.ZipFile(sys.argv[1]).namelist(); \
assert any(n.endswith('pretrained/drums.safetensors') for n in names), 'the wheel lacks the bundled model'" "$wheel"

log "fresh venv: torch==$TORCH_VERSION (CPU), then the wheel"
"$BASE" -m venv "$work/venv"
V="$work/venv/bin"
"$V/python" -m pip install -q --disable-pip-version-check "torch==$TORCH_VERSION"
"$V/python" -m pip install -q --disable-pip-version-check "$wheel"

# run from an empty folder with nothing but the venv on PATH: no ffmpeg, no source tree
mkdir "$work/run"
cd "$work/run"
run() { env -i PATH="$V" HOME="$work/run" OMP_NUM_THREADS=2 "$@"; }
run "$V/python" -c "
import numpy as np, soundfile as sf
t = np.arange(3 * 44100) / 44100
x = 0.1 * np.stack([np.sin(2 * np.pi * 220 * t), np.sin(2 * np.pi * 330 * t)], 1)
x[::11025] += 0.5  # clicks
sf.write('song.wav', x.astype(np.float32), 44100)
"
if run "$V/python" -c "import shutil, sys; sys.exit(shutil.which('ffmpeg') is not None)"; then :; else
    log "error: ffmpeg is on PATH in the check"; exit 1
fi
run "$V/sklearn-vpnn" separate song.wav -o out
test -s out/song/drums.wav && test -s out/song/accompaniment.wav
run "$V/python" -c "
import sklearn_vpnn as s
p = s.load_pretrained('drums')
assert p[1].sources_ == ('drums', 'accompaniment'), p[1].sources_
print('load_pretrained: fitted', type(p[1]).__name__)
"
run "$V/sklearn-vpnn" models >/dev/null
log "ok: the wheel separates a song with its bundled model, offline, without ffmpeg"
