"""Checks the JSON line of `examples/compare.rs` against issue 3's bars (seed 0)."""
import json
import sys

r = json.loads(sys.argv[1])
# name prefix -> (minimum epistemic ratio outside/inside, maximum RMSE in range)
bars = {"BBB": (2.0, 0.25), "MC dropout": (1.8, 0.15), "Deep ensemble": (3.0, 0.15)}
failed = False
for m in r["methods"]:
    bar = next((v for k, v in bars.items() if m["name"].startswith(k)), None)
    if bar is None:
        # Methods added after issue 3 (SWAG, Laplace) have no bar of their own: reported, not judged.
        print(f"--   {m['name']}: no bar; epi_ratio {m['epi_ratio']:.2f}, rmse_in {m['rmse_in']:.3f}, coverage95_in {m['coverage95_in']:.3f}")
        continue
    min_ratio, max_rmse = bar
    checks = [
        (m["alea_corr"] >= 0.85, f"alea_corr {m['alea_corr']:.3f} (>= 0.85)"),
        (0.85 <= m["coverage95_in"] <= 0.99, f"coverage95_in {m['coverage95_in']:.3f} (0.85-0.99)"),
        (m["epi_ratio"] >= min_ratio, f"epi_ratio {m['epi_ratio']:.2f} (>= {min_ratio})"),
        (m["rmse_in"] <= max_rmse, f"rmse_in {m['rmse_in']:.3f} (<= {max_rmse})"),
    ]
    ok = all(c for c, _ in checks)
    failed |= not ok
    print(f"{'ok  ' if ok else 'FAIL'} {m['name']}: " + ", ".join(t for _, t in checks))
print(f"total_s {r['total_s']:.1f}")
sys.exit(1 if failed else 0)
