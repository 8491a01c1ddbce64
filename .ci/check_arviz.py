"""Opens the ArviZ JSON of `examples/eight_schools.rs --arviz PATH` (`McmcSamples::save_arviz_json`)
with arviz and checks it: `arviz.from_dict` gives an InferenceData whose posterior and
sample_stats have `chain` and `draw` dimensions of the run's sizes, the sites have their own
axes (`theta_tilde` and the deterministic `theta`: 8 schools), and ArviZ's own diagnostics of the
draws agree with bayesburn's (`rhat_max`, `ess_bulk_min`, `mu_mean`, `tau_mean` of the example's
JSON line): the same estimators (Vehtari et al. 2021), so they agree up to the line's rounding
(5 decimals for R-hat and the means, 1 for the ESS).

usage: check_arviz.py ARVIZ_JSON EXAMPLE_JSON_LINE
"""
import json
import sys

import arviz as az
import numpy as np

with open(sys.argv[1]) as f:
    d = json.load(f)
r = json.loads(sys.argv[2])

groups = {k: {n: np.asarray(v) for n, v in d[k].items()} for k in ("posterior", "sample_stats")}
idata = az.from_dict(posterior=groups["posterior"], sample_stats=groups["sample_stats"], dims=d["dims"])
post, stats = idata.posterior, idata.sample_stats
chains, draws = d["attrs"]["num_chains"], d["attrs"]["num_draws"]
checks = [
    (post.sizes["chain"] == chains and post.sizes["draw"] == draws,
     f"posterior chain x draw {post.sizes['chain']} x {post.sizes['draw']} ({chains} x {draws})"),
    (stats.sizes["chain"] == chains and stats.sizes["draw"] == draws, "sample_stats chain x draw"),
    (set(post.data_vars) == {"mu", "tau", "theta_tilde", "theta"}, f"posterior variables {sorted(post.data_vars)}"),
    (post["theta"].shape == (chains, draws, 8) and post["theta"].dims[2] == "theta_dim_0",
     f"theta {post['theta'].shape} {post['theta'].dims}"),
    (post["tau"].shape == (chains, draws) and float(post["tau"].min()) > 0, "tau scalar per draw, positive"),
    (stats["diverging"].dtype == bool and {"energy", "tree_depth", "lp"} <= set(stats.data_vars),
     "sample_stats diverging (bool), energy, tree_depth, lp"),
]
# theta is mu + tau * theta_tilde, recomputed per draw.
theta = post["mu"].values[..., None] + post["tau"].values[..., None] * post["theta_tilde"].values
checks.append((np.allclose(theta, post["theta"].values, rtol=1e-12, atol=1e-12), "theta = mu + tau theta_tilde"))
# ArviZ's diagnostics of the same draws against bayesburn's (mu, tau, theta_tilde).
sub = post[["mu", "tau", "theta_tilde"]]
rhat_max = float(max(az.rhat(sub)[v].max() for v in sub.data_vars))
ess_min = float(min(az.ess(sub, method="bulk")[v].min() for v in sub.data_vars))
mu, tau = float(post["mu"].mean()), float(post["tau"].mean())
checks += [
    (abs(rhat_max - r["rhat_max"]) <= 1e-5, f"R-hat max arviz {rhat_max:.6f}, bayesburn {r['rhat_max']:.5f}"),
    (abs(ess_min - r["ess_bulk_min"]) <= 0.1, f"bulk ESS min arviz {ess_min:.2f}, bayesburn {r['ess_bulk_min']:.1f}"),
    (abs(mu - r["mu_mean"]) <= 1e-5, f"mean of mu arviz {mu:.6f}, bayesburn {r['mu_mean']:.5f}"),
    (abs(tau - r["tau_mean"]) <= 1e-5, f"mean of tau arviz {tau:.6f}, bayesburn {r['tau_mean']:.5f}"),
]
print(az.summary(idata, var_names=["mu", "tau"]))
ok = all(c for c, _ in checks)
for c, t in checks:
    print(f"{'ok  ' if c else 'FAIL'} {t}")
sys.exit(0 if ok else 1)
