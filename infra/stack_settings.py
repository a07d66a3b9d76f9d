"""The running stack's settings, read from the Pulumi engine's config and validated before any resource."""

from __future__ import annotations

import pulumi
from pulumi.runtime import config as runtime_config

from infra.settings import PROJECT, StackSettings, from_pulumi_config


def configured_keys() -> set[str]:
    """Every full config key the stack sets. The engine hands them to the program as a whole (the language
    host's config map, or PULUMI_CONFIG); pulumi.Config only answers for keys asked by name."""
    return set(runtime_config.CONFIG.get()) | set(runtime_config.get_config_env())


def load_settings() -> StackSettings:
    """Valid settings, or ConfigError before any resource. Combinations AWS warns about that the stack can
    live with (infra/pushback.py) go to the engine's log as warnings, naming key, value and why."""
    settings = from_pulumi_config(pulumi.Config(), configured_keys())
    for key, value, note in settings.warnings():
        pulumi.log.warn(f"{PROJECT}:{key} = {value!r}: {note}")
    return settings
