"""The command line checks the files and folders it is given before it imports torch or
TransformerLens, so a missing file, a folder that is not a report's, or an --out that
would be replaced answers at once (in the CLI's words, one line, exit status 2) instead
of after the 10 to 20 s those imports take."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = str(ROOT / "checkpoints" / "mainline.pt")

RUN = """
import contextlib, io, json, sys
from grok_interp.cli import main
out = []
for argv in json.loads(sys.argv[1]):
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        rc = main(argv)
    out.append([rc, err.getvalue().strip(), "torch" in sys.modules])
print(json.dumps(out))
"""


def test_bad_files_answer_before_torch_loads(tmp_path):
    full = tmp_path / "full"
    full.mkdir()
    (full / "mine.txt").write_text("keep")
    taken = tmp_path / "taken.pt"
    taken.write_text("")
    missing = str(tmp_path / "missing.pt")
    cases = [
        (["analyze", missing], "no such file: " + missing),
        (["info", missing], "no such file: " + missing),
        (["progress", missing], "no such file: " + missing),
        (["import", missing, "--split", missing, "--out", str(tmp_path / "o.pt")],
         "no such file: " + missing),
        (["info", str(full)], "is a folder; give the checkpoint file inside it"),
        (["analyze", SHIPPED, "--split", missing], "--split: no such file: " + missing),
        (["analyze", SHIPPED, "--out", str(taken)], "is a file; give a folder for the report"),
        (["analyze", SHIPPED, "--out", str(full)], "add --overwrite"),
        (["train", "--p", "7", "--out", str(taken)], "exists; add --resume to continue it"),
        (["progress", SHIPPED, "--out", str(taken)], "exists; add --overwrite to replace it"),
        (["import", SHIPPED, "--split", missing, "--out", str(taken)],
         "exists; add --overwrite to replace it"),
    ]  # fmt: skip
    arg = json.dumps([argv for argv, _ in cases])
    done = subprocess.run([sys.executable, "-c", RUN, arg], capture_output=True, text=True,
                          cwd=ROOT)  # fmt: skip
    assert done.returncode == 0, done.stderr
    for (argv, words), (rc, err, torch) in zip(cases, json.loads(done.stdout), strict=True):
        assert rc == 2 and words in err and "\n" not in err, (argv, err)
        assert err.startswith(f"grok-interp {argv[0]}: error: "), err
        assert not torch, f"{argv}: torch imported before the check"
    assert (full / "mine.txt").read_text() == "keep" and taken.read_text() == ""
