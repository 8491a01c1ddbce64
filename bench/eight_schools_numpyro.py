"""Eight schools (non-centered) in NumPyro: the reference for tests/it/mcmc.rs and the ESS/s peer
of examples/eight_schools.rs.

    python bench/eight_schools_numpyro.py --reference   # 4 x 50 000 draws: posterior means + MCSE
    python bench/eight_schools_numpyro.py --bench       # 4 x 1 000 draws, 1 000 warmup, timed twice

Both print one JSON line. tests/it/mcmc.rs pools three `--reference` runs (seeds 0, 1, 2). Thread pinning is the peers' (`../shared/bench/peers/common.py`:
`--threads 1` pins the process to one CPU and sets XLA to one intra-op thread); chains run one
after the other (`chain_method="sequential"`), as NumPyro does on a single CPU device.

The model is the one tests/it/mcmc.rs writes by hand:
mu ~ N(0, 5), tau ~ HalfCauchy(5), theta_tilde_j ~ N(0, 1), theta_j = mu + tau * theta_tilde_j,
y_j ~ N(theta_j, sigma_j); NumPyro samples tau on log scale (exp transform, Jacobian included).

Bulk ESS and R-hat follow Vehtari et al. (2021): chains split in halves, pooled ranks, normal
scores (r - 3/8) / (S + 1/4), then NumPyro's Geyer initial-monotone ESS (`effective_sample_size`)
and split R-hat (`split_gelman_rubin`) on the normal scores; the R-hat is the max of the bulk and
the folded (|x - median|) versions, as in the paper and in bayesburn's `diagnostics`.
"""
import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "bench", "peers"))
try:
    from common import setup_threads
except ImportError:  # the peers' folder is absent: pin the same way here
    def setup_threads(n):
        for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
            os.environ[var] = str(n)
        xla = f"--xla_cpu_multi_thread_eigen={'false' if n == 1 else 'true'} intra_op_parallelism_threads={n}"
        os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " " + xla).strip()
        os.environ.setdefault("JAX_PLATFORMS", "cpu")
        if hasattr(os, "sched_setaffinity"):
            os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[:n])

p = argparse.ArgumentParser()
p.add_argument("--threads", type=int, default=1)
p.add_argument("--seed", type=int, default=0)
mode = p.add_mutually_exclusive_group(required=True)
mode.add_argument("--reference", action="store_true", help="long run: 4 chains x 50 000 draws")
mode.add_argument("--bench", action="store_true", help="the issue's setting, timed (second, warm run)")
p.add_argument("--draws", type=int, default=None)
p.add_argument("--warmup", type=int, default=None)
p.add_argument("--chains", type=int, default=4)
p.add_argument("--chain-method", default="sequential", choices=["sequential", "vectorized"])
args = p.parse_args()
setup_threads(args.threads)

import jax  # noqa: E402  (after the thread setup)
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import numpyro  # noqa: E402
import numpyro.distributions as dist  # noqa: E402
from numpyro.diagnostics import effective_sample_size, split_gelman_rubin  # noqa: E402
from numpyro.infer import MCMC, NUTS  # noqa: E402
from scipy.special import ndtri  # noqa: E402
from scipy.stats import rankdata  # noqa: E402

Y = np.array([28.0, 8.0, -3.0, 7.0, -1.0, 1.0, 18.0, 12.0])
SIGMA = np.array([15.0, 10.0, 16.0, 11.0, 9.0, 11.0, 10.0, 18.0])


def eight_schools(sigma, y):
    mu = numpyro.sample("mu", dist.Normal(0.0, 5.0))
    tau = numpyro.sample("tau", dist.HalfCauchy(5.0))
    with numpyro.plate("J", len(sigma)):
        theta_tilde = numpyro.sample("theta_tilde", dist.Normal(0.0, 1.0))
        numpyro.sample("obs", dist.Normal(mu + tau * theta_tilde, sigma), obs=y)


def split(x):
    """[chains, draws] -> [2 chains, draws // 2] (Vehtari et al. 2021, split chains)."""
    half = x.shape[1] // 2
    return np.concatenate([x[:, :half], x[:, x.shape[1] - half:]], axis=0)


def normal_scores(x):
    r = rankdata(x.reshape(-1), method="average").reshape(x.shape)
    return ndtri((r - 0.375) / (x.size + 0.25))


def bulk_ess(x):
    return float(effective_sample_size(normal_scores(split(x))))


def rhat(x):
    bulk = split_gelman_rubin(normal_scores(x))
    folded = split_gelman_rubin(normal_scores(np.abs(x - np.median(x))))
    return float(max(bulk, folded))


