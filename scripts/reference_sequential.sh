#!/usr/bin/env bash
# Reference values of the sequential monitoring (issue 24), computed once with R and stored in
# testdata/sequential/: the group-sequential boundaries from rpact (scripts/reference_sequential.R).
# Installs R, rpact and survival from Debian when missing (as root).
#
#   scripts/reference_sequential.sh
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
if ! Rscript -e 'library(rpact); library(survival)' >/dev/null 2>&1; then
    if [ "$(id -u)" != 0 ]; then
        echo "R with rpact and survival is missing: run this script as root to install r-cran-rpact r-cran-survival" >&2
        exit 1
    fi
    apt-get update >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y r-cran-rpact r-cran-survival >&2
fi
mkdir -p "$ROOT/testdata/sequential"
Rscript "$ROOT/scripts/reference_sequential.R" "$ROOT/testdata/sequential/boundaries.csv"
echo "wrote testdata/sequential/boundaries.csv" >&2
