"""Every example script runs end to end at a tiny scale and writes its figures."""

import importlib
import subprocess
import sys
from pathlib import Path

import pytest

from grok_interp.cli import main as cli
from grok_interp.models import preset
from grok_interp.runs import TrainConfig
from grok_interp.tasks import Task
from grok_interp.training import RunSpec, train
from tests.browser import CHROMIUM, figures_drawn, unreadable

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    path = tmp_path_factory.mktemp("ex") / "run.pt"
    spec = RunSpec(
        task=Task(p=13),
        model=preset("small", d_model=32, d_head=8, d_mlp=64),
        train=TrainConfig(epochs=300, lr=3e-3, frac_train=0.5, eval_every=50, snapshot_every=50),
    )
    train(spec, out=path, progress=False)
    assert cli(["progress", str(path), "--key-freqs", "1", "2", "--in-place"]) == 0
    return str(path)


def _module(name):
    sys.path.insert(0, str(EXAMPLES))
    try:
        return importlib.import_module(name)
    finally:
        sys.path.remove(str(EXAMPLES))


def _main(name):
    return _module(name).main


CHECKPOINT_SCRIPTS = [
    "fig03_fourier_norms",
    "fig04_periodicity",
    "fig05_neurons",
    "fig06_ablations",
    "fig08_interference",
    "fig09_11_attention",
]
RUN_SCRIPTS = ["fig07_progress", "fig13_15_progress_extra", "varma_fig09_efficiency"]
SWEEPS = ["fig20_21_fraction_sweep", "fig24_p53", "fig26_no_weight_decay", "fig27_weight_decay"]


def test_seed_figure(tiny_run, tmp_path):
    assert _main("fig02_seeds")([str(tmp_path), "--checkpoints", tiny_run, tiny_run])


@pytest.mark.slow
@pytest.mark.parametrize("name", SWEEPS)
def test_sweeps(name, tmp_path):
    paths = _main(name)([str(tmp_path), "--p", "11", "--epochs", "20", "--seeds", "1"])
    assert all(p.exists() for p in paths)
    (table,) = [p for p in paths if p.suffix == ".md"]
    n_settings = {"fig20_21_fraction_sweep": 3, "fig24_p53": 2, "fig27_weight_decay": 3}
    rows = table.read_text().splitlines()[2:]
    assert len(rows) == n_settings.get(name, 1)  # one row per run (1 seed each)
    assert all(row.count("|") == 8 for row in rows)
    assert_renders_offline(tmp_path)


@pytest.mark.slow
def test_beyond_no_weight_decay(tmp_path):
    """One row per setting, with the stability record and the algorithm verdict."""
    paths = _main("beyond_no_weight_decay")([str(tmp_path), "--p", "11", "--epochs", "20"])
    assert all(p.exists() for p in paths)
    rows = paths[0].read_text().splitlines()[2:]
    assert len(rows) == 5 and "StableMax" in rows[2] and "float64" in rows[4]
    assert all(row.count("|") == 13 for row in rows)
    assert_renders_offline(tmp_path)


@pytest.mark.slow
def test_beyond_grokfast(tmp_path):
    paths = _main("beyond_grokfast")([str(tmp_path), "--p", "11", "--epochs", "20"])
    rows = paths[0].read_text().splitlines()[2:]
    assert len(rows) == 4 and "Grokfast" in rows[1] and "no filter" in rows[2]
    assert_renders_offline(tmp_path)


TINY_EXPERIMENTS = {
    "varma_fig02_simulation": ["--steps", "2000"],
    "liu_grokking_rate": ["--draws", "3", "--flow-size", "20"],
    "humayun_fig03_density": ["--runs", "checkpoints/seed1.pt", "--points", "4", "--n", "4"],
    "humayun_fig04_plane": ["--grid", "8", "--steps", "0", "40000"],
    "humayun_two_layer": ["--p", "11", "--epochs", "40", "--points", "3", "--grid", "8",
                          "--quiet"],
    "nanda_d3_limited_data": ["--epochs", "20", "--quiet"],
    "liu_phase_diagram_toy": ["--n", "2", "--budget", "40", "--gap", "10", "--quiet"],
    "liu_toy_grokking_time": ["--sizes", "40", "45", "--seeds", "2", "--steps", "60",
                              "--quiet"],
    "liu_phase_diagram_transformer": ["--p", "11", "--epochs", "30", "--lrs", "1e-3", "1e-2",
                                      "--weight-decays", "0", "1", "--quiet"],
    "varma_ungrokking": ["--p", "11", "--base-epochs", "60", "--sizes", "20", "40", "60",
                         "--weight-decays", "0.5", "2", "--seeds", "1", "--epochs", "30",
                         "--eval-every", "10", "--quiet"],
    "varma_fig03_efficiency": ["--p", "11", "--epochs", "30", "--seeds", "1", "--weight-decays",
                               "0.3", "1", "--gen-fracs", "0.8", "0.9", "--quiet"],
    "varma_semigrokking": ["--p", "11", "--sizes", "40", "50", "--seeds", "2", "--epochs", "30",
                           "--quiet"],
    "varma_fig08_other_tasks": ["--p", "11", "--ops", "sub", "s5_xy", "--base-epochs", "30",
                                "--s5-base-epochs", "2", "--epochs", "20", "--eval-every",
                                "10", "--size-fracs", "0.05", "0.2", "--quiet"],
    "vanrossem_parity": ["--epochs", "6", "--snapshot-every", "3", "--transformer-epochs", "2",
                         "--pairs", "3", "--quiet"],
    "beyond_clock_pizza_phase": ["--p", "11", "--epochs", "20", "--rates", "0", "1",
                                 "--widths", "8", "16", "--quiet"],
    "chughtai_groups": ["--group", "S3", "--epochs", "20", "--snapshot-every", "10", "--quiet"],
}  # fmt: skip


