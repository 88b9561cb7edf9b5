"""The Python blocks of the README and of the pages it links to (``docs/*.md``) run as
written, each on its own, from the repository root, with the one documented switch:
``EPOCHS = 40_000`` becomes 20."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def blocks(path: Path) -> list[str]:
    return re.findall(r"```python\n(.*?)```", path.read_text(), re.S)


CASES = [pytest.param(p, i, marks=[] if p.name == "README.md" else [pytest.mark.slow],
                      id=f"{p.name}-{i + 1}") for p in DOCS for i in range(len(blocks(p)))]


def run_block(path: Path, i: int) -> dict:
    code = blocks(path)[i].replace("EPOCHS = 40_000", "EPOCHS = 20")
    namespace: dict = {"__name__": f"{path.stem}_block{i}"}
    exec(compile(code, f"{path.name} block {i + 1}", "exec"), namespace)
    return namespace


def test_readme_has_blocks_that_train_and_analyse():
    assert len(blocks(ROOT / "README.md")) >= 3
    assert sum("EPOCHS = 40_000" in b for b in blocks(ROOT / "README.md")) == 1


@pytest.mark.parametrize(("path", "i"), CASES)
def test_block_runs_on_its_own(path, i, monkeypatch):
    monkeypatch.chdir(ROOT)
    (ROOT / "out").mkdir(exist_ok=True)
    namespace = run_block(path, i)
    if "run" in namespace and "runs" in namespace:  # the tour's training block
        assert namespace["run"].epoch == 20 and len(namespace["runs"]) == 3
    if "logits" in namespace and path.name == "README.md":  # the foreign-model block
        assert "restricted (only key frequencies)" in namespace["logits"]
    if "report" in namespace and path.name == "README.md" and "logits" not in namespace:
        assert (ROOT / "out" / "mainline" / "index.html").exists()
