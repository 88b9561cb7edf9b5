"""Streaming parity: data, the hooked RNN, training and resume, automaton extraction on
hand-built RNNs, Hopcroft's minimisation, the interaction theory, and a trained run."""

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from grok_interp import Task, analyze
from grok_interp.analyses.automaton import (
    Automaton,
    automaton_over_training,
    extract_automaton,
    hopcroft,
    prefix_states,
    snapshot_model,
)
from grok_interp.analyses.interaction import (
    interaction_over_training,
    interaction_terms,
    merger_predicted,
)
from grok_interp.analyses.lengths import length_generalisation, lengths_over_training
from grok_interp.config import RNNPreset, preset
from grok_interp.parity import (
    HookedRNN,
    ParityTask,
    all_strings,
    build_rnn,
    eval_strings,
    length_batches,
    node_id,
    node_strings,
    parity_spec,
    parity_targets,
)
from grok_interp.runs import load_run, rnn_from_run
from grok_interp.training import train

from .conftest import full_and_resumed


def test_strings_targets_and_nodes():
    assert all_strings(2).tolist() == [[0, 0], [0, 1], [1, 0], [1, 1]]
    assert parity_targets(torch.tensor([[1, 0, 1, 1]])).tolist() == [[1, 1, 0, 1]]
    assert node_id(all_strings(2)).tolist() == [3, 4, 5, 6]
    assert node_strings(2) == ["", "0", "1", "00", "01", "10", "11"]
    task = ParityTask()
    assert task.n_train == 2046
    a, b = eval_strings(task, 3), eval_strings(task, 3)
    assert {k: v.shape for k, v in a.items()} == {"val": (100, 50), "len100": (10, 100),
                                                  "len1000": (10, 1000),
                                                  "len10000": (10, 10000)}  # fmt: skip
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not torch.equal(eval_strings(task, 4)["val"], a["val"])
    with pytest.raises(ValueError, match="min_len"):
        ParityTask(min_len=0)


def test_an_epoch_is_every_string_once_by_length_seeded():
    task = ParityTask(max_len=8)
    batches = length_batches(task, 128, seed=1, epoch=5)
    assert [b.shape[1] for b in batches] == sorted(b.shape[1] for b in batches)
    assert max(len(b) for b in batches) == 128 and sum(map(len, batches)) == task.n_train
    for n in range(1, 9):
        seen = torch.cat([b for b in batches if b.shape[1] == n])
        assert sorted(node_id(seen).tolist()) == node_id(all_strings(n)).tolist()
    again = length_batches(task, 128, seed=1, epoch=5)
    assert all(torch.equal(x, y) for x, y in zip(batches, again, strict=True))
    assert not torch.equal(length_batches(task, 128, seed=1, epoch=6)[-1], batches[-1])


def test_the_rnn_is_torchs_own_and_its_hooks_read_and_patch():
    model = build_rnn(RNNPreset(d_hidden=8), seed=0)
    tokens = torch.randint(0, 2, (5, 7), generator=torch.Generator().manual_seed(0))
    ref = nn.RNN(2, 8, nonlinearity="relu", batch_first=True)
    with torch.no_grad():
        for a, b in (("weight_ih_l0", "weight_ih"), ("weight_hh_l0", "weight_hh"),
                     ("bias_ih_l0", "bias_ih"), ("bias_hh_l0", "bias_hh")):  # fmt: skip
            getattr(ref, a).copy_(getattr(model.cell, b))
        h0 = torch.ones(1, 5, 8)
        expected, _ = ref(nn.functional.one_hot(tokens, 2).float(), h0)
    _, cache = model.run_with_cache(tokens)
    torch.testing.assert_close(cache["hook_hidden"], expected)
    # a patch at one step changes that step's successors only
    def zero_at_3(h, hook):
        return torch.zeros_like(h) if hook.ctx["pos"] == 3 else h

    patched = model.run_with_hooks(tokens, fwd_hooks=[("hook_h", zero_at_3)])
    clean = model(tokens)
    assert torch.equal(patched[:, :3], clean[:, :3])
    assert not torch.equal(patched[:, 3:], clean[:, 3:])


