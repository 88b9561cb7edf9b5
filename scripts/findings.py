"""The README's measured numbers, recomputed: each number a reader may quote names the
command that produces it, and the cheap ones are checked here against the shipped
checkpoints (``checkpoints/*.pt``, already trained), so a stale number fails a test.

    python scripts/findings.py            # check; print each stale value and its fresh text
    python scripts/findings.py --write    # rewrite the stale values in README.md in place
    python scripts/findings.py --list     # every finding, its section and its command

A finding is a :class:`Finding`: the README section it lives in (its ``## `` heading),
the command that produces its numbers (which must appear in the same paragraph or table
of the README), a template of the README's text with ``{name}`` placeholders, and a
function that computes those values from the checkpoints. The template's words must
occur once in the section (whitespace, line breaks included, is free); each placeholder
then holds the text the README shows, compared with the fresh value as a string, so the
rounding is the finding's. ``--write`` replaces only the placeholders' text, keeps the
README's words and line breaks, and writes nothing unless every finding then matches.

Adding a section's findings: write a function ``_my_values() -> dict[str, str]`` (cache
what several findings share with ``functools.cache``; keep each under a few seconds, the
whole check runs in ``tests/test_findings.py`` within about a minute), add a
``Finding(...)`` to ``FINDINGS`` with the section heading, the command and the template
copied from the README with numbers replaced by placeholders, then run
``python scripts/findings.py --write`` and review the diff. Numbers that take longer
than a minute to measure (training sweeps) are not checked here; they still name their
command in the README.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path[:1]:  # this checkout's grok_interp, not an installed one
    sys.path.insert(0, str(ROOT))
README = ROOT / "README.md"
# The README and the pages it links to; a finding lives in the one holding its section.
DOCS = (README, *sorted((ROOT / "docs").glob("*.md")))
SEEDS = ("mainline", "seed1", "seed2", "seed3", "seed4")


@dataclass(frozen=True)
class Finding:
    """README text with placeholders, and the function that computes their values."""

    name: str
    section: str  # the README heading, without the leading "## "
    command: str  # must appear in the paragraph (or table) that holds the finding
    template: str
    values: Callable[[], dict[str, str]]


@dataclass(frozen=True)
class Check:
    finding: Finding
    problem: str  # "" when the README holds the fresh values
    line: int = 0
    spans: tuple[tuple[int, int, str], ...] = ()  # (start, end, fresh value) of stale ones


# ---- formatting: the README's roundings, one place -------------------------------------


def k(epoch: float) -> str:
    """Epochs as the README writes them: 500, 1k, 7.5k, 13k."""
    if epoch < 1000:
        return f"{epoch:.0f}"
    return f"{epoch / 1000:.1f}".removesuffix(".0") + "k"


def span(values: Sequence[float], fmt: str = "{:.0f}", unit: str = "") -> str:
    """``lo-hi`` of the formatted values (one value when they round alike)."""
    lo, hi = fmt.format(min(values)), fmt.format(max(values))
    return f"{lo}{unit}" if lo == hi else f"{lo}-{hi}{unit}"


def k_span(epochs: Sequence[float]) -> str:
    lo, hi = k(min(epochs)), k(max(epochs))
    return lo if lo == hi else f"{lo}-{hi}"


# ---- the shipped runs ------------------------------------------------------------------


@cache
def _run(name: str):
    from grok_interp import load_run

    return load_run(ROOT / "checkpoints" / f"{name}.pt")


@cache
def _fig9(name: str):
    from grok_interp.analyses.efficiency import efficiency_over_training

    return efficiency_over_training(_run(name))


def _snapshot_values() -> dict[str, str]:
    main = sorted(_run("mainline").snapshots)
    dense = [e for e in main if e <= 16000]
    assert dense == list(range(0, 16001, 1000)), dense
    assert main[len(dense) :] == list(range(20000, 40001, 4000)), main
    seeds = {tuple(sorted(_run(n).snapshots)) for n in SEEDS[1:]}
    assert len(seeds) == 1, seeds
    return {"main_n": str(len(main)), "seeds_n": str(len(next(iter(seeds)))),
            "seeds": ", ".join(k(e) for e in next(iter(seeds)))}  # fmt: skip


def _fig9_mainline() -> dict[str, str]:
    f = _fig9("mainline").set_index("epoch")
    norm, mem, trig = f["param_norm"], f["o_mem_train"], f["o_trig_train"]
    share = f["trig_norm_share"]
    return {
        "norm_peak": f"{norm.max():.0f}", "norm_peak_at": k(norm.idxmax()),
        "norm_10k": f"{norm[10000]:.0f}",
        "mem_peak": f"{mem.max():.0f}", "mem_peak_at": k(mem.idxmax()),
        "mem_10k": f"{mem[10000]:.2f}",
        "trig_1k": f"{trig[1000]:.0f}", "trig_peak": f"{trig.max():.0f}",
        "trig_peak_at": k(trig.idxmax()), "trig_end": f"{trig.iloc[-1]:.0f}",
        "share_1k": f"{100 * share[1000]:.1f}%", "share_10k": f"{100 * share[10000]:.1f}%",
        "cleanup": k_span(_run("mainline").progress["phases"][1:]),
    }  # fmt: skip


def _fig9_runs() -> dict[str, str]:
    frames = {n: _fig9(n).set_index("epoch") for n in SEEDS}
    seeds = [frames[n] for n in SEEDS[1:]]
    main = frames["mainline"]
    first = {k(f["param_norm"].iloc[1:].idxmax()) for f in seeds}
    assert first == {k(seeds[0].index[1])}, first  # each seed peaks at its first snapshot
    last = [f.iloc[-1] for f in frames.values()]
    return {
        "m_norm": f"{main['param_norm'].max():.0f}", "m_norm_at": k(main["param_norm"].idxmax()),
        "s_norm": span([f["param_norm"].max() for f in seeds]), "s_norm_at": first.pop(),
        "end_norm": span([r["param_norm"] for r in last]),
        "m_mem": f"{main['o_mem_train'].max():.0f}",
        "s_mem": span([f["o_mem_train"].max() for f in seeds]),
        "mem_end": span([r["o_mem_train"] for r in last], "{:.3f}"),
        "trig_end": span([r["o_trig_train"] for r in last]),
        "share_end": span([100 * r["trig_norm_share"] for r in last], "{:.2f}", "%"),
    }  # fmt: skip


def _grokking_values() -> dict[str, str]:
    from grok_interp.sweeps import results_table

    return {"grok": k_span(results_table([_run(n) for n in SEEDS])["epoch_test_acc_99"])}


@cache
def _parity_run():
    from grok_interp.runs import load_run

    return load_run(ROOT / "checkpoints" / "parity_rnn.pt")


def _parity_final() -> dict[str, str]:
    from grok_interp.analyses.automaton import extract_automaton
    from grok_interp.runs import rnn_from_run

    run = _parity_run()
    h = {k: v[-1] for k, v in run.history.items()}
    auto = extract_automaton(rnn_from_run(run), run.task, method="scale-free")
    assert h["epoch"] == 1000 and auto.parity_machine
    return {
        "train_loss": f"{h['train_loss']:.1e}".replace("e-0", "e-"),
        "test_loss": f"{h['test_loss']:.1e}".replace("e-0", "e-"),
        "train_acc": f"{h['train_acc']:.2f}", "test_acc": f"{h['test_acc']:.2f}",
        "states": str(auto.n_states), "minimal": str(auto.n_minimal),
    }  # fmt: skip


def _parity_generalised() -> dict[str, str]:
    h = _parity_run().history
    hit = [e for e, a in zip(h["epoch"], h["test_string_acc"], strict=True) if a == 1.0]
    return {"epoch": f"{hit[0]:.0f}"}


SHIPPED = "Shipped runs"
FIGURES = "Figures (`examples/`)"
VARMA = "Circuit efficiency (Varma et al. 2023)"
PARITY = "Streaming parity (van Rossem & Saxe 2025)"

FINDINGS: tuple[Finding, ...] = (
    Finding(
        "snapshots",
        SHIPPED,
        "scripts/make_checkpoints.sh",
        "a thinned set of float16 snapshots ({main_n} of the mainline: every 1k epochs to "
        "16k, then every 4k; {seeds_n} of each seed: {seeds})",
        _snapshot_values,
    ),
    Finding(
        "grokking epochs",
        FIGURES,
        "fig02_seeds.py",
        "against {grok} for the shipped 30% runs",
        _grokking_values,
    ),
    Finding(
        "Varma Fig 9, mainline",
        FIGURES,
        "varma_fig09_efficiency.py",
        "the parameter norm peaks at {norm_peak} ({norm_peak_at} epochs) and falls to "
        "{norm_10k} by 10k; the memorisation logit on the training pairs peaks at {mem_peak} "
        "({mem_peak_at}) and falls to {mem_10k} by 10k, while the trigonometric logit grows "
        "from {trig_1k} (1k) to {trig_peak} ({trig_peak_at}) and settles at {trig_end}; the "
        "trigonometric share of the logit norm goes from {share_1k} (1k) to {share_10k} (10k)."
        " C_trig replaces C_mem as the paper describes, in the cleanup phase that the "
        "progress measures place at {cleanup}.",
        _fig9_mainline,
    ),
    Finding(
        "parity, the shipped run's last row",
        PARITY,
        "examples/vanrossem_parity.py out/parity",
        "| 1,000 | {train_loss} / {test_loss} | {train_acc} / {test_acc} | 47 (2) | "
        "{states} ({minimal}), the parity machine |",
        _parity_final,
    ),
    Finding(
        "parity, epoch of generalisation",
        PARITY,
        "grok-interp bench",
        "The shipped run first gets every validation string right at epoch {epoch} (of its",
        _parity_generalised,
    ),
    Finding(
        "Varma Fig 9, five runs",
        VARMA,
        "varma_fig09_efficiency.py --checkpoint",
        "the parameter norm peaks early (mainline {m_norm} at {m_norm_at} epochs; seeds 1-4 "
        "{s_norm} at their first snapshot, {s_norm_at}) and ends at {end_norm}; the "
        "memorisation logit on the training pairs peaks (mainline {m_mem}; seeds {s_mem}) and "
        "falls to {mem_end}; the trigonometric logit ends at {trig_end}, and the "
        "trigonometric share of the logit norm at {share_end}.",
        _fig9_runs,
    ),
)


# ---- checking and writing --------------------------------------------------------------


def sections(text: str) -> dict[str, tuple[int, int]]:
    """Each ``## `` heading's (start, end) offsets in ``text``."""
    heads = [(m.group(1).strip(), m.start()) for m in re.finditer(r"^## (.+)$", text, re.M)]
    ends = [start for _, start in heads[1:]] + [len(text)]
    return {name: (start, end) for (name, start), end in zip(heads, ends, strict=True)}