@pytest.mark.slow
def test_d3_sweeps_the_skip_trigrams_open_choices(tmp_path, capsys):
    main = _main("nanda_d3_limited_data")
    with pytest.raises(SystemExit):  # five-digit addition has no length to choose
        main([str(tmp_path), "--lengths", "8"])
    main([str(tmp_path), "--tasks", "skip_trigram", "--regimes", "limited", "--lengths", "4",
          "6", "--big-at", "any", "before_last", "--epochs", "10", "--quiet"])
    rows = (tmp_path / "nanda_d3_limited_data.md").read_text().splitlines()[4:]
    regimes = sorted(r.split("|")[2].strip() for r in rows)
    assert regimes == [f"limited, length {n}, big token {b}" for n in (4, 6)
                       for b in ("any", "before_last")]  # fmt: skip
    # quiet, yet one line as the task starts and one as each run ends
    said = capsys.readouterr().out
    assert said.count("skip_trigram, limited data: 10 steps done") == 4
    assert "skip_trigram: limited data, 10 steps ..." in said


def assert_renders_offline(folder: Path) -> None:
    """Every HTML file the example wrote draws each of its figures in headless Chromium
    with the network blocked (a CDN-linked page stays blank), and each has a PNG beside
    it when the example wrote PNGs at all (kaleido installed)."""
    if CHROMIUM is None:
        pytest.skip("no chromium: bash scripts/setup.sh")
    pytest.importorskip("playwright.sync_api")
    pages = sorted(folder.rglob("*.html"))
    assert pages
    drawn = figures_drawn(pages)
    assert drawn.pop("outside") == []
    for name, figs in drawn.items():
        assert figs, f"{name}: no figure"
        for f in figs:
            assert f["svg"] and f["width"] > 300 and f["height"] > 200, name
            assert f["traces"] > 0 and f["marks"] > 0, name
            assert not unreadable(f), (name, unreadable(f))
    if any(folder.rglob("*.png")):
        assert all(p.with_suffix(".png").exists() for p in pages)


@pytest.mark.slow
@pytest.mark.parametrize("name", TINY_EXPERIMENTS)
def test_paper_experiments(name, tmp_path):
    paths = _main(name)([str(tmp_path), *TINY_EXPERIMENTS[name]])
    assert paths and all(p.exists() and p.stat().st_size > 200 for p in paths)
    assert any(p.suffix == ".md" for p in paths) and any(p.suffix == ".html" for p in paths)
    for md in tmp_path.rglob("*.md"):
        assert counts_as_floats(md.read_text()) == [], md.name
    assert_renders_offline(tmp_path)


COUNTS = {"epoch", "epochs", "step", "layer", "seed", "train.n_train", "pairs", "training pairs",
          "train acc >= 99% at", "test acc >= 99% of ceiling at"}


def counts_as_floats(text: str) -> list[str]:
    """The cells of a Markdown table's count columns (epoch, layer, seed, D' ...) written as
    floats ('12000.00', '1.2e+04'): a count is read as a whole number."""
    bad, header = [], None
    for line in text.splitlines():
        cells = [c.strip() for c in line.split("|")[1:-1]] if line.startswith("|") else None
        if cells is None:
            header = None
        elif header is None:
            header = cells
        elif not set(line) <= set("|-: "):
            bad += [f"{h}={c}" for h, c in zip(header, cells, strict=False)
                    if h in COUNTS and any(ch in c for ch in ".e") and c != "nan"]  # fmt: skip
    return bad


def test_counts_as_floats_reads_tables():
    table = "| epoch | layer | x |\n|---:|---:|---:|\n| 12000.00 | 1 | 0.5 |\n"
    assert counts_as_floats(table) == ["epoch=12000.00"]
    assert counts_as_floats(table.replace("12000.00", "12000")) == []


