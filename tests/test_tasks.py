import pytest
import torch
from jaxtyping import TypeCheckError

from grok_interp.tasks import OPERATIONS, Task, TaskError, heldout_indices, split


def test_add_layout_and_labels():
    t = Task(op="add", p=7)
    toks, labels = t.tokens(), t.labels()
    assert toks.shape == (49, 3) and t.d_vocab == 8 and t.n_ctx == 3
    assert (toks[:, 2] == 7).all()
    i = 3 * 7 + 5  # a-major order
    assert toks[i].tolist() == [3, 5, 7] and labels[i] == (3 + 5) % 7
    assert labels.reshape(7, 7)[4, 6] == (4 + 6) % 7


def test_power_format():
    t = Task(op="sub", p=5, token_format="a o b =")
    assert t.d_vocab == 7 and t.n_ctx == 4 and t.eq_token == 6
    assert t.tokens()[2 * 5 + 4].tolist() == [2, 5, 4, 6]
    assert t.labels()[2 * 5 + 4] == (2 - 4) % 5


@pytest.mark.parametrize("op", [op for op, f in OPERATIONS.items() if f.needs != "group"])
def test_every_operation_matches_python(op):
    t = Task(op=op, p=11)
    ab, labels = t.pairs(), t.labels()
    formulas = {
        "add": lambda a, b: a + b,
        "sub": lambda a, b: a - b,
        "mul": lambda a, b: a * b,
        "div": lambda a, b: a * pow(b, -1, 11),
        "x2_plus_y2": lambda a, b: a * a + b * b,
        "x2_plus_xy_plus_y2": lambda a, b: a * a + a * b + b * b,
        "x3_plus_xy": lambda a, b: a**3 + a * b,
        "div_or_sub": lambda a, b: a * pow(b, -1, 11) if b % 2 else a - b,
        "x2_plus_xy_plus_y2_plus_x": lambda a, b: a * a + a * b + b * b + a,
        "x3_plus_xy2_plus_y": lambda a, b: a**3 + a * b * b + b,
        "sum": lambda a, b: a + b,  # no modulus (Liu et al.'s toy addition)
    }
    modulus = 10**9 if op == "sum" else 11
    expected = [formulas[op](int(a), int(b)) % modulus for a, b in ab]
    assert labels.tolist() == expected


def test_div_skips_zero_divisor():
    t = Task(op="div", p=7)
    assert t.n_pairs == 42 and (t.pairs()[:, 1] != 0).all() and not t.full_grid


def test_errors_are_clear():
    with pytest.raises(TaskError, match="prime"):
        Task(op="div", p=12)
    with pytest.raises(TaskError, match="known tasks: add, sum, sub"):
        Task(op="pow")
    # Under the test suite's runtime type checker the Literal is checked first.
    with pytest.raises((TaskError, TypeCheckError), match="token.format"):
        Task(token_format="a+b=")  # type: ignore[arg-type]
    t = Task(p=7)
    with pytest.raises(TaskError, match=r"\(0, 1\]"):
        split(t, frac_train=1.5)
    with pytest.raises(TaskError, match="training set would be empty"):
        split(t, frac_train=0.001)
    with pytest.raises(TaskError, match="test set would be empty"):
        split(t, frac_train=1.0)
    with pytest.raises(TaskError, match="exactly one"):
        split(t, frac_train=0.3, n_train=10)


def test_split_is_seeded_and_exact():
    t = Task(p=13)
    a, b = split(t, frac_train=0.3, seed=1), split(t, frac_train=0.3, seed=1)
    assert torch.equal(a, b) and len(a) == round(0.3 * 169)
    assert not torch.equal(a, split(t, frac_train=0.3, seed=2))
    n = split(t, n_train=50, seed=0)
    assert len(n) == 50 and len(torch.unique(n)) == 50
    test = heldout_indices(t, n)
    assert len(test) == 119 and not set(test.tolist()) & set(n.tolist())


def test_split_leaves_global_rng_alone():
    torch.manual_seed(0)
    before = torch.rand(1)
    torch.manual_seed(0)
    split(Task(p=13), frac_train=0.5, seed=3)
    assert torch.equal(before, torch.rand(1))


def test_power_et_al_operations_known_answers():
    p = 7
    pairs = {(3, 5), (4, 2), (6, 0), (2, 3)}
    inv = {b: pow(b, p - 2, p) for b in range(1, p)}
    expect = {
        "div_or_sub": lambda a, b: a * inv[b] % p if b % 2 else (a - b) % p,
        "x2_plus_xy_plus_y2_plus_x": lambda a, b: (a * a + a * b + b * b + a) % p,
        "x3_plus_xy2_plus_y": lambda a, b: (a**3 + a * b * b + b) % p,
    }
    for op, f in expect.items():
        task = Task(op=op, p=p, token_format="a o b =")
        table = dict(zip(map(tuple, task.pairs().tolist()), task.labels().tolist(), strict=True))
        for a, b in pairs:
            assert table[(a, b)] == f(a, b), (op, a, b)
    with pytest.raises(TaskError, match="prime"):
        Task(op="div_or_sub", p=8)


