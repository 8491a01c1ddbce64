#!/usr/bin/env bash
# The posteriordb posteriors in NumPyro and in bayesburn, one table side by side: NumPyro first
# (bench/posteriordb_numpyro.py in the peers' venv, rows to target/posteriordb_numpyro.json),
# then examples/posteriordb.rs --numpyro on that file. Both take the same flags and seeds.
#
# usage: bash bench/posteriordb_side_by_side.sh [--cheap | --only NAME] [--repeats 3] [--seed N] [--draws N]
#   PYTHON  the venv's python (default /work/venv-numpyro/bin/python; built as
#           /work/shared/bench/peers/README.md says: jax[cpu]==0.10.2, numpyro==0.22.0)
#   DATA    the posteriordb folder (default ../shared/data/posteriordb)
# Not in .ci/run (no venv there). On the 2-core dev machine at load 15 (docs/PERFORMANCE.md):
# NumPyro all eight once in 3.5 min; bayesburn --cheap in 5.7 min (release), gp_pois_regr
# 27 min (left open in issue 18). --repeats 3 triples both.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-/work/venv-numpyro/bin/python}
DATA=${DATA:-../shared/data/posteriordb}
mkdir -p target
echo "NumPyro ($PYTHON):"
"$PYTHON" bench/posteriordb_numpyro.py --data "$DATA" --out target/posteriordb_numpyro.json "$@"
echo
echo "bayesburn:"
cargo run --release --quiet --example posteriordb -- --data "$DATA" --numpyro target/posteriordb_numpyro.json "$@"
