"""Zhong et al. (2023)'s saved models, every one in a folder, analysed layer by layer: for
each model its layers and attention rate (from the config beside it), its loss over all
pairs, the key frequencies of the final MLP's W_L, the clock/pizza measures and verdict
(a table, and a figure of the two measures), and per layer the attention heads' pattern
fit and the share of each MLP's neurons that a degree-2 fit of one frequency explains.

Their models are in the authors' repository (fjzzq2002/pizza, ``code/save/``: a
``model_<runid>.pt`` with its ``config_<runid>.json``); clone it and point this script at
that folder. Nothing here is specific to their models beyond the config beside each file.

    python examples/zhong_layers.py OUT --models pizza/code/save [--triples authors]
"""

from grok_interp.examples_cli import parser


def main(argv=None):
    ap = parser(__doc__)
    ap.add_argument("--models", required=True, help="folder of model_<runid>.pt files")
    ap.add_argument("--triples", choices=["uniform", "authors"], default="authors",
                    help="gradient symmetricity's triples: the authors' 100 (their eval "
                         "notebook's draw) or 1,000 uniform ones")  # fmt: skip
    args = ap.parse_args(argv)
    from pathlib import Path

    import pandas as pd

    from grok_interp import analyze, zhong
    from grok_interp.analyses.algorithm import algorithm
    from grok_interp.analyses.common import markdown
    from grok_interp.analyses.neurons import FVE_THRESHOLD
    from grok_interp.examples_cli import save

    paths = sorted(Path(args.models).glob("model_*.pt"))
    if not paths:
        raise SystemExit(f"zhong_layers: no model_<runid>.pt in {args.models}")
    rows, layers, refused = [], [], []
    n = 100 if args.triples == "authors" else 1000
    for path in paths:
        try:
            report = analyze(path, over_training=False)
            alg = algorithm(report.model, report.task, triples=args.triples, n_triples=n)
        except ValueError as e:  # a file this package refuses (its errors are ValueErrors)
            refused.append(f"- {path.name}: {str(e).splitlines()[0]}")
            continue
        cfg, wl = report.model.cfg, report.neuron_logit_map
        config = zhong.config_path(path)
        rows.append({
            "model": path.stem, "layers": cfg.n_layers,
            "attention rate": zhong.read_config(config).attn_coeff if config else 1.0,
            "loss (all pairs)": report.losses["all"][0],
            "accuracy": report.losses["all"][1],
            "key frequencies": ", ".join(map(str, wl.key_freqs)) if wl else "-",
            "gradient symmetricity": alg.gradient_symmetricity,
            "distance irrelevance": alg.distance_irrelevance,
            "verdict": alg.verdict,
        })  # fmt: skip
        att, neu = report.attention, report.neurons
        why = report.not_run.get("attention", "")
        no_heads = "flat" if "same for every input" in why else why.split(": ", 1)[-1][:50]
        for layer in range(cfg.n_layers):
            heads = [h for h in att.heads if h.layer == layer] if att else []
            if neu is None:
                fit = "- (no key frequencies)" if "key frequencies" in report.not_run.get(
                    "neurons", "") else "-"  # fmt: skip
            elif layer == neu.layer:
                fit = f"{int(neu.well_fit.sum())}/{len(neu.best_fve)}"
            else:
                e = next(e for e in neu.earlier if e.layer == layer)
                fit = f"{e.n_well_fit}/{e.d_mlp}"
            layers.append({
                "model": path.stem, "layer": layer,
                "heads' pattern FVE": ", ".join(f"{h.pattern_fve:.0%}" for h in heads)
                or ("flat" if att else no_heads),
                "heads' frequency": ", ".join(str(h.k) for h in heads) or "-",
                f"MLP neurons, FVE > {FVE_THRESHOLD}": fit,
            })  # fmt: skip
    models = pd.DataFrame(rows)
    text = (f"## Zhong et al.'s models in {args.models}\n\n" + markdown(models) + "\n\n"
            "## Layer by layer\n\n" + markdown(pd.DataFrame(layers)) + "\n\n"
            "Attention 'flat': the layer's pattern is the same for every input (a rate near "
            "0); the heads' frequency of a later layer is the one that fits its pattern "
            "best. The key frequencies, the clock/pizza measures and the verdict read the "
            "final layer and the logits; each earlier MLP's neurons are fitted over every "
            "frequency.\n")  # fmt: skip
    if refused:
        text += "\n## Refused\n\n" + "\n".join(refused) + "\n"
    return save(args.out, "zhong_layers", text, _figure(models), models)


def _figure(models):
    """Distance irrelevance against gradient symmetricity, one point per model, coloured
    by its number of layers, with the verdict's cut-offs: pizzas at the bottom right,
    clocks at the top left."""
    import plotly.graph_objects as go

    from grok_interp.analyses.algorithm import Thresholds

    fig = go.Figure()
    for layers, group in models.groupby("layers"):  # the names on hover (they overlap)
        fig.add_trace(go.Scatter(
            x=group["gradient symmetricity"], y=group["distance irrelevance"], mode="markers",
            hovertext=group["model"], name=f"{layers} layer(s)", marker={"size": 10}))  # fmt: skip
    unlearned = models[models["accuracy"] < 0.99]
    fig.add_trace(go.Scatter(
        x=unlearned["gradient symmetricity"], y=unlearned["distance irrelevance"],
        mode="markers", hovertext=unlearned["model"], name="not learned (accuracy < 99%)",
        marker={"size": 18, "symbol": "circle-open", "color": "black"}))  # fmt: skip
    cut = Thresholds()
    fig.add_vline(x=cut.pizza_symmetricity, line_dash="dot", annotation_text="pizza: right of")
    fig.add_hline(y=cut.pizza_irrelevance, line_dash="dot", annotation_text="pizza: below")
    fig.add_vline(x=cut.clock_symmetricity, line_dash="dash", annotation_text="clock: left of",
                  annotation_position="bottom left")  # fmt: skip
    fig.add_hline(y=cut.clock_irrelevance, line_dash="dash", annotation_text="clock: above",
                  annotation_position="bottom right")  # fmt: skip
    fig.update_layout(title="Zhong et al.'s models: clock or pizza, by number of layers "
                      "(the verdict's cut-offs are ours)",
                      xaxis_title="gradient symmetricity", yaxis_title="distance irrelevance",
                      legend_title_text="model depth")  # fmt: skip
    return fig


if __name__ == "__main__":
    print(*main(), sep="\n")