def parity_rnn() -> HookedRNN:
    """Four ReLU units, one per (parity, last symbol) conjunction, so the state is always
    one of four one-hot vectors: u1 = even after 0, u2 = even after 1, u3 = odd after 1,
    u4 = odd after 0; even = u1 + u2, odd = u3 + u4. The read-out is the one-hot parity."""
    model = HookedRNN(RNNPreset(d_hidden=4))
    even, odd = torch.tensor([1.0, 1, 0, 0]), torch.tensor([0.0, 0, 1, 1])
    with torch.no_grad():
        model.cell.weight_hh.copy_(torch.stack([even, odd, even, odd]))
        model.cell.weight_ih.copy_(torch.tensor([[1.0, 0], [0, 1], [0, 1], [1, 0]]))
        model.cell.bias_ih.fill_(-1.0)
        model.cell.bias_hh.zero_()
        model.readout.weight.copy_(torch.stack([even, odd]))
        model.readout.bias.zero_()
        model.h_init.copy_(torch.tensor([1.0, 0, 0, 0]))
    return model


def tree_rnn(max_len: int = 10) -> HookedRNN:
    """An RNN that memorises the tree: a counter c_0..c_L (one-hot time), a flag f_k set at
    step k when the symbol is 1, a bit b_k holding f_k from the next step on, and the four
    parity units of :func:`parity_rnn` for the read-out. Every prefix has its own state."""
    L = max_len
    n = (L + 1) + L + L + 4
    c, f, b, q = 0, L + 1, 2 * L + 1, 3 * L + 1
    w_hh, w_ih, bias = torch.zeros(n, n), torch.zeros(n, 2), torch.zeros(n)
    for k in range(1, L + 1):
        w_hh[c + k, c + k - 1] = 1  # the counter shifts
        w_hh[f + k - 1, c + k - 1] = 1  # f_k = relu(c_{k-1} + x1 - 1)
        w_ih[f + k - 1, 1] = 1
        bias[f + k - 1] = -1
        w_hh[b + k - 1, b + k - 1] = w_hh[b + k - 1, f + k - 1] = 1  # b_k = relu(b_k + f_k)
    par = parity_rnn()
    w_hh[q:, q:] = par.cell.weight_hh.detach()
    w_ih[q:] = par.cell.weight_ih.detach()
    bias[q:] = -1
    model = HookedRNN(RNNPreset(d_hidden=n))
    with torch.no_grad():
        model.cell.weight_hh.copy_(w_hh)
        model.cell.weight_ih.copy_(w_ih)
        model.cell.bias_ih.copy_(bias)
        model.cell.bias_hh.zero_()
        model.readout.weight.zero_()
        model.readout.weight[:, q:] = par.readout.weight.detach()
        model.readout.bias.zero_()
        init = torch.zeros(n)
        init[c] = init[q] = 1
        model.h_init.copy_(init)
    return model


def test_extraction_of_a_hand_built_parity_rnn_is_the_parity_machine():
    task = ParityTask()
    model = parity_rnn()
    exact = length_generalisation(model, task)  # outputs exactly the one-hot parity
    assert exact.string_acc == [1.0] * 4 and exact.position_mse == [0.0] * 4
    for method in ("leader", "scale-free"):
        res = extract_automaton(model, task, method=method)
        assert res.complete and res.conflicts == 0 and res.parity_machine
        assert res.n_minimal == 2
    # four distinct points (the initial state is u1's point): the leader rule finds four
    assert extract_automaton(model, task).n_states == 4
    assert analyze(model).automaton.parity_machine


def test_extraction_of_a_tree_memorising_rnn_is_the_tree():
    task = ParityTask()
    model = tree_rnn()
    states, _ = prefix_states(model, task.max_len)
    assert len(torch.unique(states, dim=0)) == 2047
    res = extract_automaton(model, task)
    assert res.n_states == 2047 and not res.complete and res.conflicts == 0
    # equivalent: same depth and parity (the root, then two per depth 1..10)
    assert res.n_minimal == 21 and not res.parity_machine
    small = extract_automaton(tree_rnn(4), ParityTask(max_len=4), method="scale-free")
    assert small.n_states == 31 and small.n_minimal == 9


