"""The arithmetic floor of the T = 100 predictive: this machine's single-core SGEMM rate at
[10000, 64] x [64, 64] (numpy/OpenBLAS, 1 thread), and the workload's FLOPs divided by it.

usage: python bench/sgemm_floor.py   (run it with the peers' venv; sets 1 thread before numpy loads)
"""
import os

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = "1"
if hasattr(os, "sched_setaffinity"):
    os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[:1])

import json
import statistics
import time

import numpy as np

T, N, H = 100, 10_000, 64
rng = np.random.default_rng(0)
a = rng.standard_normal((N, H), dtype=np.float32)
b = rng.standard_normal((H, H), dtype=np.float32)
out = np.empty((N, H), dtype=np.float32)
for _ in range(20):  # warm up
    np.matmul(a, b, out=out)
rates = []
for _ in range(7):
    reps = 200
    t0 = time.perf_counter()
    for _ in range(reps):
        np.matmul(a, b, out=out)
    dt = time.perf_counter() - t0
    rates.append(2 * N * H * H * reps / dt)
rate = statistics.median(rates)
# MLP 1-64-64-1 on T x N points: 2*(1*64 + 64*64 + 64*1) FLOPs per point and pass
flops = 2 * T * N * (1 * H + H * H + H * 1)
print(json.dumps(dict(sgemm_gflops=round(rate / 1e9, 2), workload_gflop=round(flops / 1e9, 3),
                      floor_s=round(flops / rate, 4), numpy=np.__version__,
                      load=os.getloadavg()[0])))
