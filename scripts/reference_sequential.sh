#!/usr/bin/env bash
# Reference values of the sequential monitoring (issue 24), computed once with R and stored in
# testdata/sequential/: the group-sequential boundaries from rpact (scripts/reference_sequential.R).
# Installs R, rpact and survival from Debian when missing (as root: scripts/r-env.sh).
#
#   scripts/reference_sequential.sh
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
"$ROOT/scripts/r-env.sh" rpact survival
mkdir -p "$ROOT/testdata/sequential"
Rscript "$ROOT/scripts/reference_sequential.R" "$ROOT/testdata/sequential/boundaries.csv"
echo "wrote testdata/sequential/boundaries.csv" >&2
