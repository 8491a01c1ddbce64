#!/usr/bin/env python3
"""The eight posteriordb posteriors of examples/posteriordb.rs in NumPyro, with the same figures.

Per posterior: the worst |mean - reference| in combined MCSEs (this run's MCSE and the
reference's sd / sqrt(n)), the worst relative sd error, the largest R-hat, divergences and ESS
per second (smallest bulk ESS over the wall time, warmup and compilation included). Same
settings as the Rust example: NUTS, 4 chains x 1000 draws after 1000 warmup, x64.

Run in the peers' venv (/work/venv-numpyro: jax[cpu]==0.10.2, numpyro==0.22.0, built as
/work/shared/bench/peers/README.md says):
    /work/venv-numpyro/bin/python bench/posteriordb_numpyro.py [--only NAME | --cheap] [--json]
        [--out FILE] [--repeats N] [--seed N] [--draws N] [--data DIR]
--repeats N runs seeds seed..seed+N-1 and reports each figure's median; --out FILE writes the
rows as JSON for `cargo run --release --example posteriordb -- --numpyro FILE` (or run both with
bench/posteriordb_side_by_side.sh). All eight once take about 3.5 min on the 2-core dev machine
(under load; diamonds 27 s, the others 18-36 s each, most of it XLA compilation).
"""
import argparse
import json
import math
import os
import time

import numpy as np

import jax

jax.config.update("jax_enable_x64", True)
import jax.numpy as jnp  # noqa: E402
import numpyro  # noqa: E402
import numpyro.distributions as dist  # noqa: E402
from numpyro.diagnostics import effective_sample_size, split_gelman_rubin  # noqa: E402
from numpyro.infer import MCMC, NUTS  # noqa: E402

numpyro.set_host_device_count(4)

FLAT = dist.ImproperUniform
# The order of examples/posteriordb.rs: the four cheap ones first.
ALL = (
    "eight_schools-eight_schools_noncentered",
    "kidiq-kidscore_momhs",
    "sblrc-blr",
    "earnings-logearn_height",
    "nes1972-nes",
    "gp_pois_regr-gp_pois_regr",
    "garch-garch11",
    "diamonds-diamonds",
)


def linear_model(x, y, prior):
    k = x.shape[1]
    if prior == "blr":
        beta = numpyro.sample("beta", dist.Normal(0.0, 10.0).expand([k]).to_event(1))
        sigma = numpyro.sample("sigma", dist.HalfNormal(10.0))
    else:
        beta = numpyro.sample("beta", FLAT(dist.constraints.real, (), (k,)))
        if prior == "half_cauchy":
            sigma = numpyro.sample("sigma", dist.HalfCauchy(2.5))
        else:
            sigma = numpyro.sample("sigma", FLAT(dist.constraints.positive, (), ()))
    numpyro.sample("y", dist.Normal(x @ beta, sigma), obs=y)


def eight_schools(y, sigma):
    theta_trans = numpyro.sample("theta_trans", dist.Normal(0.0, 1.0).expand([len(y)]).to_event(1))
    mu = numpyro.sample("mu", dist.Normal(0.0, 5.0))
    tau = numpyro.sample("tau", dist.HalfCauchy(5.0))
    theta = numpyro.deterministic("theta", theta_trans * tau + mu)
    numpyro.sample("y", dist.Normal(theta, sigma), obs=y)


def gp_pois_regr(x, k):
    rho = numpyro.sample("rho", dist.Gamma(25.0, 4.0))
    alpha = numpyro.sample("alpha", dist.HalfNormal(2.0))
    f_tilde = numpyro.sample("f_tilde", dist.Normal(0.0, 1.0).expand([len(x)]).to_event(1))
    d = x[:, None] - x[None, :]
    cov = alpha**2 * jnp.exp(-(d**2) / (2 * rho**2)) + 1e-10 * jnp.eye(len(x))
    f = numpyro.deterministic("f", jnp.linalg.cholesky(cov) @ f_tilde)
    numpyro.sample("k", dist.Poisson(jnp.exp(f)), obs=k)


def garch11(y, sigma1):
    mu = numpyro.sample("mu", FLAT(dist.constraints.real, (), ()))
    alpha0 = numpyro.sample("alpha0", FLAT(dist.constraints.positive, (), ()))
    alpha1 = numpyro.sample("alpha1", FLAT(dist.constraints.unit_interval, (), ()))
    beta1_raw = numpyro.sample("beta1_raw", FLAT(dist.constraints.unit_interval, (), ()))
    beta1 = numpyro.deterministic("beta1", beta1_raw * (1 - alpha1))
    numpyro.factor("beta1_jacobian", jnp.log1p(-alpha1))

    def step(prev, y_prev):
        s = jnp.sqrt(alpha0 + alpha1 * (y_prev - mu) ** 2 + beta1 * prev**2)
        return s, s

    _, rest = jax.lax.scan(step, sigma1, y[:-1])
    sigma = jnp.concatenate([jnp.array([sigma1]), rest])
    numpyro.sample("y", dist.Normal(mu, sigma), obs=y)


def diamonds(xc, y):
    b = numpyro.sample("b", dist.Normal(0.0, 1.0).expand([xc.shape[1]]).to_event(1))
    intercept = numpyro.sample("Intercept", dist.StudentT(3.0, 8.0, 10.0))
    sigma = numpyro.sample("sigma", FLAT(dist.constraints.positive, (), ()))
    numpyro.factor("sigma_prior", dist.StudentT(3.0, 0.0, 10.0).log_prob(sigma) + math.log(2.0))
    numpyro.sample("Y", dist.Normal(intercept + xc @ b, sigma), obs=y)


