"""Checks the JSON lines of `examples/digits_cnn.rs` and `examples/vae.rs` on mnist5k against
issue 4's bars: each CNN >= 96 % test accuracy, ECE <= 0.04, mean mutual information on noise
images >= 3x that on test digits, each model in under 5 minutes; the binarized-digit VAE's test
IWAE (k = 100) bound >= -105 nats per image."""
import json
import sys

kind, line = sys.argv[1], sys.argv[2]
r = json.loads(line)
failed = False
if kind == "digits":
    if "mnist" not in r["data"]:
        print(f"FAIL data {r['data']!r}: the bars are for mnist5k")
        sys.exit(1)
    for m in r["models"]:
        checks = [
            (m["accuracy"] >= 0.96, f"accuracy {m['accuracy']:.4f} (>= 0.96)"),
            (m["ece"] <= 0.04, f"ece {m['ece']:.4f} (<= 0.04)"),
            (m["mi_ratio_noise"] >= 3, f"mi_ratio_noise {m['mi_ratio_noise']:.2f} (>= 3)"),
        ]
        ok = all(c for c, _ in checks)
        failed |= not ok
        print(f"{'ok  ' if ok else 'FAIL'} {m['name']}: " + ", ".join(t for _, t in checks) + f"; train_s {m['train_s']:.0f}")
elif kind == "vae":
    ok = r["test_iwae100"] >= -105 and "mnist" in r["data"]
    failed = not ok
    print(f"{'ok  ' if ok else 'FAIL'} VAE on {r['data']}: test_iwae100 {r['test_iwae100']:.2f} (>= -105), "
          f"test_elbo {r['test_elbo']:.2f}, train_s {r['train_s']:.0f}")
else:
    print(f"unknown kind {kind!r}")
    failed = True
sys.exit(1 if failed else 0)
