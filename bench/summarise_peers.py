"""Medians of bench_toy and peer runs, and the ratios issue 9's bars use (stdlib only).

usage: python bench/summarise_peers.py OURS.jsonl PEERS.jsonl
"""
import json
import statistics
import sys

FIELDS = ["steps_per_s", "pred_s", "rmse_in", "sd_in", "sd_out", "train_s"]
# NumPyro's pred_s is its second (warm) call; ours against it is our second call too
# (bench_toy's pred_warm_s). Against the PyTorch peers, who time their first call, ours is our first.
# The BBB peers whose quality spans "the peers' range" (bayesian-torch with its own averaged KL
# is left out: that variant nearly ignores the prior, see the peers' README).
BBB_PEERS = ["bbb_toy_blitz", "bbb_toy_bayesiantorch_reparam", "bbb_toy_bayesiantorch_flipout", "numpyro_bnn"]


def load(path):
    runs = {}
    for line in open(path):
        line = line.strip()
        if not line.startswith("{"):
            continue
        r = json.loads(line)
        name = r["bench"]
        if r.get("kl") == "library":
            name += "_kl_library"
        runs.setdefault(name, []).append(r)
    return runs


def medians(runs):
    out = {}
    for name, rs in runs.items():
        keys = set(FIELDS) | {"steps_per_s_warm", "pred_warm_s"}
        out[name] = {k: statistics.median(r[k] for r in rs) for k in keys if all(k in r for r in rs)}
        out[name]["runs"] = len(rs)
    return out


def main():
    ours, peers = medians(load(sys.argv[1])), medians(load(sys.argv[2]))
    print("| bench | runs | steps/s | pred_s (warm) | rmse_in | sd_in | sd_out |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for side, table in (("bayesburn", ours), ("peer", peers)):
        for name, m in table.items():
            sps = f"{m['steps_per_s']:.0f}"
            if "steps_per_s_warm" in m:
                sps += f" ({m['steps_per_s_warm']:.0f} warm)"
            pred = f"{m['pred_s']:.3f}"
            if "pred_warm_s" in m:
                pred += f" ({m['pred_warm_s']:.3f})"
            print(f"| {side} {name} | {m['runs']} | {sps} | {pred} | {m['rmse_in']:.2f} "
                  f"| {m['sd_in']:.2f} | {m['sd_out']:.2f} |")
    print()

    def get(table, name, key):
        return table.get(name, {}).get(key)

    bars = [
        ("bbb_reparam steps/s / NumPyro warm", ("bbb_reparam", "steps_per_s"), ("numpyro_bnn", "steps_per_s_warm"), ">=", 2.0),
        ("bbb_reparam steps/s / bayesian-torch reparam", ("bbb_reparam", "steps_per_s"), ("bbb_toy_bayesiantorch_reparam", "steps_per_s"), ">=", 3.0),
        ("bbb_flipout steps/s / NumPyro warm", ("bbb_flipout", "steps_per_s"), ("numpyro_bnn", "steps_per_s_warm"), ">=", 2.0),
        ("bbb_flipout steps/s / bayesian-torch flipout", ("bbb_flipout", "steps_per_s"), ("bbb_toy_bayesiantorch_flipout", "steps_per_s"), ">=", 3.0),
        ("bbb_reparam pred_warm_s / NumPyro warm pred_s", ("bbb_reparam", "pred_warm_s"), ("numpyro_bnn", "pred_s"), "<=", 1.10),
        ("bbb_flipout pred_warm_s / NumPyro warm pred_s", ("bbb_flipout", "pred_warm_s"), ("numpyro_bnn", "pred_s"), "<=", 1.10),
        ("bbb_reparam pred_s (first call) / NumPyro warm pred_s", ("bbb_reparam", "pred_s"), ("numpyro_bnn", "pred_s"), "<=", 1.10),
        ("mcdropout pred_s / PyTorch MC dropout", ("mcdropout", "pred_s"), ("mcdropout_toy", "pred_s"), "<=", 0.10),
        ("ensemble member-steps/s / PyTorch ensemble", ("ensemble", "steps_per_s"), ("ensemble_toy", "steps_per_s"), ">=", 3.0),
    ]
    print("| ratio | value | bar | met |")
    print("| --- | --- | --- | --- |")
    for label, (on, ok), (pn, pk), op, bar in bars:
        a, b = get(ours, on, ok), get(peers, pn, pk)
        if a is None or b is None:
            print(f"| {label} | missing | {op} {bar} | - |")
            continue
        ratio = a / b
        met = ratio >= bar if op == ">=" else ratio <= bar
        print(f"| {label} | {ratio:.2f} | {op} {bar} | {'yes' if met else 'NO'} |")
    print()

    print("| quality | ours | peers | within |")
    print("| --- | --- | --- | --- |")
    for name in ("bbb_reparam", "bbb_flipout"):
        for key in ("rmse_in", "sd_in", "sd_out"):
            vals = [get(peers, p, key) for p in BBB_PEERS if get(peers, p, key) is not None]
            v = get(ours, name, key)
            if v is None or not vals:
                continue
            lo, hi = min(vals), max(vals)
            # rmse: lower is better, so below the range is within it too
            ok = (v <= hi) if key == "rmse_in" else (lo <= v <= hi)
            print(f"| {name} {key} | {v:.2f} | {lo:.2f}-{hi:.2f} (BBB peers) | {'yes' if ok else 'NO'} |")
    for name, peer in (("mcdropout", "mcdropout_toy"), ("ensemble", "ensemble_toy")):
        for key in ("rmse_in", "sd_in", "sd_out"):
            v, p = get(ours, name, key), get(peers, peer, key)
            if v is None or p is None:
                continue
            print(f"| {name} {key} | {v:.2f} | {p:.2f} ({peer}) | ratio {v / p:.2f} |")


if __name__ == "__main__":
    main()
