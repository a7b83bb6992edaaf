#!/usr/bin/env bash
# Rebuild the shipped radar checkpoint models/pretrained/modernn-radar-small from the shared BOM
# day: ingest it, train the modernn-radar-small preset with seed 0 at hourly steps (stride 6) for
# ITERATIONS (balanced MSE, 8 flips, gradient clipping), copy the best checkpoint into models/pretrained/. Usage: scripts/pretrained.sh
# (NOWCAST_BOM_DIR defaults to ../shared/data/radar/bom-prcp-c10-66-20201031; PYTHON to python).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PYTHON="${PYTHON:-python}"
ITERATIONS="${ITERATIONS:-400}"
RUN="${RUN:-$ROOT/runs/pretrained}"
export NOWCAST_BOM_DIR="${NOWCAST_BOM_DIR:-$ROOT/../shared/data/radar/bom-prcp-c10-66-20201031}"
mkdir -p "$RUN"
cat > "$RUN/nowcast.toml" <<TOML
archive = "$RUN/archive.zarr"
device = "cpu"
[output]
checkpoints = "$RUN/checkpoints"
forecasts = "$RUN/forecasts"
TOML
nowcast() { "$PYTHON" -m nowcast --config "$RUN/nowcast.toml" "$@"; }
nowcast ingest -p bom-radar --since 2020-10-31T00:00Z --until 2020-10-31T23:50Z
nowcast train -p bom-radar --preset "$ROOT/models/modernn-radar-small.toml" --stride 6 \
    --iterations "$ITERATIONS" --every 25 --patience 100 --seed 0 --out "$RUN/train"
TARGET="$ROOT/models/pretrained/modernn-radar-small"
mkdir -p "$TARGET"
cp "$RUN/train/best/model.safetensors" "$RUN/train/best/model.json" "$TARGET/"
cp "$RUN/train/card.json" "$TARGET/training-card.json"