def pattern(template: str) -> re.Pattern[str]:
    """The template's words (any whitespace between them) with a group per placeholder (no
    parentheses inside one); the match never ends inside a word or number."""
    parts = re.split(r"\{(\w+)\}", template)
    out = []
    for i, part in enumerate(parts):
        if i % 2:
            out.append(rf"(?P<{part}>[^()]+?)")
        else:
            out.append(r"\s+".join(re.escape(w) for w in re.split(r"\s+", part)))
    return re.compile("".join(out) + r"(?![\w%])")


def _norm(s: str) -> str:
    return " ".join(s.split())


def check(finding: Finding, text: str) -> Check:
    where = sections(text).get(finding.section)
    if where is None:
        return Check(finding, f"no README section '## {finding.section}'")
    matches = list(pattern(finding.template).finditer(text, *where))
    if len(matches) != 1:
        return Check(finding, f"its words occur {len(matches)} times in '## {finding.section}'"
                     " (reworded? update its template in scripts/findings.py)")  # fmt: skip
    m = matches[0]
    line = text.count("\n", 0, m.start()) + 1
    para = _paragraph(text, m.start(), m.end())
    if _norm(finding.command) not in _norm(para):
        return Check(finding, f"its paragraph does not name the command `{finding.command}`",
                     line)  # fmt: skip
    fresh = finding.values()
    stale = tuple((m.start(n), m.end(n), v) for n, v in fresh.items() if _norm(m[n]) != v)
    if not stale:
        return Check(finding, "", line)
    said = "; ".join(f"{n}: README '{_norm(m[n])}', fresh '{v}'"
                     for n, v in fresh.items() if _norm(m[n]) != v)  # fmt: skip
    return Check(finding, f"stale ({said})", line, stale)


