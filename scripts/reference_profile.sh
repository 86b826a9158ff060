#!/usr/bin/env bash
# Reference profile-likelihood intervals of the protocol's Cox model (issue 24), computed once with
# R's survival and stored in testdata/cox_profile/ (scripts/reference_profile.R records each R call).
# Installs R and survival from Debian when missing (as root: scripts/r-env.sh).
#
#   scripts/reference_profile.sh
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
"$ROOT/scripts/r-env.sh" survival
mkdir -p "$ROOT/testdata/cox_profile"
Rscript "$ROOT/scripts/reference_profile.R" "$ROOT/testdata/cox_profile/intervals.csv"
echo "wrote testdata/cox_profile/{few,many,intervals}.csv" >&2
