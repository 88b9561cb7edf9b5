"""Experiment drivers: code that trains or loads runs and draws a paper's figures from
them (ungrokking and critical dataset sizes, the circuit-density figures over training).
They sit above the analyses, training and sweeps they drive (docs/DESIGN.md, "Layers");
an analysis never imports them."""