class _Wrapped(nn.Module):
    """A recurrent learner that is not a HookedRNN: the hand-built parity RNN behind the
    three methods the automaton reads."""

    def __init__(self, rnn: HookedRNN) -> None:
        super().__init__()
        self.rnn = rnn
        self.readout = rnn.readout

    def initial_state(self, batch: int) -> torch.Tensor:
        return self.rnn.initial_state(batch)

    def hidden(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.rnn.hidden(tokens)


def test_the_guards_ask_the_family_and_the_learner_not_the_type(trained):
    """Any recurrent learner (initial_state, hidden, readout) is read as the HookedRNN is;
    a task of another family and a learner that is neither are refused in one line, and
    so are the over-training analyses on a run of another family or learner."""
    from grok_interp.analyses.common import AnalysisError
    from grok_interp.analyses.sequence_heads import head_scores_over_training

    task = ParityTask(max_len=6)
    ours, theirs = extract_automaton(parity_rnn(), task), extract_automaton(
        _Wrapped(parity_rnn()), task)  # fmt: skip
    assert theirs.parity_machine and np.array_equal(theirs.labels, ours.labels)
    # (a task of another type is refused by the annotations before the guard asks)
    from grok_interp.capabilities import StreamingStrings

    assert isinstance(task, StreamingStrings) and not isinstance(Task(p=5), StreamingStrings)
    with pytest.raises(AnalysisError, match="recurrent learner"):
        extract_automaton(nn.Linear(2, 2), task)
    with pytest.raises(AnalysisError, match="repeat or skip_trigram"):
        head_scores_over_training(trained)
    on_tf = replace(trained, model=preset("small"))
    with pytest.raises(AnalysisError, match="an RNN's hidden states"):
        interaction_over_training(on_tf, steps=[0])


def test_hopcroft_on_known_automata():
    # the ones counted mod 4, output the count mod 2: minimal is the parity machine
    mod4 = Automaton(transitions=np.array([[0, 1], [1, 2], [2, 3], [3, 0]]),
                     outputs=np.array([0, 1, 0, 1]))  # fmt: skip
    assert mod4.minimal().n_states == 2 and mod4.is_parity_machine()
    # mod 3 with output "count = 0" is already minimal
    mod3 = Automaton(transitions=np.array([[0, 1], [1, 2], [2, 0]]), outputs=np.array([1, 0, 0]))
    assert mod3.minimal().n_states == 3 and not mod3.is_parity_machine()
    # an unreachable state and two equivalent ones: 5 -> 3
    dfa = Automaton(transitions=np.array([[1, 2], [3, 3], [3, 3], [3, 3], [0, 0]]),
                    outputs=np.array([0, 1, 1, 0, 1]))  # fmt: skip
    m = dfa.minimal()
    assert m.n_states == 3 and m.run("0101") == dfa.run("0101")
    blocks = hopcroft(np.array([[1, 2], [3, 3], [3, 3], [3, 3]]), np.array([0, 1, 1, 0]))
    assert blocks[1] == blocks[2] and len(set(blocks.tolist())) == 3
    # a partial automaton: missing transitions go to a sink, which is not counted
    part = Automaton(transitions=np.array([[1, -1], [-1, -1]]), outputs=np.array([0, 1]))
    assert part.minimal().n_states == 2 and not part.complete


def test_interaction_formulas_on_constructed_pairs():
    # equal targets: y~ = 0, so A_low = 0 and A_high = -1 / <gain> < 0: they merge
    dy = torch.tensor([[[1.0, 1.0], [0.0, 2.0]]])  # gains 2/2 = 1 and 4/2 = 2: mean 1.5
    a_low, a_high, pred = interaction_terms(torch.zeros(1, 2, 2), dy, torch.tensor([2.0]))
    assert a_low.item() == 0 and a_high.item() == pytest.approx(-1 / 1.5) and pred.item() == 0
    assert merger_predicted(a_low, a_high).item()
    # opposite targets under the two continuations: <y~> = 0, <||y~||^2> = 2
    y_tilde = torch.tensor([[[-1.0, 1.0], [1.0, -1.0]]])
    dy = torch.tensor([[[1.0, 1.0], [1.0, -1.0]]])  # gains 1 and 1
    a_low, a_high, pred = interaction_terms(y_tilde, dy, torch.tensor([2.0]))
    assert (a_low.item(), a_high.item()) == (2.0, -1.0)
    assert pred.item() == pytest.approx((-1 + 3) / 2) and not merger_predicted(a_low, a_high).item()


def test_training_resumes_bit_for_bit_and_a_transformer_trains_too(tmp_path):
    spec = parity_spec(epochs=6, eval_every=2, snapshot_every=3)
    spec = replace(spec, task=ParityTask(max_len=6), model=RNNPreset(d_hidden=16))
    full, resumed = full_and_resumed(spec, 3, tmp_path / "r.pt")
    for k, v in full.weights.items():
        assert torch.equal(resumed.weights[k], v), k
    assert set(full.history) >= {"train_loss", "test_loss", "test_position_loss", "test_acc",
                                 "test_string_acc"}  # fmt: skip
    frame = automaton_over_training(load_run(tmp_path / "r.pt"))
    assert frame["epoch"].tolist() == [0, 3, 6]
    tf = replace(spec, model=preset("small", n_layers=1), task=ParityTask(max_len=6, n_ctx=100))
    run = train(tf, progress=False)
    res = length_generalisation(rnn_or_tf(run), run.task)
    assert res.lengths == [50, 100, 1000, 10000] and np.isnan(res.position_acc[2])
    model = rnn_or_tf(run)
    auto = extract_automaton(model, run.task)  # the final residual stream's states
    _check_transformer_states(model, auto)
    assert "interaction" in analyze(run).not_run
    with pytest.raises(ValueError, match="streaming parity only"):
        train(replace(spec, task=Task()), progress=False)


def _check_transformer_states(model, auto):
    """A transformer's prefix states, read independently: each prefix alone through the
    model, its last position's final residual stream; the empty string (no state) is
    left out of the states' spread that sets the leader rule's merge distance."""
    import itertools

    name = f"blocks.{model.cfg.n_layers - 1}.hook_resid_post"
    states, _ = prefix_states(model, 6)
    assert states.shape[0] == auto.n_nodes == 127 and states[0].isnan().all()
    for n in range(1, 7):
        for k, bits in enumerate(itertools.product((0, 1), repeat=n)):
            _, cache = model.run_with_cache(torch.tensor([bits]), names_filter=name)
            want = cache[name][0, -1].double()
            assert torch.allclose(states[2**n - 1 + k], want, atol=1e-5), bits
    spread = np.linalg.norm(states[1:].numpy().std(0))
    assert auto.merge_distance == pytest.approx(0.01 * spread, rel=1e-9)
    # each state's nodes lie within the merge distance of its first node (the leader)
    labels = auto.labels[1:]
    for s in np.unique(labels):
        rows = states[1:][labels == s].numpy()
        assert (np.linalg.norm(rows - rows[0], axis=1) < auto.merge_distance).all()


def rnn_or_tf(run):
    return snapshot_model(run)


@pytest.fixture(scope="module")
def trained():
    """The shipped run: the authors' RNN at their settings, 1,000 epochs (README)."""
    return load_run(Path(__file__).parents[1] / "checkpoints" / "parity_rnn.pt")


def test_a_trained_rnn_merges_its_tree_into_the_parity_machine(trained):
    assert trained.history["test_string_acc"][-1] == 1.0
    res = extract_automaton(rnn_from_run(trained), trained.task)
    assert res.parity_machine and res.n_minimal == 2
    assert length_generalisation(rnn_from_run(trained), trained.task).string_acc[-1] == 1.0
    frame = automaton_over_training(trained, method="scale-free")
    peak = frame["n_states"].idxmax()
    assert frame["n_states"][peak] > 100 > frame["n_states"].iloc[-1]  # the tree, then mergers
    assert frame["test_loss"][peak] > 0.2 > frame["test_loss"].iloc[-1]
    lengths = lengths_over_training(trained, steps=[0, 1000]).set_index("epoch")
    assert (lengths.loc[1000, "string_acc"] == 1).all()
    assert (lengths.loc[0, "string_acc"] == 0).all()
    inter = interaction_over_training(trained, n_pairs=20, steps=[0, 1000])
    for epoch in (0, 1000):
        _check_interaction_terms(snapshot_model(trained, epoch), inter[inter["epoch"] == epoch])
    end = inter[inter["epoch"] == 1000]
    assert not end[~end["equal_target"]]["merged_final"].any()
    # equal targets: the final automaton keeps (parity, last symbol) apart (README)
    equal = end[end["equal_target"]]
    same_last = equal["x1"].str[-1] == equal["x2"].str[-1]
    assert (equal["merged_final"] == same_last).all() and 0 < same_last.sum() < len(equal)


def _check_interaction_terms(model, frame):
    """Equations (4)-(6) of the notes, written out for each pair from the strings: every
    continuation c with |x c| <= 10, the model run on x_1 c and x_2 c, the targets the
    parity of x c."""
    import itertools

    for row in frame.itertuples():
        x1, x2 = ([int(ch) for ch in x] for x in (row.x1, row.x2))
        ks = range(10 - max(len(x1), len(x2)) + 1)
        conts = [list(c) for k in ks for c in itertools.product((0, 1), repeat=k)]
        with torch.no_grad():  # the model's output after x c, one batch per length of c
            y = [torch.cat([model(torch.tensor([x + c for c in conts if len(c) == k]))[:, -1]
                            for k in ks]).double() for x in (x1, x2)]  # fmt: skip
            h = [model.hidden(torch.tensor([x]))[0, -1].double() for x in (x1, x2)]
        onehot = [torch.eye(2)[[sum(x + c) % 2 for c in conts]].double() for x in (x1, x2)]
        y_tilde = onehot[1] - onehot[0]
        dh2 = float(((h[1] - h[0]) ** 2).sum())
        a_low = float((y_tilde**2).sum(1).mean() - (y_tilde.mean(0) ** 2).sum())
        gain = float(((y[1] - y[0]) ** 2).sum(1).mean() / dh2)
        a_high = float((y_tilde.mean(0) ** 2).sum() - 1 / gain)
        pred = (a_high + (a_high**2 + 4 * a_low) ** 0.5) / 2
        assert row.dh2 == pytest.approx(dh2, rel=1e-4)
        assert row.A_low == pytest.approx(a_low, abs=1e-12)
        # float32 outputs of nearly merged states differ by rounding from batch to batch
        assert row.A_high == pytest.approx(a_high, rel=1e-3)
        assert row.dh2_pred == pytest.approx(pred, rel=1e-3, abs=1e-9)
        assert row.merge_pred == (abs(a_low) <= 1e-12 and a_high < 0)


def test_a_sweep_trains_rnn_points_and_resumes(tmp_path):
    from grok_interp.sweeps import Grid, run_sweep

    base = replace(parity_spec(epochs=2, eval_every=1, snapshot_every=1),
                   task=ParityTask(max_len=4), model=RNNPreset(d_hidden=8))  # fmt: skip
    grid = Grid(values={"seed": [0, 1], "model.gain": [0.1, 0.5]}, base=base)
    table = run_sweep(grid, tmp_path / "s", progress=False)
    assert len(table) == 4 and table["final_test_string_acc"].notna().all()
    again = run_sweep(grid, tmp_path / "s", progress=False)
    assert again["final_train_loss"].tolist() == table["final_train_loss"].tolist()


def test_clear_errors_for_what_does_not_fit(trained):
    from grok_interp.analyses.common import AnalysisError
    from grok_interp.models import build_model
    from grok_interp.runs import model_from_run

    with pytest.raises(AnalysisError, match="reads 2 symbols"):
        extract_automaton(build_model(preset("small"), Task(p=31)), ParityTask())
    assert isinstance(model_from_run(trained), HookedRNN)  # one loader, whatever the family
    with pytest.raises(ValueError, match="max_len <= 20"):
        ParityTask(max_len=30)
    with pytest.raises(ValueError, match="batch_size applies to streaming parity"):
        train(replace(parity_spec(), task=Task(p=31), model=preset("small")), progress=False)


def test_analyze_reports_a_parity_run_and_saves_it(trained, tmp_path):
    import json

    report = analyze(trained)
    assert set(report.results) == {"automaton", "automaton_scale_free", "length_generalisation",
                                   "states_over_training", "interaction"}  # fmt: skip
    assert report.automaton_scale_free.parity_machine and not report.not_run
    table = report.table5().set_index("quantity")["ours"]
    assert table["whole-string accuracy, length 10000"] == "100.00%"
    paths = report.save(tmp_path / "rep")
    doc = json.loads((tmp_path / "rep" / "report.json").read_text())
    assert doc["results"]["automaton"]["values"]["n_minimal"] == 2
    assert any(p.name == "index.html" and p.stat().st_size > 10_000 for p in paths)
