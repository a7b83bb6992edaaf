#!/usr/bin/env bash
# Rebuild the shipped radar checkpoint and score it on the held-out day. Ingests the shared radar
# days (BOM 2020-10-31, FMI 2016-09-28, MeteoSwiss 2016-07-11 for training; KNMI 2010-08-26 held
# out), trains PRESET (default modernn-radar-guided) with seed 0 on the first three in one
# rain-rate space at 10-min steps (30 min in, 1 h out), backtests it on the whole KNMI day against
# persistence and extrapolation, then copies the best checkpoint to models/pretrained/NAME.
# Usage: scripts/pretrained.sh   (PYTHON, ITERATIONS, PRESET, NAME, RUN, SHARED may be set)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PYTHON="${PYTHON:-python}"
PRESET="${PRESET:-modernn-radar-guided}"
NAME="${NAME:-$PRESET}"
ITERATIONS="${ITERATIONS:-1500}"
RUN="${RUN:-$ROOT/runs/pretrained}"
SHARED="${SHARED:-$ROOT/../shared/data/radar}"
export NOWCAST_BOM_DIR="$SHARED/bom-prcp-c10-66-20201031"
export NOWCAST_FMI_DIR="$SHARED/fmi-pgm-20160928"
export NOWCAST_MCH_DIR="$SHARED/mch-20160711"
export NOWCAST_KNMI_DIR="$SHARED/knmi-20100826"
mkdir -p "$RUN"
cat > "$RUN/nowcast.toml" <<TOML
archive = "$RUN/archive.zarr"
device = "cpu"
[output]
checkpoints = "$RUN/checkpoints"
forecasts = "$RUN/forecasts"
verification = "$RUN/verification"
TOML
nowcast() { "$PYTHON" -m nowcast --config "$RUN/nowcast.toml" "$@"; }
nowcast ingest -p bom-radar --since 2020-10-31T00:00Z --until 2020-10-31T23:50Z
nowcast ingest -p fmi-radar --since 2016-09-28T14:45Z --until 2016-09-28T18:00Z
nowcast ingest -p mch-radar --since 2016-07-11T20:45Z --until 2016-07-12T00:00Z
nowcast ingest -p knmi-radar --since 2010-08-26T00:00Z --until 2010-08-26T07:35Z
nowcast train -p bom-radar -p fmi-radar -p mch-radar --preset "$ROOT/models/$PRESET.toml" \
    --step 10min --iterations "$ITERATIONS" --every 100 --patience 5 --seed 0 \
    --out "$RUN/train-$NAME"
nowcast verify --backtest -p knmi-radar --from 2010-08-26T00:30Z --to 2010-08-26T06:35Z \
    --model "$RUN/train-$NAME/best" --thresholds 1mm/h,5mm/h --scales 1 \
    --out "$RUN/heldout-$NAME"
TARGET="$ROOT/models/pretrained/$NAME"
mkdir -p "$TARGET"
cp "$RUN/train-$NAME/best/model.safetensors" "$RUN/train-$NAME/best/model.json" "$TARGET/"
sed "s#$RUN/##g" "$RUN/train-$NAME/card.json" > "$TARGET/training-card.json"  # run-relative paths
cp "$RUN/heldout-$NAME/summary.csv" "$TARGET/heldout-knmi-summary.csv"
