"""Varma et al. (2023), Figure 2 and Table 1: the two-circuit simulation (Section 3,
Appendix C) in its three settings: (a) grokking, (b) no grokking when C_gen is less
efficient, (c) no delay when both circuits learn at the same speed; with the converged
weight ratio beside Theorem D.4's. Runs in about a second.

    python examples/varma_fig02_simulation.py OUT [--steps 10000]
"""

from pathlib import Path

from grok_interp.examples_cli import parser


def main(argv=None):
    ap = parser(__doc__)
    ap.add_argument("--steps", type=int, default=10_000, help="paper: 10,000 (Figure 2)")
    args = ap.parse_args(argv)
    from grok_interp.plots import write
    from grok_interp.theory.two_circuits import (
        TABLE_1,
        converge,
        figure,
        simulate,
        theorem_d4_ratio,
    )

    frames = {k: simulate(cfg, steps=args.steps) for k, cfg in TABLE_1.items()}
    rows = ["| setting | first step test acc = 1 | test loss at the end | gen / mem logit at "
            "the end | at 2e5 steps | Theorem D.4 |", "|---|---|---|---|---|---|"]  # fmt: skip
    for k, f in frames.items():
        hit = f[f["test_acc"] == 1]["step"]
        u, v = converge(TABLE_1[k])
        end = f.iloc[-1]
        first = f"{hit.iloc[0]:g}" if len(hit) else "never"
        rows.append(f"| ({k}) | {first} | {end['test_loss']:.3g} | "
                    f"{end['gen_logit'] / end['mem_logit']:.3g} | {u / v:.4g} | "
                    f"{theorem_d4_ratio(TABLE_1[k]):.4g} |")  # fmt: skip
    text = "\n".join(rows) + "\n"
    print(text)
    Path(args.out).mkdir(parents=True, exist_ok=True)
    (Path(args.out) / "varma_fig02.md").write_text(text)
    return [Path(args.out) / "varma_fig02.md", *write(figure(frames), args.out, "varma_fig02")]


if __name__ == "__main__":
    print(*main(), sep="\n")
