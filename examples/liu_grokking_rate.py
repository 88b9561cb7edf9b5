"""Liu et al. (2022), as in Kolber's slides "Grokking Rate", "Grokking Time" (a) and the
theory half of "Theory vs Empirical": the effective theory alone, no network.

For p symbols under (non-modular) addition and many random training sets of each size
(unordered pairs i <= j, as the authors' toy data), the Hessian of the effective loss
(:mod:`grok_interp.theory.effective`) gives lambda_3, the grokking rate, and whether the
linear representation is the only one the training set allows (exactly two zero
eigenvalues: the authors' ``dof = 0``). lambda_3 in both normalisations
(:mod:`grok_interp.theory.effective`): the slides' 2 A^T A / |P_0(D)| at Z_0 = 1
(``lambda_3``) and the authors' notebook's eig A^T A (``lambda_3_authors``). Then the
effective loss's gradient flow from a random 1-D representation: the representation the
theory predicts over time, and the
same flow from the standardised start with Z_0 free (the slides) and frozen (the
authors' update, which keeps |E~| constant).

Default (seconds): p = 10 (the toy model's), training sets of 10 to 55 pairs in steps of
5, 100 draws each. The network side (trained toy models against the theory, grokking time
against 1 / lambda_3) is ``liu_toy_grokking_time.py``.

    python examples/liu_grokking_rate.py OUT [--p 10] [--draws 100]
"""

from pathlib import Path

from grok_interp.examples_cli import parser


def standard(e):
    return (e - e.mean(0)) / e.std(0)


def norm(e):
    return float((e - e.mean(0)).norm())


def main(argv=None):
    ap = parser(__doc__)
    ap.add_argument("--p", type=int, default=10)
    ap.add_argument("--draws", type=int, default=100)
    ap.add_argument("--flow-size", type=int, default=30, help="training pairs for the flow")
    args = ap.parse_args(argv)
    import numpy as np
    import pandas as pd
    import plotly.graph_objects as go
    import torch
    from plotly.colors import sample_colorscale
    from plotly.subplots import make_subplots

    from grok_interp.analyses.common import markdown
    from grok_interp.plots import write
    from grok_interp.theory.effective import effective_flow, eigenvalues

    p = args.p
    pairs = torch.tensor([(i, j) for i in range(p) for j in range(i, p)])
    gen = torch.Generator().manual_seed(0)
    rows = []
    for n in range(10, len(pairs) + 1, 5):
        for draw in range(args.draws):
            train = pairs[torch.randperm(len(pairs), generator=gen)[:n]]
            lam = eigenvalues(train, p)
            raw = eigenvalues(train, p, norm="authors")
            rows.append({"n_train": n, "draw": draw, "lambda_3": max(lam[2], 0.0),
                         "lambda_3_authors": max(raw[2], 0.0),
                         "unique_linear": bool(lam[2] > 1e-8)})  # fmt: skip
    frame = pd.DataFrame(rows)
    summary = frame.groupby("n_train").agg(
        lambda_3_mean=("lambda_3", "mean"), lambda_3_std=("lambda_3", "std"),
        lambda_3_authors_mean=("lambda_3_authors", "mean"),
        p_unique_linear=("unique_linear", "mean"),
    )  # fmt: skip
    summary["ratio"] = summary["lambda_3_authors_mean"] / summary["lambda_3_mean"]
    summary.insert(0, "fraction", summary.index / len(pairs))
    train = pairs[torch.randperm(len(pairs), generator=gen)[: args.flow_size]]
    start = torch.randn(p, 1, generator=gen, dtype=torch.float64)
    traj = effective_flow(start, train, steps=4000, lr=0.5, every=100)
    z0 = standard(start)  # the authors' start: the standardised representation
    updates = {"Z_0 free (the slides)": effective_flow(z0, train, steps=4000, lr=0.5),
               "Z_0 frozen (the authors' update)": effective_flow(
                   z0, train, steps=4000, lr=0.5, freeze_z0=True)}  # fmt: skip
    fig = make_subplots(rows=1, cols=3, subplot_titles=[
        "grokking rate lambda_3", "P(the linear representation is unique)",
        f"effective-theory flow, {args.flow_size} training pairs"])  # fmt: skip
    fig.add_trace(go.Scatter(x=summary["fraction"], y=summary["lambda_3_mean"],
                             error_y={"array": summary["lambda_3_std"]}, name="lambda_3"),
                  row=1, col=1)  # fmt: skip
    fig.add_trace(go.Scatter(x=summary["fraction"], y=summary["p_unique_linear"],
                             name="P(unique)"), row=1, col=2)  # fmt: skip
    steps = [100 * i for i in range(len(traj))]
    shades = sample_colorscale("Viridis", [k / max(p - 1, 1) for k in range(p)])
    for k, colour in zip(range(p), shades, strict=True):  # k in order, dark to light
        fig.add_trace(go.Scatter(x=steps, y=[float(e[k, 0]) for e in traj], name=f"E_{k}",
                                 line={"color": colour}, legendgroup="flow",
                                 legendgrouptitle_text="flow: token k"), row=1, col=3)  # fmt: skip
    fig.update_xaxes(title_text="training fraction", row=1, col=1)
    fig.update_xaxes(title_text="training fraction", row=1, col=2)
    fig.update_xaxes(title_text="step", row=1, col=3)
    fig.update_yaxes(title_text="lambda_3", row=1, col=1)
    fig.update_yaxes(title_text="probability", row=1, col=2)
    fig.update_yaxes(title_text="E_k (1-D)", row=1, col=3)
    fig.update_layout(title=f"Effective theory, p = {p} (Liu et al. 2022; slides: Grokking "
                      "Rate, Grokking Time (a), Theory vs Empirical)")  # fmt: skip
    final = traj[-1][:, 0].numpy()
    corr = abs(np.corrcoef(final, np.arange(p))[0, 1])
    text = (f"## Grokking rate, p = {p}, {args.draws} training sets per size\n\n"
            + markdown(summary, index=True) + f"\n\nFlow from a random 1-D "
            f"representation on {args.flow_size} pairs: |corr(E_k, k)| = {corr:.4f} at the "
            "end (1 = the linear representation).\n\nThe same flow from the standardised "
            "start under each update (4,000 steps of 0.5):\n\n| update | |E~| start | |E~| end |"
            " |corr(E_k, k)| end |\n|---|---|---|---|\n"
            + "".join(f"| {name} | {norm(t[0]):.3f} | {norm(t[-1]):.3f} | "
                      f"{abs(np.corrcoef(t[-1][:, 0].numpy(), np.arange(p))[0, 1]):.4f} |\n"
                      for name, t in updates.items()))  # fmt: skip
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "liu_grokking_rate.md").write_text(text)
    print(text)
    return [out / "liu_grokking_rate.md", *write(fig, out, "liu_grokking_rate")]


if __name__ == "__main__":
    print(*main(), sep="\n")
