"""The README's Python blocks run as written, in order, from the repository root, with
the one documented switch: ``EPOCHS = 40_000`` becomes 20."""

import os
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_readme_python_runs(monkeypatch):
    text = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    assert blocks
    code = "\n".join(blocks)
    assert code.count("EPOCHS = 40_000") == 1
    monkeypatch.chdir(ROOT)
    namespace: dict = {}
    exec(compile(code.replace("EPOCHS = 40_000", "EPOCHS = 20"), "README.md", "exec"), namespace)
    assert namespace["run"].epoch == 20 and len(namespace["runs"]) == 3
    assert "restricted (only key frequencies)" in namespace["logits"]
    assert os.path.exists(ROOT / "out" / "mainline" / "index.html")
