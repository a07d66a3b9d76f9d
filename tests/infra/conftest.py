"""Fixtures shared by the graph tests: each test module runs once per stack file, on that stack's graph."""

import pytest

from infra.resource_spec import StackSpec
from infra.settings import from_stack_file
from tests.infra.pulumi_harness import Graph, run_program, stacks


@pytest.fixture(scope="module", params=stacks())
def stack(request) -> str:
    return request.param


@pytest.fixture(scope="module")
def graph(stack) -> Graph:
    return run_program(stack)


@pytest.fixture(scope="module")
def spec(stack) -> StackSpec:
    return StackSpec(stack, from_stack_file(stack))
