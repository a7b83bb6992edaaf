#!/usr/bin/env bash
# Leave-one-day-out cross-validation of a rain recipe on every shared rain day: BOM 2020-10-31,
# FMI 2016-09-28, KNMI 2010-08-26, MeteoSwiss 2015-05-15 and 2016-07-11 (both in one mch-radar
# group) and the SAF CRR satellite day 2018-06-01 (15-min frames, retimed to the step), at one
# 10-min step, 30 min in, 1 h out. Writes RUN/crossval.md, the
# table the model card quotes.
# Usage: scripts/crossval.sh   (PYTHON, PRESET, ITERATIONS, RUN, SHARED may be set)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PYTHON="${PYTHON:-python}"
PRESET="${PRESET:-$ROOT/models/modernn-radar-guided.toml}"
ITERATIONS="${ITERATIONS:-400}"
RUN="${RUN:-$ROOT/runs/crossval}"
SHARED="${SHARED:-$ROOT/../shared/data/radar}"
mkdir -p "$RUN/mch"
cp -n "$SHARED"/mch-20150515/* "$SHARED"/mch-20160711/* "$RUN/mch/"
export NOWCAST_BOM_DIR="$SHARED/bom-prcp-c10-66-20201031"
export NOWCAST_FMI_DIR="$SHARED/fmi-pgm-20160928"
export NOWCAST_KNMI_DIR="$SHARED/knmi-20100826"
export NOWCAST_MCH_DIR="$RUN/mch"
export NOWCAST_SAF_DIR="$SHARED/../satellite/saf-crr-20180601"
cat > "$RUN/nowcast.toml" <<TOML
archive = "$RUN/archive.zarr"
device = "cpu"
[output]
checkpoints = "$RUN/checkpoints"
verification = "$RUN/verification"
TOML
nowcast() { "$PYTHON" -m nowcast --config "$RUN/nowcast.toml" "$@"; }
for pipeline in bom-radar fmi-radar knmi-radar mch-radar saf-crr; do
    nowcast ingest -p "$pipeline"
done
nowcast crossval -p bom-radar -p fmi-radar -p knmi-radar -p mch-radar -p saf-crr --preset "$PRESET" \
    --step 10min --iterations "$ITERATIONS" --every 100 --patience 3 --seed 0 --out "$RUN/folds"
