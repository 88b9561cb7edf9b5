"""Liu et al. (2022), as in Kolber's slides "Theory vs Empirical" and "Grokking Time" (b):
trained toy models beside the effective theory.

1. Theory vs Empirical: toy models (1-D representation, the authors' defaults, seed 1)
   trained with a snapshot every 50 steps on ``--theory-sizes`` training pairs; the
   effective loss's gradient flow (:func:`grok_interp.theory.effective.effective_flow`)
   started from each network's own initial embeddings on its training pairs. Both end
   representations are standardised (mean 0, std 1, the sign fixed by E_9 - E_0 > 0) and
   compared symbol by symbol. At 45 pairs the linear representation is the only one the
   training set allows and the theory's rate is high (lambda_3 = 0.52 for seed 1's
   split), so both should end there; at 18 pairs the rate is small (0.09), the sharper
   test of whether the network follows the theory.
2. Grokking time against 1 / lambda_3: one sweep (OUT/sweep/, resumable, all runs
   stacked) over training-set sizes x seeds; for each run, lambda_3 of the Hessian of the
   effective loss on its own training pairs, and two times: t_rqi, the first evaluated
   step with RQI over all parallelograms >= 0.95 (the authors' ``iter_rqi``: the
   representation's formation, which the theory describes), and t_grok, the first with
   test accuracy >= 90% (which also needs the decoder, and which a split whose test pairs
   no training pair reaches never meets). The slides: "the grokking time is proportional
   to 1 / lambda_3". Measured: rank correlations and log-log slopes against 1 / lambda_3
   over the runs with lambda_3 > 0 that reached each time, under both normalisations of
   lambda_3 (:mod:`grok_interp.theory.effective`: the slides' 2 A^T A / |P_0(D)|, the
   authors' eig A^T A).
3. Trajectories: the network's standardised representation at every snapshot against
   the authors' effective flow under their own time map (``toy/train_add.py``: Z_0
   frozen, l_0 summed over quadruples, Euler step = the representation's learning rate
   1e-3, flow step t beside training step t); the largest per-symbol distance at equal
   steps, and at the flow step nearest the network's state.

Default (2-core CPU, about 5 minutes): p = 10, sizes 20..50 in steps of 5, 16 seeds each,
1e4 steps. Larger: ``--seeds 64 --steps 100000``.

    python examples/liu_toy_grokking_time.py OUT
"""

from pathlib import Path

from grok_interp.examples_cli import parser


def oriented(e):
    """Standardised 1-D representation with E_{p-1} - E_0 > 0 (the sign is arbitrary)."""
    z = (e - e.mean()) / e.std()
    return z if z[-1] > z[0] else -z


def standard(e):
    return (e - e.mean()) / e.std()


def trajectories(run, train_pairs):
    """The network's standardised 1-D representation at every snapshot beside the
    authors' effective flow (``toy/train_add.py``: from the standardised initial
    representation, Z_0 frozen, l_0 summed, step = the representation's learning rate,
    one flow step per training step): distance at equal steps, and the nearest flow
    state at any time."""
    import pandas as pd
    import torch

    from grok_interp.theory.effective import effective_flow

    lr = run.train.lr_embed
    e0 = standard(run.snapshots[0]["embed"].double()[:, 0])[:, None]
    steps = sorted(run.snapshots)
    flow = effective_flow(e0, train_pairs, steps=steps[-1], lr=lr, freeze_z0=True,
                          norm="authors", every=steps[1] - steps[0])  # fmt: skip
    th = torch.stack([standard(f[:, 0]) for f in flow])
    rows = []
    for n, s in enumerate(steps):
        net = standard(run.snapshots[s]["embed"].double()[:, 0])
        dist = (th - net).abs().max(1).values
        rows.append({"step": s, "max |net - flow| same step": float(dist[n]),
                     "nearest flow step": steps[int(dist.argmin())],
                     "max |net - flow| nearest": float(dist.min()),
                     "RQI net": rqi_1d(net, train_pairs), "RQI flow": rqi_1d(th[n], train_pairs)})
    return flow, pd.DataFrame(rows)


def rqi_1d(e, pairs):
    from grok_interp.analyses.representation import (
        representation_quality,
    )

    return representation_quality(e[:, None], pairs, pairs[:0], modulus=None).rqi