def _paragraph(text: str, start: int, end: int) -> str:
    """The blank-line-separated block around [start, end), with the block before it
    when it is a table (the sentence that introduces a table names its command)."""
    a = text.rfind("\n\n", 0, start)
    b = text.find("\n\n", end)
    block = text[a + 2 if a >= 0 else 0 : b if b >= 0 else len(text)]
    if block.startswith("|") and a > 0:
        return _paragraph(text, a, a) + "\n\n" + block
    return block


def check_all(text: str, findings: Sequence[Finding] = FINDINGS) -> list[Check]:
    return [check(f, text) for f in findings]


def fresh_text(finding: Finding) -> str:
    return finding.template.format(**finding.values())


def rewrite(text: str, checks: Sequence[Check]) -> str:
    """``text`` with every stale placeholder replaced by its fresh value."""
    spans = sorted((s for c in checks for s in c.spans), reverse=True)
    for start, end, value in spans:
        text = text[:start] + value + text[end:]
    return text


def report(checks: Sequence[Check]) -> str:
    lines = []
    for c in checks:
        if c.problem:
            lines.append(f"README.md:{c.line} [{c.finding.section}] {c.finding.name}: "
                         f"{c.problem}\n  fresh text: {fresh_text(c.finding)}\n"
                         f"  command: {c.finding.command}")  # fmt: skip
    return "\n".join(lines)


