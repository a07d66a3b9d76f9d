"""Pulumi.yaml declares every stack setting with its type, so the engine checks stack files too."""

from pathlib import Path

import yaml

from infra import settings

PROJECT_FILE = Path(__file__).resolve().parents[2] / "Pulumi.yaml"
TYPES = {
    settings._as_bool: "boolean",
    settings._as_int: "integer",
    settings._as_str: "string",
    settings._as_str_list: "array",
}
# A project declares string, integer, boolean or array keys only (simpleConfigType in pulumi/pulumi's
# sdk/go/common/workspace/project.json): a mapping such as provisionedPollers cannot be declared, and the
# engine type-checks declared keys only, so it reaches the program as JSON and infra/settings.py checks it.
# xraySampling ({reservoirPerSecond, fixedRate}) likewise.
UNDECLARABLE = {settings._as_provisioned_pollers, settings._as_xray_sampling}


def test_project_declares_exactly_the_settings_keys_with_their_types():
    declared = yaml.safe_load(PROJECT_FILE.read_text())["config"]
    assert {key: value["type"] for key, value in declared.items()} == {
        key: TYPES[spec.parse] for key, spec in settings.KEYS.items() if spec.parse not in UNDECLARABLE
    }


def test_every_stack_file_uses_only_known_keys():
    for stack_file in PROJECT_FILE.parent.glob("Pulumi.*.yaml"):
        stack = stack_file.name.removeprefix("Pulumi.").removesuffix(".yaml")
        settings.from_stack_file(stack)  # raises ConfigError naming any unknown or invalid key
