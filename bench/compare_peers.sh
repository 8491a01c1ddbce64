#!/usr/bin/env bash
# bayesburn against the Python peers on the same workload, one thread each, interleaved.
#
# usage: PYTHON=/path/to/peers-venv/bin/python bash bench/compare_peers.sh [PEERS_DIR] [ROUNDS]
#   PEERS_DIR  the peers' scripts (default ../shared/bench/peers, relative to the repo root)
#   ROUNDS     how many times each side runs (default 3); the summary takes medians
#   BENCH_TOY  an already built bench_toy binary (default: build target/release/examples/bench_toy)
#   OUT        where the raw JSON lines go (default target/compare_peers)
#
# Each round runs ours, then every peer (run_all.sh), so both see the same machine load.
# Ours runs with one rayon thread (`--threads 1`, RAYON_NUM_THREADS=1) and, like the peers
# (sched_setaffinity), pinned to the first CPU (taskset). Prints the median of every figure
# and the ratios the bars of issue 9 use (docs/PERFORMANCE.md).
set -euo pipefail
cd "$(dirname "$0")/.."
PEERS=${1:-../shared/bench/peers}
ROUNDS=${2:-3}
PY=${PYTHON:-python3}
OUT=${OUT:-target/compare_peers}
if [ ! -f "$PEERS/run_all.sh" ]; then
  echo "compare_peers: no run_all.sh in $PEERS; pass the peers' folder as the first argument" >&2
  exit 2
fi
if [ -z "${BENCH_TOY:-}" ]; then
  cargo build --release --example bench_toy >&2
  BENCH_TOY=target/release/examples/bench_toy
fi
FIRST_CPU=$("$PY" -c 'import os; print(min(os.sched_getaffinity(0)))')
mkdir -p "$OUT"
: > "$OUT/ours.jsonl"
: > "$OUT/peers.jsonl"
for r in $(seq 1 "$ROUNDS"); do
  echo "round $r/$ROUNDS: $(uptime)" >&2
  RAYON_NUM_THREADS=1 taskset -c "$FIRST_CPU" "$BENCH_TOY" --threads 1 | tee -a "$OUT/ours.jsonl" >&2
  PYTHON="$PY" bash "$PEERS/run_all.sh" 1 | tee -a "$OUT/peers.jsonl" >&2
done
echo "load after the runs: $(uptime)"
"$PY" bench/summarise_peers.py "$OUT/ours.jsonl" "$OUT/peers.jsonl"
