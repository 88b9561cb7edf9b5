"""The benchmark runs end to end (its figures are printed, never asserted: timings vary)."""

import math

from grok_interp.bench import format_bench, run_bench, step_flops
from grok_interp.tasks import Task


def test_bench_runs_and_reports_every_figure():
    res = run_bench(repeats=1, n_models=2, rss_epochs=0, analyze_fn=lambda: None)
    expected = {
        "plain_epochs_per_s",
        "fast_epochs_per_s",
        "fast_vs_plain",
        "batched_2_vs_sequential",
        "batched_2_one_stack_vs_sequential",
        "batched_2_vs_sequential_small",
        "fast_gflops",
        "matmul_peak_gflops",
        "fast_fraction_of_peak",
        "mainline_40k_epochs_minutes_est",
        "analyze_s",
    }
    assert set(res) == expected
    assert all(math.isfinite(v) and v > 0 for v in res.values())
    assert len(format_bench(res).splitlines()) == len(expected)


def test_step_flops_counts_the_three_gemm_sites():
    # one example, d_model 2, d_mlp 3, 1 head of 1, p = 5: MACs 2*3*2 + 2*5 + 1*2 = 24
    assert step_flops(Task(p=5), 1, 2, 3, 1, 1) == 3 * 2 * 24
