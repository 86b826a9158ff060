#!/usr/bin/env bash
# Create (once) the Python virtual environment that the comparison and reference scripts use:
# the peer tools midnet is measured against (lifelines, statsmodels, vigipy) and scipy for
# independent reference values, and duckdb pinned to the engine midnet bundles (1.5.6) for
# same-engine baselines. Prints the path of the environment's python.
#
#   PY=$(scripts/python-env.sh) && "$PY" scripts/some_script.py
set -euo pipefail
VENV="${MIDNET_VENV:-$HOME/.cache/midnet-venv}"
if [ ! -x "$VENV/bin/python" ] || [ ! -f "$VENV/.complete" ]; then
    python3 -m venv "$VENV" >&2
    "$VENV/bin/pip" install --quiet --upgrade pip >&2
    "$VENV/bin/pip" install --quiet \
        "numpy" "scipy" "pandas" "pyarrow" \
        "statsmodels" "lifelines" "vigipy==3.5.1" \
        "duckdb==1.5.6" >&2
    touch "$VENV/.complete"
fi
echo "$VENV/bin/python"