def build(name, d):
    a = lambda k: jnp.asarray(d[k], dtype=jnp.float64)  # noqa: E731
    if name.startswith("eight_schools"):
        return eight_schools, (a("y"), a("sigma"))
    if name.startswith("kidiq"):
        x = jnp.stack([jnp.ones(d["N"]), a("mom_hs")], 1)
        return linear_model, (x, a("kid_score"), "half_cauchy")
    if name.startswith("earnings"):
        x = jnp.stack([jnp.ones(d["N"]), a("height")], 1)
        return linear_model, (x, jnp.log(a("earn")), "flat")
    if name.startswith("nes1972"):
        age = np.asarray(d["age_discrete"])
        cols = [np.ones(d["N"]), d["real_ideo"], d["race_adj"], age == 2, age == 3, age == 4, d["educ1"], d["gender"], d["income"]]
        return linear_model, (jnp.asarray(np.stack(cols, 1), dtype=jnp.float64), a("partyid7"), "flat")
    if name.startswith("sblrc"):
        return linear_model, (a("X"), a("y"), "blr")
    if name.startswith("gp_pois_regr"):
        return gp_pois_regr, (a("x"), a("k"))
    if name.startswith("garch"):
        return garch11, (a("y"), float(d["sigma1"]))
    x = np.asarray(d["X"], dtype=np.float64)[:, 1:]
    return diamonds, (jnp.asarray(x - x.mean(0)), a("Y"))


def stan_names(samples):
    out = {}
    for k, v in samples.items():  # v: [chains, draws, ...]
        v = np.asarray(v)
        if v.ndim == 2:
            out[k] = v
        else:
            for i in range(v.shape[2]):
                out[f"{k}[{i + 1}]"] = v[:, :, i]
    return out


def run_one(name, refs, data_dir, seed, draws):
    """One NUTS run of one posterior against its reference: the figures of one table row."""
    file = name.split("-")[0]
    data = json.load(open(os.path.join(data_dir, "data", f"{file}.json")))
    model, model_args = build(name, data)
    mcmc = MCMC(NUTS(model), num_warmup=draws, num_samples=draws, num_chains=4, progress_bar=False)
    start = time.time()
    mcmc.run(jax.random.PRNGKey(seed), *model_args, extra_fields=("diverging",))
    seconds = time.time() - start
    named = stan_names(mcmc.get_samples(group_by_chain=True))
    mean_err = sd_err = rhat = 0.0
    ess = math.inf
    worst = ""
    for param, r in refs.items():
        x = named[param]
        n_eff = float(effective_sample_size(x))
        mcse = x.std() / math.sqrt(n_eff)
        z = abs(x.mean() - r["mean"]) / math.sqrt(mcse**2 + r["sd"] ** 2 / r["n"])
        if z > mean_err:
            worst = param
        mean_err = max(mean_err, z)
        sd_err = max(sd_err, abs(x.std(ddof=1) / r["sd"] - 1))
        rhat = max(rhat, float(split_gelman_rubin(x)))
        ess = min(ess, n_eff)
    div = int(np.asarray(mcmc.get_extra_fields()["diverging"]).sum())
    return dict(name=name, mean_err_mcse=mean_err, sd_rel_err=sd_err, rhat=rhat, divergences=div,
                ess_per_s=ess / seconds, seconds=seconds, worst=worst, seed=seed)


def median_row(runs):
    """Per figure, the median over the runs (seeds); `runs` keeps each run's row."""
    row = dict(name=runs[0]["name"], seeds=[r["seed"] for r in runs])
    for key in ("mean_err_mcse", "sd_rel_err", "rhat", "divergences", "ess_per_s", "seconds"):
        row[key] = float(np.median([r[key] for r in runs]))
    row["worst"] = max(runs, key=lambda r: r["mean_err_mcse"])["worst"]
    row["runs"] = runs
    return row


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--only", help="a posterior name or its prefix, e.g. garch")
    p.add_argument("--cheap", action="store_true", help="the four cheap posteriors .ci/run checks on the Rust side")
    p.add_argument("--json", action="store_true", help="print the rows as one JSON line at the end")
    p.add_argument("--out", help="write the rows as JSON to this file (examples/posteriordb.rs --numpyro FILE)")
    p.add_argument("--data", default=os.path.join(os.path.dirname(__file__), "../../shared/data/posteriordb"))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--repeats", type=int, default=1, help="runs per posterior (seeds seed, seed+1, ...); medians")
    p.add_argument("--draws", type=int, default=1000, help="kept draws and warmup per chain")
    args = p.parse_args()
    ref_path = os.path.join(args.data, "reference.json")
    if not os.path.exists(ref_path):
        print(f"posteriordb skipped: {args.data} is absent")
        return
    reference = json.load(open(ref_path))
    cheap = ALL[:4]
    print(f"{'posterior':<40} {'mean/MCSE':>10} {'sd err':>8} {'R-hat':>7} {'div':>5} {'ESS/s':>9} {'time s':>8}  worst mean",
          flush=True)
    rows = []
    for name in ALL:
        refs = reference[name]
        if args.only and not name.startswith(args.only):
            continue
        if args.cheap and not name.startswith(cheap):
            continue
        runs = [run_one(name, refs, args.data, args.seed + i, args.draws) for i in range(args.repeats)]
        row = median_row(runs) if args.repeats > 1 else runs[0]
        rows.append(row)
        print(f"{name:<40} {row['mean_err_mcse']:>10.2f} {100 * row['sd_rel_err']:>7.1f}% {row['rhat']:>7.3f} "
              f"{row['divergences']:>5.0f} {row['ess_per_s']:>9.1f} {row['seconds']:>8.1f}  {row['worst']}", flush=True)
    if args.out:
        with open(args.out, "w") as f:
            json.dump(rows, f)
    if args.json:
        print(json.dumps(rows))


if __name__ == "__main__":
    main()
