#!/usr/bin/env bash
# Reference profile-likelihood intervals of the protocol's Cox model (issue 24), computed once with
# R's survival and stored in testdata/cox_profile/ (scripts/reference_profile.R records each R call).
# Installs R and survival from Debian when missing (as root).
#
#   scripts/reference_profile.sh
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
if ! Rscript -e 'library(survival)' >/dev/null 2>&1; then
    if [ "$(id -u)" != 0 ]; then
        echo "R with survival is missing: run this script as root to install r-cran-survival" >&2
        exit 1
    fi
    apt-get update >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y r-cran-survival >&2
fi
mkdir -p "$ROOT/testdata/cox_profile"
Rscript "$ROOT/scripts/reference_profile.R" "$ROOT/testdata/cox_profile/intervals.csv"
echo "wrote testdata/cox_profile/{few,many,intervals}.csv" >&2
