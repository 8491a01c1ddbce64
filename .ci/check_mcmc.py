"""Checks the JSON line of `examples/eight_schools.rs` (non-centered, 4 chains x 1000 draws)
against issue 5's bars: R-hat <= 1.01 for every parameter, divergences < 1 %, and the posterior
means of mu and tau within 4 Monte-Carlo standard errors of the exact values (2-D quadrature;
NumPyro's pooled 3 x 4 x 50 000 draws agree: mu 4.39514, tau 3.59378)."""
import json
import sys

EXACT_MU, EXACT_TAU = 4.39682, 3.59771
r = json.loads(sys.argv[1])
checks = [
    (r["rhat_max"] <= 1.01, f"rhat_max {r['rhat_max']:.4f} (<= 1.01)"),
    (r["divergence_rate"] < 0.01, f"divergence_rate {r['divergence_rate']:.4f} (< 0.01)"),
    (abs(r["mu_mean"] - EXACT_MU) <= 4 * r["mu_mcse"],
     f"mu {r['mu_mean']:.3f} (exact {EXACT_MU}, 4 MCSE = {4 * r['mu_mcse']:.3f})"),
    (abs(r["tau_mean"] - EXACT_TAU) <= 4 * r["tau_mcse"],
     f"tau {r['tau_mean']:.3f} (exact {EXACT_TAU}, 4 MCSE = {4 * r['tau_mcse']:.3f})"),
]
ok = all(c for c, _ in checks)
print(f"{'ok  ' if ok else 'FAIL'} eight schools: " + ", ".join(t for _, t in checks)
      + f"; ess_bulk_min {r['ess_bulk_min']:.0f}, ess_per_s {r['ess_per_s']:.0f}")
sys.exit(0 if ok else 1)
