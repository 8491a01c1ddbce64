#!/usr/bin/env bash
# The comparison (examples/compare.rs) over seeds 0..S-1: each method's mean ± sd of the figures
# .ci/check_compare.py judges, and in how many seeds it met every bar there (the bars are read
# from that script's verdicts, not repeated here). The book's comparison chapter shows its table.
#
# usage: bash bench/compare_seeds.sh [SEEDS]     (default 6)
#   COMPARE  an already built compare binary (default: `cargo run --example compare`, dev profile)
#   OUT      where the raw JSON lines go (default target/compare_seeds)
#   SUMMARY_ONLY=1  only re-print the table of the runs already in OUT
# Takes about a minute per seed in the dev profile on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
SEEDS=${1:-6}
OUT=${OUT:-target/compare_seeds}
mkdir -p "$OUT"
if [ "${SUMMARY_ONLY:-0}" = 1 ]; then SEEDS=0; else : > "$OUT/runs.jsonl"; fi
[ "$SEEDS" = 0 ] || : > "$OUT/verdicts.txt"
for s in $(seq 0 $((SEEDS - 1))); do
  echo "seed $s: $(uptime)" >&2
  if [ -n "${COMPARE:-}" ]; then
    line=$("$COMPARE" --json --seed "$s" --out "$OUT/seed$s" | tail -n 1)
  else
    line=$(cargo run --quiet --example compare -- --json --seed "$s" --out "$OUT/seed$s" | tail -n 1)
  fi
  echo "$line" >> "$OUT/runs.jsonl"
  python3 .ci/check_compare.py "$line" >> "$OUT/verdicts.txt" || true
done
python3 - "$OUT/runs.jsonl" "$OUT/verdicts.txt" <<'PY'
import json, statistics, sys
from collections import defaultdict
runs = defaultdict(list)
for line in open(sys.argv[1]):
    for m in json.loads(line)["methods"]:
        runs[m["name"]].append(m)
met, judged = defaultdict(int), set()
for line in open(sys.argv[2]):
    verdict, _, rest = line.partition(" ")
    if verdict in ("ok", "FAIL"):
        name = rest.strip().split(":")[0]
        judged.add(name)
        met[name] += verdict == "ok"
keys = ["rmse_in", "coverage95_in", "epi_ratio", "alea_corr"]
print("| method | seeds | " + " | ".join(keys) + " | bars met |")
print("| --- | --- | " + " | ".join("---" for _ in keys) + " | --- |")
for name, rs in runs.items():
    cell = lambda k: f"{statistics.mean(r[k] for r in rs):.3f} ± {statistics.stdev(r[k] for r in rs):.3f}" if len(rs) > 1 else f"{rs[0][k]:.3f}"
    bars = f"{met[name]} of {len(rs)}" if name in judged else "no bar"
    print(f"| {name} | {len(rs)} | " + " | ".join(cell(k) for k in keys) + f" | {bars} |")
PY
