"""``grok-interp bench``: speed and memory figures measured side by side in one run.

Each figure is a ratio of two timings taken in the same process, one after the other,
so machine load and clock changes affect both sides: plain loop vs fast step (epochs/s,
the same maths), N models batched vs N sequential, the fast step's achieved GFLOP/s vs a
measured matmul peak, ``analyze()`` on the mainline, and the peak RSS of a training run
in a fresh process. Timings live here, never in asserts in tests.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch

from grok_interp.engine import StepLoop, member
from grok_interp.families.pairs import PairLoop
from grok_interp.models import build_model, preset, resolve_device
from grok_interp.runs import TrainConfig
from grok_interp.tasks import Task
from grok_interp.training import RunSpec, new_run


def _time(fn: Callable[[], object], repeats: int, sync: Callable[[], None]) -> float:
    """Median seconds of ``fn`` over ``repeats`` calls, after two warm-up calls."""
    for _ in range(2):
        fn()
    sync()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def _loop(specs: list[RunSpec], step: str, device: torch.device,
          stack: int | None = None) -> PairLoop:  # fmt: skip
    members = [member(new_run(s), None, device) for s in specs]
    return PairLoop(members, device, step, (), stack)  # type: ignore[arg-type]


def matmul_peak(device: torch.device, sync: Callable[[], None], n: int = 2048) -> float:
    a, b = torch.randn(n, n, device=device), torch.randn(n, n, device=device)
    return 2 * n**3 / _time(lambda: a @ b, 5, sync) / 1e9


def step_flops(
    task: Task, n_train: int, d_model: int, d_mlp: int, n_heads: int, d_head: int
) -> int:
    """Matmul FLOPs of one fast step: forward (2 per MAC) and backward (twice forward)."""
    per_example = d_model * d_mlp * 2 + d_model * task.d_vocab_out + n_heads * d_head * d_model
    return 3 * 2 * n_train * per_example


# The line a child process ends with: its peak RSS in kB (VmHWM, which starts afresh at
# exec; getrusage's maxrss keeps the high-water mark of the pages a child was forked with)
PRINT_PEAK_KB = (
    "import re; print(re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read()).group(1))"
)


def peak_rss_mb(epochs: int) -> float:
    """Peak RSS of ``grok-interp train`` on the mainline in a fresh process
    (:data:`PRINT_PEAK_KB`)."""
    code = "import sys; from grok_interp.cli import main; main(sys.argv[1:]); " + PRINT_PEAK_KB
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [
            sys.executable,
            "-c",
            code,
            "train",
            "--epochs",
            str(epochs),
            "--out",
            str(Path(tmp) / "run.pt"),
            "--quiet",
        ]
        out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return int(out.strip().splitlines()[-1]) / 1024


def _batched_ratio(
    spec: RunSpec,
    n: int,
    dev: torch.device,
    repeats: int,
    sync: Callable[[], None],
    stack: int | None = None,
) -> float:
    """Throughput of n models trained in one loop (``stack`` per batched forward; default
    :func:`~grok_interp.training.default_stack`) over n single-model steps."""
    seeds = [RunSpec(task=spec.task, model=spec.model, train=spec.train, seed=s) for s in range(n)]
    one = _loop(seeds[:1], "fast", dev)
    many = _loop(seeds, "fast", dev, stack)
    return (
        n * _time(lambda: one.step(10), repeats, sync) / _time(lambda: many.step(10), repeats, sync)
    )


def sweep_throughput(
    device: str = "cpu", points: int = 12, epochs: int = 200, ray: bool = True
) -> dict[str, float]:
    """Points x epochs per second of a grid of small models (p = 47, the ``small`` preset)
    trained one at a time, by the local executor (stacked), and by the Ray executor on a
    Ray cluster started on this machine (its start-up is not timed, as on a running
    cluster). Ratios: local / one at a time (target >= 2 on 2 cores), Ray / local."""
    from grok_interp.sweeps import Grid, run_sweep

    base = RunSpec(
        task=Task(p=47),
        model=preset("small"),
        train=TrainConfig(epochs=epochs, frac_train=0.5, eval_every=50, snapshot_every=epochs),
    )
    grid = Grid(values={"seed": list(range(points))}, base=base)
    work = points * epochs
    out: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        warm = Grid(
            values={"seed": [0, 1]}, base=replace(base, train=replace(base.train, epochs=5))
        )
        run_sweep(warm, Path(tmp) / "warm", device=device, progress=False)  # one-time costs
        t0 = time.perf_counter()
        run_sweep(grid, Path(tmp) / "one", device=device, stack=1, progress=False)
        one = time.perf_counter() - t0
        t0 = time.perf_counter()
        run_sweep(grid, Path(tmp) / "local", device=device, progress=False)
        local = time.perf_counter() - t0
        out["sweep_one_at_a_time_point_epochs_per_s"] = work / one
        out["sweep_local_point_epochs_per_s"] = work / local
        out["sweep_local_vs_one_at_a_time"] = one / local
        if ray:
            try:
                import ray as ray_mod
            except ImportError:
                return out
            ray_mod.init(num_cpus=os.cpu_count(), include_dashboard=False, log_to_driver=False)
            try:
                t0 = time.perf_counter()
                run_sweep(grid, Path(tmp) / "ray", executor="ray", device=device, progress=False)
                remote = time.perf_counter() - t0
            finally:
                ray_mod.shutdown()
            out["sweep_ray_point_epochs_per_s"] = work / remote
            out["sweep_ray_vs_local"] = local / remote
    return out


def toy_throughput(device: str = "cpu", members: int = 100, epochs: int = 300,
                   alone: int = 3) -> dict[str, float]:  # fmt: skip
    """Model-steps per second of Liu et al.'s toy model (the authors' defaults: width 200,
    45 pairs, evaluation every 10 steps) trained one at a time (``alone`` runs, each its
    own ``train``) and ``members`` stacked in one loop, whose one-time compile of the
    fused optimizer is timed apart; and the minutes a 10 x 10 phase diagram of 1e4 steps
    takes at the stacked rate (target: under 5 on 2 cores)."""
    from grok_interp.families.toy import toy_spec
    from grok_interp.training import train, train_many

    specs = [toy_spec(seed=s, epochs=epochs, snapshot_every=epochs) for s in range(members)]
    dev = resolve_device(device)
    train(replace(specs[0], train=replace(specs[0].train, epochs=5)), device=dev,
          progress=False)  # fmt: skip
    t0 = time.perf_counter()
    for spec in specs[:alone]:
        train(spec, device=dev, progress=False)
    one = (time.perf_counter() - t0) / (alone * epochs)
    short = [replace(s, train=replace(s.train, epochs=1)) for s in specs]
    t0 = time.perf_counter()
    train_many(short, device=dev, progress=False)  # compiles the fused update once
    compile_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    train_many(specs, device=dev, progress=False)
    stacked = (time.perf_counter() - t0) / (members * epochs)
    return {
        "toy_one_at_a_time_model_steps_per_s": 1 / one,
        f"toy_stacked_{members}_model_steps_per_s": 1 / stacked,
        f"toy_stacked_{members}_vs_one_at_a_time": one / stacked,
        "toy_stack_first_call_s": compile_s,
        "toy_phase_diagram_10x10_1e4_minutes_est": 100 * 10_000 * stacked / 60,
    }


def analyze_layouts_and_groups(sync: Callable[[], None]) -> dict[str, float]:
    """Seconds of ``analyze()`` on a two-token unmasked model of add mod 59 (Zhong et al.'s
    layout; target < 2 s) and on an S5 model (14,400 pairs, 7 irreps; target < 10 s),
    each a freshly initialised mainline-shaped transformer (the time does not depend on
    the weights' values), beside the mainline's ``analyze_s``."""
    from grok_interp.report import analyze

    out = {}
    for name, task in (("analyze_two_token_p59_s", Task(p=59, token_format="a b, bidirectional")),
                       ("analyze_s5_s", Task.over("S5", "xy"))):  # fmt: skip
        model = build_model(preset("mainline"), task, seed=0)

        def once(m: Any = model, t: Task = task) -> object:
            return analyze(m, t)

        out[name] = _time(once, 2, sync)
    return out


S6_CODE = """
import time
from grok_interp import Task, analyze
from grok_interp.models import build_model, preset
task = Task.over("S6", "xy")
model = build_model(preset("mainline"), task, seed=0)
start = time.perf_counter()
analyze(model, task)
print(time.perf_counter() - start)
""" + PRINT_PEAK_KB


def analyze_s6() -> dict[str, float]:
    """``analyze()`` of an S6 model (720 elements, 518,400 pairs: the irreps in chunks;
    target under 2 minutes within 4 GB) in a fresh process: its seconds and its peak RSS
    (:data:`PRINT_PEAK_KB`)."""
    out = subprocess.run([sys.executable, "-c", S6_CODE], check=True, capture_output=True,
                         text=True).stdout.split()  # fmt: skip
    return {"analyze_s6_s": float(out[-2]), "analyze_s6_peak_rss_mb": int(out[-1]) / 1024}


def run_bench(
    device: str = "cpu",
    repeats: int = 10,
    n_models: int = 5,
    rss_epochs: int = 300,
    analyze_fn: Callable[[], object] | None = None,
    sweep_points: int = 12,
    toy_members: int = 100,
    parity_checkpoint: str | None = "checkpoints/parity_rnn.pt",
    layouts_and_groups: bool = True,
) -> dict[str, float]:
    dev = resolve_device(device)
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
    task = Task(p=113)
    spec = RunSpec(task=task, model=preset("mainline"), train=TrainConfig())
    out: dict[str, float] = {}
    plain_loop, fast_loop = _loop([spec], "plain", dev), _loop([spec], "fast", dev)
    # epoch 10: past the warm-up, so each step really updates
    plain = _time(lambda: plain_loop.step(10), repeats, sync)
    fast = _time(lambda: fast_loop.step(10), repeats, sync)
    out["plain_epochs_per_s"] = 1 / plain
    out["fast_epochs_per_s"] = 1 / fast
    out["fast_vs_plain"] = plain / fast
    out[f"batched_{n_models}_vs_sequential"] = _batched_ratio(spec, n_models, dev, repeats, sync)
    out[f"batched_{n_models}_one_stack_vs_sequential"] = _batched_ratio(
        spec, n_models, dev, repeats, sync, stack=n_models
    )
    small = RunSpec(task=Task(p=31), model=preset("small"), train=TrainConfig(frac_train=0.6))
    out[f"batched_{n_models}_vs_sequential_small"] = _batched_ratio(
        small, n_models, dev, repeats, sync
    )
    m = preset("mainline")
    n_train = len(new_run(spec).train_idx)
    flops = step_flops(task, n_train, m.d_model, m.d_mlp, m.n_heads, m.d_head)
    out["fast_gflops"] = flops / fast / 1e9
    out["matmul_peak_gflops"] = matmul_peak(dev, sync)
    out["fast_fraction_of_peak"] = out["fast_gflops"] / out["matmul_peak_gflops"]
    out["mainline_40k_epochs_minutes_est"] = 40_000 * fast / 60
    if analyze_fn is not None:
        out["analyze_s"] = _time(analyze_fn, 3, sync)
    if layouts_and_groups:
        out.update(analyze_layouts_and_groups(sync))
        if dev.type == "cpu":
            out.update(analyze_s6())
    out["rqi_mainline_split_s"] = _time(_rqi(spec), 3, sync)
    out["circuit_density_1000_points_s"] = _time(_density(task, dev), 1, sync)
    if rss_epochs and dev.type == "cpu":
        out["train_peak_rss_mb"] = peak_rss_mb(rss_epochs)
    if sweep_points:
        out.update(sweep_throughput(device, points=sweep_points))
    if toy_members:
        out.update(toy_throughput(device, members=toy_members))
    if parity_checkpoint is not None:
        out.update(parity_speed(3, parity_checkpoint))
    return out


def parity_speed(
    repeats: int = 3, shipped: str | Path = "checkpoints/parity_rnn.pt"
) -> dict[str, float]:
    """Streaming parity (van Rossem & Saxe 2025) on the CPU: one epoch of the authors'
    RNN (21 SGD steps), the epochs to generalisation of the shipped run (the first
    evaluation with every validation string right) times that, and the automaton
    extraction of one snapshot by each rule (leader at the end; the scale-free rule at
    the snapshot with the most states, its slowest case: the tree)."""
    from grok_interp.analyses.automaton import automaton_over_training, extract_automaton
    from grok_interp.families.parity import parity_spec
    from grok_interp.runs import load_run, model_from_run

    run = new_run(parity_spec())
    cpu = torch.device("cpu")
    loop = StepLoop(run.family, [member(run, None, cpu)], cpu, ())
    epoch = _time(lambda: loop.step(1), repeats, lambda: None)
    out = {"parity_rnn_epoch_s": epoch}
    if Path(shipped).exists():
        run = load_run(shipped)
        acc = run.history["test_string_acc"]
        first = next((e for e, a in zip(run.history["epoch"], acc, strict=True) if a >= 1), None)
        if first is not None:
            out["parity_rnn_to_generalisation_s_est"] = first * epoch
        frame = automaton_over_training(run)  # the leader rule: cheaper, the same peak
        peak = int(frame["epoch"][frame["n_states"].idxmax()])
        final = model_from_run(run)
        out["automaton_leader_s"] = _time(lambda: extract_automaton(final), repeats, lambda: None)
        tree = model_from_run(run, peak)
        out["automaton_scale_free_peak_s"] = _time(
            lambda: extract_automaton(tree, method="scale-free"), 1, lambda: None)
    return out


def _rqi(spec: RunSpec) -> Callable[[], object]:
    """Liu et al.'s RQI and predicted accuracy for a mainline-sized split (3,831 training
    pairs, W_E of 113 x 128; the time depends on the sizes only)."""
    from grok_interp.analyses.representation import representation_quality

    run = new_run(spec)
    pairs = run.pairs_task.pairs()
    d_model = preset("mainline").d_model
    w_e = torch.randn(spec.task.p, d_model, generator=torch.Generator().manual_seed(0))
    train, test = pairs[run.train_idx], pairs[run.test_idx]
    return lambda: representation_quality(w_e, train, test, modulus=spec.task.p)


def _density(task: Task, dev: torch.device) -> Callable[[], object]:
    """Humayun et al.'s circuit density of 1,000 points with 100 vertices each on a
    mainline-shaped model (the time depends on the shapes only)."""
    from grok_interp.analyses.circuit_density import density
    from grok_interp.models import build_model

    model = build_model(preset("mainline"), task, device=dev)
    points = torch.randn(1000, 2, model.cfg.d_model, generator=torch.Generator().manual_seed(0))
    return lambda: density(model, task, points * 0.1)


def format_bench(res: dict[str, float]) -> str:
    return "\n".join(f"{k:34s} {v:10.3f}" for k, v in res.items())
