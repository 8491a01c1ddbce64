#!/usr/bin/env bash
# The quality figures of bayesburn and the Python peers over several seeds: one seed's rmse_in,
# sd_in and sd_out move by 10-30 % with the seed (data, initialisation, minibatch order), so a
# single-seed "within the peers' range" compares one draw against four. This runs every method
# of both sides for seeds 0..S-1 and prints each method's mean and sd over the seeds.
#
# usage: PYTHON=/path/to/peers-venv/bin/python bash bench/quality_seeds.sh [PEERS_DIR] [SEEDS]
#   PEERS_DIR  the peers' scripts (default ../shared/bench/peers)
#   SEEDS      how many seeds (default 5)
#   BENCH_TOY  an already built bench_toy binary (default: build target/release/examples/bench_toy)
#   OUT        where the raw JSON lines go (default target/quality_seeds)
# Takes about a minute per seed (the peers' training dominates).
set -euo pipefail
cd "$(dirname "$0")/.."
PEERS=${1:-../shared/bench/peers}
SEEDS=${2:-5}
PY=${PYTHON:-python3}
OUT=${OUT:-target/quality_seeds}
if [ ! -f "$PEERS/run_all.sh" ]; then
  echo "quality_seeds: no run_all.sh in $PEERS; pass the peers' folder as the first argument" >&2
  exit 2
fi
if [ -z "${BENCH_TOY:-}" ]; then
  cargo build --release --example bench_toy >&2
  BENCH_TOY=target/release/examples/bench_toy
fi
mkdir -p "$OUT"
: > "$OUT/runs.jsonl"
for s in $(seq 0 $((SEEDS - 1))); do
  echo "seed $s: $(uptime)" >&2
  RAYON_NUM_THREADS=1 "$BENCH_TOY" --threads 1 --seed "$s" | sed 's/^{"bench":"/{"bench":"bayesburn_/' >> "$OUT/runs.jsonl"
  PYTHON="$PY" bash "$PEERS/run_all.sh" 1 --seed "$s" >> "$OUT/runs.jsonl"
done
"$PY" - "$OUT/runs.jsonl" <<'PY'
import json, statistics, sys
from collections import defaultdict
runs = defaultdict(list)
for line in open(sys.argv[1]):
    line = line.strip()
    if line.startswith("{"):
        r = json.loads(line)
        # bayesian-torch with its own (averaged) KL is a separate variant, as in summarise_peers.py
        runs[r["bench"] + ("_kl_library" if r.get("kl") == "library" else "")].append(r)
print("| method | seeds | rmse_in | sd_in | sd_out |")
print("| --- | --- | --- | --- | --- |")
for name, rs in runs.items():
    cell = lambda k: (f"{statistics.mean(r[k] for r in rs):.2f} ± {statistics.stdev(r[k] for r in rs):.2f}"
                      if len(rs) > 1 else f"{rs[0][k]:.2f}")
    print(f"| {name} | {len(rs)} | {cell('rmse_in')} | {cell('sd_in')} | {cell('sd_out')} |")
PY