def by_document(findings: Sequence[Finding] = FINDINGS) -> dict[Path, list[Finding]]:
    """Each finding under the document (README.md or docs/*.md) that holds its section."""
    found: dict[Path, list[Finding]] = {}
    for f in findings:
        homes = [d for d in DOCS if f.section in sections(d.read_text())]
        found.setdefault(homes[0] if homes else README, []).append(f)
    return found


def check_docs(findings: Sequence[Finding] = FINDINGS) -> dict[Path, list[Check]]:
    return {d: check_all(d.read_text(), fs) for d, fs in by_document(findings).items()}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--write", action="store_true", help="rewrite stale values")
    parser.add_argument("--list", action="store_true", help="list the findings")
    args = parser.parse_args(argv)
    if args.list:
        for f in FINDINGS:
            print(f"[{f.section}] {f.name}: {f.command}")
        return 0
    failed = 0
    for doc, checks in check_docs().items():
        name = doc.relative_to(ROOT)
        if args.write and any(c.spans for c in checks):
            new = rewrite(doc.read_text(), checks)
            if any(c.problem for c in check_all(new, [c.finding for c in checks])):
                print(f"not written: the rewritten {name} would still fail", file=sys.stderr)
                return 1
            doc.write_text(new)
            print(f"rewrote {sum(len(c.spans) for c in checks)} values in {name}")
            checks = check_all(new, [c.finding for c in checks])
        bad = report(checks).replace("README.md:", f"{name}:")
        print(bad or f"all {len(checks)} findings match {name}")
        failed += bool(bad)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
