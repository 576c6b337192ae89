"""The README's quick-start code runs and gives the accuracy it states."""

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


@pytest.mark.slow
def test_quick_start_block_runs_and_matches_its_comment():
    text = README.read_text()
    block = re.search(r"```python\n(.*?)```", text, re.S).group(1)
    namespace: dict = {}
    exec(compile(block, str(README), "exec"), namespace)
    stated = float(re.search(r"# (0\.\d+) on the 5,000-image sample", block).group(1))
    score = namespace["clf"].score(namespace["X_test"], namespace["y_test"])
    assert abs(score - stated) < 0.01
