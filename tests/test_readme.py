"""The README's quick start runs as written (fewer epochs), in a scratch folder."""
import os
import re

import torch

README = os.path.join(os.path.dirname(__file__), "..", "README.md")


def test_quick_start_runs(tmp_path, monkeypatch):
    text = open(README).read()
    section = text[text.index("## Quick start"):text.index("## Porting from PyG")]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1).replace("range(200)", "range(3)")
    monkeypatch.chdir(tmp_path)
    scope = {}
    exec(compile(code, "README quick start", "exec"), scope)
    assert scope["pred"].shape == (scope["data"].num_nodes,)
    assert torch.isfinite(scope["loss"])