def test_clock_pizza_phase_cells():
    """The phase figure's cells: the mean over a cell's generalised seeds, the verdict
    they share (or how many of each), and "not generalised" where none did."""
    import pandas as pd

    cells = _module("beyond_clock_pizza_phase").cells
    frame = pd.DataFrame(
        [(0.0, 8, 1.00, "pizza", True), (0.0, 8, 0.80, "mixed/undetermined", True),
         (1.0, 8, 0.30, "clock", False), (0.0, 16, 0.99, "pizza", True),
         (0.0, 16, 0.10, "clock", False), (1.0, 16, 0.40, "clock", True)],
        columns=["rate", "width", "symmetricity", "verdict", "generalised"],
    )  # fmt: skip
    rates, widths, z, text = cells(frame, "symmetricity")
    assert rates == [0.0, 1.0] and widths == [8, 16]
    assert z[0][0] == pytest.approx(0.9) and z[1][0] == pytest.approx(0.99)
    assert z[0][1] != z[0][1] and z[1][1] == pytest.approx(0.4)  # NaN: none generalised
    assert text[0][0] == "1 mixed, 1 pizza<br>0.90"
    assert text[0][1] == "not generalised" and text[1][0] == "pizza<br>0.99"


def test_figure_scripts_write_and_render_offline(tiny_run, tmp_path):
    """The figure scripts of Nanda et al. and Varma et al.'s Fig 9, on a tiny run: each
    writes its figures, and (where Chromium is installed) every one draws offline and
    passes the figure check. One test, so each script runs once in the suite."""
    for name in CHECKPOINT_SCRIPTS:
        args = [str(tmp_path), "--checkpoint", tiny_run, "--key-freqs", "1", "2"]
        paths = _main(name)(args)
        assert paths and all(p.stat().st_size > 1000 for p in paths), name
    for name in RUN_SCRIPTS:
        assert _main(name)([str(tmp_path), "--checkpoint", tiny_run]), name
    assert_renders_offline(tmp_path)


HELP = """
import runpy, sys
sys.path.insert(0, {examples!r})
for path in {scripts!r}:
    sys.argv = [path, "--help"]
    try:
        runpy.run_path(path, run_name="__main__")
    except SystemExit as e:
        assert e.code == 0, (path, e.code)
    heavy = [m for m in ("torch", "transformer_lens", "plotly", "pandas") if m in sys.modules]
    assert not heavy, (path, heavy)
"""


def test_every_example_answers_help_before_importing_torch():
    """`python examples/X.py --help` imports no torch, TransformerLens, plotly or pandas
    (they load after the arguments are parsed), so it answers at once."""
    scripts = sorted(str(p) for p in EXAMPLES.glob("*.py"))
    code = HELP.format(examples=str(EXAMPLES), scripts=scripts)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-3000:]
    parsers = [p for p in scripts if "parse_args(" in Path(p).read_text()]
    assert out.stdout.count("usage:") == len(parsers) >= 28


@pytest.mark.slow
def test_long_runs_extend_in_stages(tmp_path):
    """The long experiments run in stages: a base (Varma Fig 8) or the two-layer run
    (Humayun) trained alone, then extended to more epochs from its saved state."""
    from grok_interp.runs import load_run

    fig08 = _main("varma_fig08_other_tasks")
    args = [str(tmp_path), "--p", "11", "--ops", "sub", "--base-only", "--quiet"]
    (md,) = fig08([*args, "--base-epochs", "20"])
    assert "| sub " in md.read_text() and not (tmp_path / "sweep_sub").exists()
    fig08([*args, "--base-epochs", "40"])
    assert load_run(tmp_path / "base_sub.pt").epoch == 40
    two = _main("humayun_two_layer")
    args = [str(tmp_path), "--p", "11", "--train-only", "--quiet"]
    (path,) = two([*args, "--epochs", "20"])
    assert load_run(path).epoch == 20
    two([*args, "--epochs", "40"])
    assert load_run(path).epoch == 40


@pytest.mark.slow
def test_zhong_layers_reads_a_folder_of_their_models_and_lists_what_it_refuses(tmp_path):
    import shutil

    from tests.conftest import EXTERNAL, external

    folder = tmp_path / "save"
    folder.mkdir()
    for runid in ("p99zdpze5l", "l8k1hzciux"):
        for name in (f"model_{runid}.pt", f"config_{runid}.json"):
            shutil.copy(external(EXTERNAL / "zhong_pizza" / name), folder / name)
    (folder / "model_broken.pt").write_bytes(b"not a checkpoint")
    md, *figure = _main("zhong_layers")([str(tmp_path / "out"), "--models", str(folder)])
    text = md.read_text()
    models = text.split("## Layer by layer")[0]
    rows = {line.split("|")[1].strip(): line for line in models.splitlines() if "| model_" in line}
    assert "0.9937" in rows["model_p99zdpze5l"] and "pizza" in rows["model_p99zdpze5l"]
    assert "0.3336" in rows["model_l8k1hzciux"] and "clock" in rows["model_l8k1hzciux"]
    assert "flat" in text and "model_broken.pt: " in text.split("## Refused")[1]
    assert_renders_offline(tmp_path / "out")
