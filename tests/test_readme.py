"""The README is the user's reference: every config key and every stack output must be documented there."""

import re
from pathlib import Path

from infra.settings import KEYS

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def test_every_config_key_is_documented():
    documented = set(re.findall(r"^\| `([A-Za-z]+)`(?:, `([A-Za-z]+)`)? \|", README, flags=re.MULTILINE))
    keys = {key for pair in documented for key in pair if key}
    assert sorted(set(KEYS) - keys) == []


def test_every_stack_output_is_documented():
    main = (Path(__file__).resolve().parents[1] / "__main__.py").read_text()
    exported = re.findall(r'pulumi\.export\("([A-Za-z]+)"', main)
    assert exported, "the program exports nothing"
    assert [name for name in exported if f"`{name}`" not in README] == []
