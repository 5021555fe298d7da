"""gnnx's Triton kernels in Triton's interpreter on the CPU (``triton_interpreter_checks.py``,
one process per check): the kernels' values where CI has no GPU. Skipped without Triton."""
from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("triton")

SCRIPT = Path(__file__).with_name("triton_interpreter_checks.py")
NAMES = [node.name for node in ast.parse(SCRIPT.read_text()).body
         if isinstance(node, ast.FunctionDef) and any(getattr(d, "id", None) == "check" for d in node.decorator_list)]


@pytest.mark.parametrize("name", NAMES)
def test_kernel_in_the_triton_interpreter_equals_aten(name):
    result = subprocess.run([sys.executable, str(SCRIPT), name], capture_output=True, text=True, timeout=600,
                            env={**os.environ, "TRITON_INTERPRET": "1"})
    assert result.returncode == 0 and f"ok {name}" in result.stdout, result.stdout[-3000:] + result.stderr[-6000:]
