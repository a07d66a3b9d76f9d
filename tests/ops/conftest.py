"""The moto table fixtures (tests/moto_table.py) for the DLQ tool tests."""

from tests.moto_table import dynamodb, sleeps, store, table  # noqa: F401 - fixtures
