#!/usr/bin/env bash
# The quarterly job: render the report of a period and refresh reports/index.html.
# Runs the same locally (make quarterly), in the scheduled workflow and in the tests.
#   OUTCOMES_DATA     dataset folder (default data/sample); point it at the real export
#   OUTCOMES_MAPPING  mapping file of an export in its provider system's own shape
#                     (docs/mapping.md; default none: the files follow the contract)
#   OUTCOMES_BENCHMARKS  benchmark table made by `outcomes national --report` (docs/national.md;
#                     default none: no national lines)
#   OUTCOMES_STATE    the provider's state for the benchmark's second line, e.g. NY
#   OUTCOMES_PERIOD   2026Q3, latest (default) or previous
#   OUTCOMES_AS_OF    data cut-off, YYYY-MM-DD (default: the latest date in the data)
#   OUTCOMES_REPORTS  output folder (default reports)
#   PYTHON            the interpreter with outcomes installed (default .venv/bin/python)
# Nothing from the data is printed: stderr gets one progress line per stage (and any warning
# the notebook's cells raise), stdout the paths of the suppressed outputs. A period with no
# discharges, or not over by the as-of date, exits 1 before anything is rendered.
set -euo pipefail
cd "$(dirname "$0")/.."
python="${PYTHON:-.venv/bin/python}"
args=(report --period "${OUTCOMES_PERIOD:-latest}" --data "${OUTCOMES_DATA:-data/sample}"
      --out "${OUTCOMES_REPORTS:-reports}")
if [ -n "${OUTCOMES_AS_OF:-}" ]; then args+=(--as-of "$OUTCOMES_AS_OF"); fi
if [ -n "${OUTCOMES_MAPPING:-}" ]; then args+=(--mapping "$OUTCOMES_MAPPING"); fi
if [ -n "${OUTCOMES_BENCHMARKS:-}" ]; then args+=(--benchmarks "$OUTCOMES_BENCHMARKS"); fi
if [ -n "${OUTCOMES_STATE:-}" ]; then args+=(--state "$OUTCOMES_STATE"); fi
exec "$python" -m outcomes.cli "${args[@]}"
