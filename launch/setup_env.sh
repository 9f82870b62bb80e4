#!/usr/bin/env bash
# Set up everything mt3-unified needs on a fresh Debian machine: the audio
# renderer (fluidsynth + the Fluid R3 GM soundfont), librsvg (the fast SVG
# rasterizer of the corpus builder) and a virtual environment
# with the pinned Python packages, and headless chromium + chromedriver (the
# report test opens the HTML report in a real browser). Safe to run again: it skips what is there.
set -euo pipefail
cd "$(dirname "$0")/.."

SOUNDFONT=/usr/share/sounds/sf2/FluidR3_GM.sf2
if ! command -v fluidsynth >/dev/null || [ ! -f "$SOUNDFONT" ] \
  || ! ldconfig -p | grep -q librsvg-2.so.2 || ! command -v chromedriver >/dev/null; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
    fluidsynth fluid-soundfont-gm librsvg2-2 chromium chromium-driver >/dev/null
fi

PYTHON="${PYTHON:-python3.11}"
command -v "$PYTHON" >/dev/null || PYTHON=python3
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
# EXTRAS: setup.py's extras to install (default dev; launch/test.sh adds dac, whose test
# also needs the packages of launch/dac_test_requirements.txt, installed without deps).
EXTRAS="${EXTRAS:-dev}"
# Reinstall only when setup.py or the DAC test's requirements changed since the last
# install, or an extra is asked for that it did not install (the stamp lists them).
STAMP=.venv/.mt3u-installed
missing=0
for extra in ${EXTRAS//,/ }; do
  grep -qx "$extra" "$STAMP" 2>/dev/null || missing=1
done
if [ "$missing" = 1 ] || [ setup.py -nt "$STAMP" ] || [ launch/dac_test_requirements.txt -nt "$STAMP" ]; then
  installed=$( (cat "$STAMP" 2>/dev/null; echo "${EXTRAS//,/$'\n'}") | grep . | sort -u | paste -sd, -)
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -e ".[${installed}]"
  if [[ ",${installed}," == *,dac,* ]]; then
    .venv/bin/python -m pip install -q --no-deps -r launch/dac_test_requirements.txt
  fi
  echo "${installed//,/$'\n'}" > "$STAMP"
fi
