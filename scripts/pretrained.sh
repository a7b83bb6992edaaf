#!/usr/bin/env bash
# Rebuild the shipped radar checkpoint and its cross-validation table. First the
# leave-one-day-out table of the recipe on every shared rain day (scripts/crossval.sh: BOM
# 2020-10-31, FMI 2016-09-28, KNMI 2010-08-26, MeteoSwiss 2015-05-15 and 2016-07-11, SAF CRR
# 2018-06-01), then the model trained with seed 0 on all of those days in one rain-rate space at
# 10-min steps (30 min in, 1 h out), copied with the table to models/pretrained/NAME and the
# table put into its card.md (scripts/card_table.py).
# Usage: scripts/pretrained.sh   (PYTHON, ITERATIONS, PRESET, NAME, RUN, SHARED may be set)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PYTHON="${PYTHON:-python}"
NAME="${NAME:-modernn-radar-guided}"
PRESET="${PRESET:-$ROOT/models/$NAME.toml}"
ITERATIONS="${ITERATIONS:-400}"
RUN="${RUN:-$ROOT/runs/pretrained}"
export PYTHON PRESET ITERATIONS RUN
"$ROOT/scripts/crossval.sh"
nowcast() { "$PYTHON" -m nowcast --config "$RUN/nowcast.toml" "$@"; }
nowcast train -p bom-radar -p fmi-radar -p knmi-radar -p mch-radar -p saf-crr --preset "$PRESET" \
    --step 10min --iterations "$ITERATIONS" --every 100 --patience 3 --seed 0 \
    --out "$RUN/train-$NAME"
TARGET="$ROOT/models/pretrained/$NAME"
mkdir -p "$TARGET"
rm -f "$TARGET/heldout-knmi-summary.csv"
cp "$RUN/train-$NAME/best/model.safetensors" "$RUN/train-$NAME/best/model.json" "$TARGET/"
sed "s#$RUN/##g" "$RUN/train-$NAME/card.json" > "$TARGET/training-card.json"  # run-relative paths
cp "$RUN/folds/crossval.md" "$RUN/folds/crossval.csv" "$TARGET/"
"$PYTHON" "$ROOT/scripts/card_table.py" "$TARGET/card.md" "$TARGET/crossval.md"
