#!/usr/bin/env bash
# The two-rank DDP test, N times in a row in each environment, beside two busy loops (the gloo
# exit race showed under load). Prints one line per environment: runs, failures, aborts.
# Usage: scripts/ddp_exit_check.sh [N] [VENV ...]   (default: 30 .venv .venv-lowest .venv-newest)
set -u
cd "$(dirname "$0")/.."
runs=${1:-30}
shift || true
venvs=("$@")
[ ${#venvs[@]} -eq 0 ] && venvs=(.venv .venv-lowest .venv-newest)
test_id="tests/test_training_shards.py::test_two_ranks_read_each_window_once_per_step_and_match_one"
busy() { while :; do :; done; }
busy & first=$!
busy & second=$!
trap 'kill $first $second 2>/dev/null' EXIT
for venv in "${venvs[@]}"; do
    failed=0 aborted=0
    for _ in $(seq 1 "$runs"); do
        log=$(mktemp)
        if ! "$venv/bin/pytest" -q -p no:cacheprovider "$test_id" > "$log" 2>&1; then
            failed=$((failed + 1))
            grep -q "SIGABRT" "$log" && aborted=$((aborted + 1))
        fi
        rm -f "$log"
    done
    echo "$venv: $runs runs, $failed failed, $aborted aborted (SIGABRT), beside two busy loops"
done
