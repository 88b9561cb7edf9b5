"""The benchmark runs end to end (its figures are printed, never asserted: timings vary)."""

import math

import pytest
from torch.utils.flop_counter import FlopCounterMode

from grok_interp import fast
from grok_interp.bench import format_bench, run_bench, step_flops
from grok_interp.models import ModelPreset, build_model
from grok_interp.tasks import Task


@pytest.mark.slow  # runs the whole bench once: the long tier
def test_bench_runs_and_reports_every_figure():
    res = run_bench(repeats=1, n_models=2, rss_epochs=0, analyze_fn=lambda: None, sweep_points=0,
                    toy_members=0, parity_checkpoint=None, layouts_and_groups=False)
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
        "rqi_mainline_split_s",
        "circuit_density_1000_points_s",
    }
    assert set(res) == expected
    assert all(math.isfinite(v) and v > 0 for v in res.values())
    assert len(format_bench(res).splitlines()) == len(expected)


@pytest.mark.slow  # runs the whole bench once: the long tier
def test_parity_speed_reports_every_figure():
    from grok_interp.bench import parity_speed

    res = parity_speed(repeats=1)
    assert set(res) == {"parity_rnn_epoch_s", "parity_rnn_to_generalisation_s_est",
                        "automaton_leader_s", "automaton_scale_free_peak_s"}  # fmt: skip
    assert all(math.isfinite(v) and v > 0 for v in res.values())


def test_toy_throughput_reports_every_figure():
    from grok_interp.bench import toy_throughput

    res = toy_throughput(members=3, epochs=20, alone=1)
    assert len(res) == 5 and all(math.isfinite(v) and v > 0 for v in res.values())


def test_step_flops_matches_torchs_flop_counter():
    """torch's FlopCounterMode counts every matmul of a real fast step, forward and
    backward; the per-(position, token) tables add a little on top of step_flops."""
    task = Task(p=7)
    model = build_model(ModelPreset(d_model=8, n_heads=2, d_head=4, d_mlp=16), task)
    tokens = task.tokens().repeat(40, 1)
    with FlopCounterMode(display=False) as counter:
        fast.last_logits(fast.stacked_params([model]), tokens[None]).sum().backward()
    counted = counter.get_total_flops()
    estimate = step_flops(task, len(tokens), 8, 16, 2, 4)
    assert estimate <= counted <= 1.01 * estimate


def test_sweep_throughput_runs():
    from grok_interp.bench import sweep_throughput

    res = sweep_throughput(points=2, epochs=4, ray=False)
    assert set(res) == {"sweep_one_at_a_time_point_epochs_per_s", "sweep_local_point_epochs_per_s",
                        "sweep_local_vs_one_at_a_time"}  # fmt: skip
    assert all(math.isfinite(v) and v > 0 for v in res.values())
