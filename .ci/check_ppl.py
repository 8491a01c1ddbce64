"""Checks the JSON line of `examples/ppl_regression.rs` (conjugate Bayesian linear regression,
d = 5, known noise) against issue 5's bars: NUTS means within 4 Monte-Carlo standard errors of
the exact posterior and sds within 10 %; AutoNormal SVI means within 2 % and variances within
5 % of the closed-form mean-field optimum; AutoMultivariateNormal covariance within 5 %
(relative Frobenius) of the exact covariance."""
import json
import sys

r = json.loads(sys.argv[1])
bars = [
    ("nuts_mean_err_mcse_max", 4.0, "MCSE"),
    ("nuts_sd_rel_err_max", 0.10, "relative"),
    ("svi_mean_rel_err_max", 0.02, "relative"),
    ("svi_var_rel_err_max", 0.05, "relative"),
    ("mvn_cov_rel_err", 0.05, "relative Frobenius"),
]
failed = False
for key, bar, unit in bars:
    if key not in r:
        print(f"FAIL {key} missing from the JSON line")
        failed = True
        continue
    ok = r[key] <= bar
    failed |= not ok
    print(f"{'ok  ' if ok else 'FAIL'} {key} {r[key]:.4f} (<= {bar}, {unit})")
sys.exit(1 if failed else 0)
