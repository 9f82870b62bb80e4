#!/usr/bin/env bash
# Set up (if needed) and run the whole test suite, slow end-to-end tests included.
set -euo pipefail
cd "$(dirname "$0")/.."
# The optional DAC converter's test too: PyTorch's CPU build and the DAC package, which
# must then import (MT3U_REQUIRE_DAC: a failure, not a skip).
EXTRAS=dev,dac bash launch/setup_env.sh
MT3U_REQUIRE_DAC=1 exec .venv/bin/python -m pytest -ra "$@"
