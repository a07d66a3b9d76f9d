"""The running stack's settings, read from the Pulumi engine's config and validated before any resource."""

from __future__ import annotations

import pulumi
from pulumi.runtime import config as runtime_config

from infra.settings import StackSettings, from_pulumi_config


def configured_keys() -> set[str]:
    """Every full config key the stack sets. The engine hands them to the program as a whole (the language
    host's config map, or PULUMI_CONFIG); pulumi.Config only answers for keys asked by name."""
    return set(runtime_config.CONFIG.get()) | set(runtime_config.get_config_env())


def load_settings() -> StackSettings:
    return from_pulumi_config(pulumi.Config(), configured_keys())