def theory_vs_network(out, steps, n_train):
    from grok_interp.analyses.representation import (
        representation_over_training,
    )
    from grok_interp.theory.effective import effective_flow
    from grok_interp.toy import toy_spec
    from grok_interp.training import train

    spec = toy_spec(epochs=steps, snapshot_every=50, n_train=n_train, seed=1)
    path = out / f"theory_vs_empirical_{n_train}.pt"
    run = train(spec, out=path, progress=False, overwrite=True)
    e0 = run.snapshots[0]["embed"].double()
    pairs = run.task.pairs()[run.train_idx]
    flow = effective_flow(e0, pairs, steps=4000, lr=0.5, every=50)
    nn_end, th_end = oriented(run.weights["embed"].double()[:, 0]), oriented(flow[-1][:, 0])
    rqi = representation_over_training(run)
    _, traj = trajectories(run, pairs)
    return run, flow, nn_end, th_end, rqi, traj


def main(argv=None):
    ap = parser(__doc__, quiet=True)
    ap.add_argument("--sizes", type=int, nargs="+", default=[20, 25, 30, 35, 40, 45, 50])
    ap.add_argument("--seeds", type=int, default=16)
    ap.add_argument("--steps", type=int, default=10_000)
    ap.add_argument("--theory-sizes", type=int, nargs="+", default=[45, 18])
    args = ap.parse_args(argv)
    import numpy as np
    import plotly.graph_objects as go
    from plotly.colors import sample_colorscale
    from plotly.subplots import make_subplots
    from scipy import stats

    from grok_interp.analyses.common import markdown
    from grok_interp.plots import write
    from grok_interp.sweeps import Grid, first_epoch, load_points, run_sweep
    from grok_interp.theory.effective import eigenvalues
    from grok_interp.toy import toy_spec

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    theory = {n: theory_vs_network(out, min(args.steps, 5000), n) for n in args.theory_sizes}
    run, flow, nn_end, th_end, rqi, _ = theory[args.theory_sizes[0]]

    base = toy_spec(epochs=args.steps, eval_every=10, snapshot_every=args.steps)
    grid = Grid(values={"train.n_train": args.sizes, "seed": list(range(args.seeds))}, base=base)
    table = run_sweep(grid, out / "sweep", progress=not args.quiet)
    runs = load_points(out / "sweep")
    for norm, col in (("slides", "lambda_3"), ("authors", "lambda_3_authors")):
        lam = [float(eigenvalues(r.task.pairs()[r.train_idx], r.task.p, norm=norm)[2])
               for r in runs]  # fmt: skip
        table[col] = np.maximum(lam, 0.0)
    table["t_grok"] = [first_epoch(r.history, "test_acc", lambda v: v >= 0.9) for r in runs]
    table["t_rqi"] = [first_epoch(r.history, "rqi_all", lambda v: v >= 0.95) for r in runs]
    fits = {}
    for col in ("lambda_3", "lambda_3_authors"):
        for key in ("t_rqi", "t_grok"):
            ok = table[(table[col] > 1e-8) & table[key].notna() & (table[key] > 0)]
            rho = slope = np.nan
            if len(ok) > 2:
                rho = stats.spearmanr(1 / ok[col], ok[key]).statistic
                slope = np.polyfit(np.log(1 / ok[col]), np.log(ok[key].astype(float)), 1)[0]
            fits[col, key] = (len(ok), rho, slope)
    ok = table[(table["lambda_3"] > 1e-8) & table["t_rqi"].notna()]
    per_size = table.groupby("train.n_train").agg(
        lambda_3=("lambda_3", "mean"), lambda_3_authors=("lambda_3_authors", "mean"),
        rqi_formed=("t_rqi", lambda s: s.notna().mean()),
        t_rqi_median=("t_rqi", "median"), grokked=("t_grok", lambda s: s.notna().mean()),
        t_grok_median=("t_grok", "median"),
    )  # fmt: skip

    fig = make_subplots(rows=1, cols=3, horizontal_spacing=0.09, subplot_titles=[
        "network: E_k over training", "effective theory: E_k under its flow",
        "RQI formation time vs 1 / lambda_3"])  # fmt: skip
    snaps = sorted(run.snapshots)
    p = run.task.p
    shades = sample_colorscale("Viridis", [k / max(p - 1, 1) for k in range(p)])
    for k, colour in zip(range(p), shades, strict=True):  # one shade per token, both panels
        line = {"color": colour}
        fig.add_trace(go.Scatter(x=snaps, y=[float(run.snapshots[s]["embed"][k, 0]) for s in snaps],
                                 name=f"E_{k}", line=line, legendgroup=f"E_{k}",
                                 legendgrouptitle_text="token k" if k == 0 else None),
                      row=1, col=1)  # fmt: skip
        fig.add_trace(go.Scatter(x=[50 * i for i in range(len(flow))],
                                 y=[float(e[k, 0]) for e in flow], name=f"E_{k}", line=line,
                                 legendgroup=f"E_{k}", showlegend=False),
                      row=1, col=2)  # fmt: skip
    fig.add_trace(go.Scatter(x=1 / ok["lambda_3"], y=ok["t_rqi"], mode="markers",
                             text=[f"n_train {n}" for n in ok["train.n_train"]],
                             name="runs", marker={"color": "black"}), row=1, col=3)  # fmt: skip
    if ok.empty:  # say why the panel is empty
        fig.add_annotation(text="no run formed its RQI<br>within the budget", showarrow=False,
                           x=0.5, y=0.5, xref="x3 domain", yref="y3 domain")  # fmt: skip
    fig.update_xaxes(title_text="step", row=1, col=1)
    fig.update_xaxes(title_text="flow step", row=1, col=2)
    fig.update_xaxes(title_text="1 / lambda_3", type="log", row=1, col=3)
    fig.update_yaxes(title_text="t_rqi (steps)", type="log", row=1, col=3)
    fig.update_layout(title="Toy model vs effective theory (Liu et al. 2022; slides: Theory "
                      "vs Empirical, Grokking Time)")  # fmt: skip

    text = ""
    for n, (r, _, a, b, q, traj) in theory.items():
        diff = (a - b).abs()
        lam3 = eigenvalues(r.task.pairs()[r.train_idx], r.task.p)[2]
        text += (
            f"## Theory vs Empirical (1-D, p = 10, {n} pairs, seed 1, lambda_3 = {lam3:.3g})"
            "\n\n| k | network E_k | theory E_k |\n|---|---|---|\n"
            + "".join(f"| {k} | {x:.3f} | {y:.3f} |\n" for k, (x, y) in
                      enumerate(zip(a.tolist(), b.tolist(), strict=True)))
            + f"\nmax |network - theory| = {float(diff.max()):.3f} (standardised units); "
            f"corr = {float(np.corrcoef(a, b)[0, 1]):.4f}; network test accuracy "
            f"{r.history['test_acc'][-1]:.3f}.\n\nRQI over training (every 250 steps):\n\n"
            + markdown(q[q["epoch"] % 250 == 0]) + "\n\n"
            + "Trajectories (standardised E_k; the authors' flow: Z_0 frozen, l_0 summed, "
            "step = the representation's lr, flow step t against training step t):\n\n"
            + markdown(traj[traj["step"] % 250 == 0]) + "\n\n"
            + f"Along the way: mean max |net - flow| at equal steps "
            f"{traj['max |net - flow| same step'].mean():.3f}, largest "
            f"{traj['max |net - flow| same step'].max():.3f}; at the nearest flow step "
            f"{traj['max |net - flow| nearest'].mean():.3f}.\n\n"
        )  # fmt: skip
    text += (
        f"## Grokking time vs 1 / lambda_3 ({len(table)} runs, {args.steps} steps)\n\n"
        + markdown(per_size, index=True) + "\n\n"
        + "".join(f"{key} against {col} ({'the authors' if 'authors' in col else 'the slides'}"
                  f"' normalisation): {m} runs with it > 0 reached it; Spearman rho(1 / "
                  f"{col}, {key}) = {rho:.3f}; log-log slope {slope:.3f} (1 = proportional)."
                  "\n" for (col, key), (m, rho, slope) in fits.items())
    )  # fmt: skip
    (out / "liu_toy_grokking_time.md").write_text(text)
    table.to_csv(out / "liu_toy_grokking_time.csv", index=False)
    print(text)
    return [out / "liu_toy_grokking_time.md", *write(fig, out, "liu_toy_grokking_time")]


if __name__ == "__main__":
    print(*main(), sep="\n")
