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


REPO = Path(__file__).resolve().parents[1]


def test_layout_section_lists_every_code_folder():
    layout = README.split("## Layout\n", 1)[1].split("\n## ", 1)[0]
    listed = set(re.findall(r"^([a-z_/]+)/ ", layout, flags=re.MULTILINE))
    listed |= set(re.findall(r"^  ([a-z_/]+)/ ", layout, flags=re.MULTILINE))  # rooms, indented under theirs
    folders = {
        path.parent.relative_to(REPO).as_posix()
        for path in REPO.glob("**/__init__.py")
        if path.parts[len(REPO.parts)] not in ("tests", ".venv", "build")
    }
    assert sorted(folders) == sorted(listed - {"tests"})


def test_every_module_the_readme_runs_exists():
    modules = set(re.findall(r"python -m ((?:consumer|producer|loadtest|ops|cli)[a-z_.]*)", README))
    assert modules, "the README runs no module"

    def runnable(name: str) -> bool:  # a module, or a package with a __main__
        path = REPO / name.replace(".", "/")
        return path.with_suffix(".py").is_file() or (path / "__main__.py").is_file()

    missing = [name for name in sorted(modules) if not runnable(name)]
    assert missing == []
