"""Varma et al. (2023), Section 5.2 and Appendix A.2, A.4: ungrokking (P2, P3), the
critical dataset size D_crit, and the logit ratio at convergence (Figures 4, 7, 10).

A base network is trained on ``--base-frac`` of all pairs until it generalises
(OUT/base_<op>.pt; resumed, or extended when ``--base-epochs`` is larger), then continued
on random subsets D' of its training set, drawn per seed, over sizes x weight decays x
seeds: the points of one sweep (OUT/sweep_<op>/, with ``init`` = the base run; run the
script again to resume a killed one). Every other pair is
a test pair. Per point: test accuracy at the end, o_trig / o_mem on D' (addition only,
recorded live; Appendix B) and the parameter norm. D_crit per (weight decay, seed) is where
test accuracy at the end crosses 0.5, interpolated in log D'
(:mod:`grok_interp.analyses.dataset_size`). A run counts as converged when its test
accuracy moved by at most 0.05 over the last 20% of its epochs; the table says which did not.

Default (2-core CPU, ~10 min): p = 47, the ``small`` preset, a base of 3,000 epochs at lr
1e-3 on 70% of pairs, continued for 6,000 epochs at lr 3e-3 (full batch, AdamW as in
Appendix A). Paper scale: ``--p 113 --preset mainline --base-frac 0.9 --base-epochs 20000
--sizes 390 490 610 770 960 1200 1494 --weight-decays 0.1 0.5 1 1.5 2 --seeds 10 --lr 1e-3
--epochs 1000000`` (Figure 7: 7 sizes in [390, 1494], 10 seeds).

    python examples/varma_ungrokking.py OUT [--op add] [--seeds 2] ...
"""

from grok_interp.examples_cli import parser, ungrokking_args


def main(argv=None):
    ap = ungrokking_args(parser(__doc__, quiet=True))
    ap.add_argument("--op", default="add")
    args = ap.parse_args(argv)
    from grok_interp.experiments.ungrokking import Ungrokking, experiment

    return experiment(Ungrokking.from_args(args), args.op)[2]


if __name__ == "__main__":
    print(*main(), sep="\n")