def columns(samples):
    """Every scalar parameter as a [chains, draws] array, named."""
    out = {"mu": np.asarray(samples["mu"]), "tau": np.asarray(samples["tau"])}
    tt = np.asarray(samples["theta_tilde"])
    for j in range(tt.shape[2]):
        out[f"theta_tilde[{j}]"] = tt[:, :, j]
    return out


def run(num_warmup, num_samples, seed):
    mcmc = MCMC(NUTS(eight_schools), num_warmup=num_warmup, num_samples=num_samples, num_chains=args.chains,
                chain_method=args.chain_method, progress_bar=False, jit_model_args=True)
    t0 = time.perf_counter()
    mcmc.run(jax.random.PRNGKey(seed), SIGMA, Y, extra_fields=("diverging",))
    jax.block_until_ready(mcmc.get_samples())
    return mcmc, time.perf_counter() - t0


def summary(mcmc):
    cols = columns(mcmc.get_samples(group_by_chain=True))
    ess = {k: bulk_ess(v) for k, v in cols.items()}
    out = dict(
        rhat_max=max(rhat(v) for v in cols.values()),
        ess_bulk_min=min(ess.values()),
        divergences=int(np.asarray(mcmc.get_extra_fields()["diverging"]).sum()),
    )
    for k in ("mu", "tau"):
        v = cols[k]
        # MCSE of the mean = sd / sqrt(ESS of the mean), ESS from the raw (not rank-normalized)
        # split chains, as Stan's and ArviZ's mcse_mean.
        ess_mean = float(effective_sample_size(split(v)))
        out[f"{k}_mean"] = float(v.mean())
        out[f"{k}_sd"] = float(v.std(ddof=1))
        out[f"{k}_mcse"] = float(v.std(ddof=1) / np.sqrt(ess_mean))
    return out


versions = dict(jax=jax.__version__, numpyro=numpyro.__version__, numpy=np.__version__,
                python=sys.version.split()[0], threads=args.threads, seed=args.seed, chains=args.chains,
                chain_method=args.chain_method)
if args.reference:
    warmup, draws = args.warmup or 2000, args.draws or 50_000
    mcmc, secs = run(warmup, draws, args.seed)
    out = dict(bench="eight_schools_numpyro_reference", warmup=warmup, draws=draws, seconds=secs)
    out.update(summary(mcmc))
else:
    warmup, draws = args.warmup or 1000, args.draws or 1000
    _, first = run(warmup, draws, args.seed)
    mcmc, secs = run(warmup, draws, args.seed + 1)
    s = summary(mcmc)
    # MCMC.run recompiles on every call (fori_collect jits a fresh closure per chain), so the
    # "second run" above still pays XLA compilation. The compiled sampler's own speed: the same
    # NUTS kernel (warmup adaptation included) as one jitted lax.scan, compiled once, timed on
    # its second call; chains one after the other.
    from jax import lax  # noqa: E402

    kernel = NUTS(eight_schools)
    model_args = (SIGMA, Y)

    def init(key):
        return kernel.init(key, warmup, None, model_args, {})

    @jax.jit
    def chain(state):
        def step(st, _):
            st = kernel.sample(st, model_args, {})
            return st, (st.z["mu"], jnp.exp(st.z["tau"]), st.z["theta_tilde"], st.diverging)
        return lax.scan(step, state, None, length=warmup + draws)[1]

    def scan_run(seed):
        keys = jax.random.split(jax.random.PRNGKey(seed), args.chains)
        states = [init(k) for k in keys]
        t0 = time.perf_counter()
        outs = [jax.block_until_ready(chain(st)) for st in states]
        return outs, time.perf_counter() - t0

    scan_run(args.seed + 2)
    outs, scan_s = scan_run(args.seed + 3)
    cols = {"mu": np.stack([np.asarray(o[0])[warmup:] for o in outs]),
            "tau": np.stack([np.asarray(o[1])[warmup:] for o in outs])}
    tt = np.stack([np.asarray(o[2])[warmup:] for o in outs])
    for j in range(tt.shape[2]):
        cols[f"theta_tilde[{j}]"] = tt[:, :, j]
    scan_ess = min(bulk_ess(v) for v in cols.values())
    out = dict(bench="eight_schools_numpyro", warmup=warmup, draws=draws, first_s=first, seconds=secs,
               ess_per_s=s["ess_bulk_min"] / secs, compiled_seconds=scan_s, compiled_ess_bulk_min=scan_ess,
               compiled_ess_per_s=scan_ess / scan_s,
               compiled_divergences=int(sum(np.asarray(o[3])[warmup:].sum() for o in outs)))
    out.update(s)
out.update(versions)
print(json.dumps({k: (round(v, 5) if isinstance(v, float) else v) for k, v in out.items()}))