def test_s5_tasks():
    from itertools import permutations

    from grok_interp.tasks import s5_table

    perms = list(permutations(range(5)))
    table, inverse = s5_table()
    assert perms[0] == (0, 1, 2, 3, 4) and table[0].tolist() == list(range(120))  # identity
    x, y = perms[17], perms[88]
    assert perms[int(table[17, 88])] == tuple(x[y[i]] for i in range(5))  # (x∘y)(i) = x(y(i))
    assert all(int(table[i, inverse[i]]) == 0 for i in range(120))
    task = Task(op="s5_xyx_inv", p=120, token_format="a o b =")
    assert task.group and task.n_pairs == 120 * 120 and task.d_vocab == 122
    labels = task.labels().reshape(120, 120)
    assert labels[:, 0].tolist() == [0] * 120  # x∘e∘x^-1 = e
    assert Task(op="s5_xyx", p=120).labels().reshape(120, 120)[0].tolist() == list(range(120))
    with pytest.raises(TaskError, match="p = 120"):
        Task(op="s5_xy", p=113)
    assert "over S5" in task.describe()


@pytest.mark.parametrize("op,p", [("s5_xy", 120), ("div_or_sub", 13), ("x3_plus_xy2_plus_y", 13)])
def test_new_tasks_train_and_the_fourier_analyses_refuse_groups(op, p):
    from grok_interp.models import preset
    from grok_interp.report import analyze
    from grok_interp.runs import TrainConfig, model_from_run
    from grok_interp.training import RunSpec, train

    task = Task(op=op, p=p, token_format="a o b =")
    cfg = TrainConfig(epochs=30, lr=3e-3, frac_train=0.5, eval_every=10)
    spec = RunSpec(task=task, model=preset("small", d_model=32, d_head=8, d_mlp=64), train=cfg)
    h = train(spec, progress=False).history
    assert h["train_loss"][-1] < h["train_loss"][0] and h["param_norm"][-1] > 0
    report = analyze(model_from_run(train(spec, progress=False)), task)
    if task.group:  # the Fourier analyses refuse it; what reads no Fourier basis runs
        assert "over S5" in report.not_run["neurons"] and "embedding" not in report.results
        assert "circuit_density" in report.results and report.losses["all"][0] > 0


def test_a_layout_stated_as_a_string_needs_no_code():
    """A task is a structure, an operation and a layout (docs/DESIGN.md): a layout the
    package has never seen is a string, and the tokens, vocabulary and answer follow it."""
    from grok_interp.layouts import layout

    t = Task(op="sub", p=5, token_format="b = a o, answer at 1")
    lay = t.layout
    assert (lay.slots, lay.answer_pos, lay.a_pos, lay.b_pos) == (("b", "=", "a", "o"), 1, 2, 0)
    # extra tokens follow the operands' vocabulary in the order they appear: '=' 5, 'o' 6
    assert t.tokens()[2 * 5 + 4].tolist() == [4, 5, 2, 6] and t.d_vocab == 7
    assert t.eq_token == 5 and t.answer_pos == 1
    sep = Task(op="add", p=5, token_format="a b, bidirectional, separate vocab")
    assert sep.tokens()[3].tolist() == [0, 8] and sep.d_vocab == 10 and not sep.causal
    assert layout(sep.token_format).name == sep.token_format  # the string round-trips
    with pytest.raises(TaskError, match="token_format"):
        Task(token_format="a a =")
    with pytest.raises(TaskError, match="answer position"):
        Task(token_format="a b =, answer at 5")


def test_a_structure_registered_by_a_test_is_a_task_without_other_code():
    """The Klein four-group Z2 x Z2 from its table: the group operations apply to it, the
    ring ones refuse it, and a Run file holds its name."""
    from grok_interp.structures import TableGroup, register_structure, unregister_structure
    from grok_interp.tasks import task_dict

    klein = torch.tensor([[a ^ b for b in range(4)] for a in range(4)])  # XOR on 2 bits
    register_structure("V4", lambda: TableGroup("V4", klein))
    try:
        t = Task.over("V4", "xyx_inv")
        assert t.p == 4 and t.group and not t.cyclic
        assert t.labels().reshape(4, 4).tolist() == [[b for b in range(4)]] * 4  # abelian
        assert Task.over("V4", "xy").labels().reshape(4, 4).tolist() == klein.tolist()
        assert task_dict(t)["structure"] == "V4" and Task(**task_dict(t)) == t
        with pytest.raises(TaskError, match="ring"):
            Task(op="mul", p=4, structure="V4")
    finally:
        unregister_structure("V4")


def test_group_operations_on_z_p_are_its_addition_and_old_task_dicts_are_unchanged():
    from grok_interp.tasks import task_dict

    assert Task(op="xy", p=7).labels().tolist() == Task(op="add", p=7).labels().tolist()
    assert task_dict(Task()) == {"op": "add", "p": 113, "token_format": "a b =",
                                 "unordered": False}  # fmt: skip
