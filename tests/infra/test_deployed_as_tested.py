"""What runs on AWS is what the tests ran: the Powertools release requirements.lock pins, as the public layer
built for the Python version and architecture each function runs, and that Python version in the venv.

GIVEN every `Pulumi.<stack>.yaml`, requirements.lock and the Makefile
WHEN the program runs under Pulumi mocks (the SSM lookup answered as Powertools' public parameter would be)
THEN each function's layer is the locked release's, for its own runtime and architecture, and the tests run
on that runtime's Python; each test says what to change when one of them moves alone.
"""

from __future__ import annotations

import re
import sys
from importlib.metadata import version

from infra import powertools_layer, requirements_lock
from infra.settings import PROJECT_ROOT, StackSettings, from_stack_file
from tests.infra.pulumi_harness import (
    MOCK_POWERTOOLS_LAYER_VERSION,
    powertools_parameter,
    run_failing_program,
    run_program,
    stacks,
)

FUNCTION = "aws:lambda/function:Function"
GET_PARAMETER = "aws:ssm/getParameter:getParameter"
RUNNING_PYTHON = f"python{sys.version_info.major}.{sys.version_info.minor}"


def test_the_venv_runs_the_locked_powertools():
    assert version("aws_lambda_powertools") == powertools_layer.locked_version(), (
        "the venv does not hold the Powertools release requirements.lock pins: rebuild it (make clean test)"
    )


def test_every_function_gets_the_locked_releases_layer_for_its_runtime_and_architecture(graph, spec):
    s = spec.settings
    parameter = powertools_layer.parameter_name(s.architecture, s.python_runtime)
    layer = powertools_parameter(parameter, graph.region)["insecureValue"]

    assert parameter == f"/aws/service/powertools/python/{s.architecture}/{s.python_runtime}/" + version(
        "aws_lambda_powertools"
    )
    assert {args["name"] for token, args in graph.invokes if token == GET_PARAMETER} == {parameter}
    for function in graph.of_type(FUNCTION):
        assert function.inputs["layers"] == [layer], f"{function.name} must run the locked Powertools' layer"
        assert function.inputs["runtime"] == s.python_runtime
        assert function.inputs["architectures"] == [s.architecture]
        assert f":layer:{powertools_layer.layer_name(s.architecture, s.python_runtime)}:" in layer


def test_a_new_pin_in_the_lock_is_the_release_the_program_asks_for(tmp_path, monkeypatch):
    lock = tmp_path / "requirements.lock"
    lock.write_text("boto3==1.44.5\naws_lambda_powertools==3.38.0\n")
    monkeypatch.setattr(requirements_lock, "LOCK_FILE", lock)

    graph = run_program("dev")

    assert [args["name"] for token, args in graph.invokes if token == GET_PARAMETER] == [
        "/aws/service/powertools/python/arm64/python3.12/3.38.0"
    ]


def test_a_configured_layer_replaces_the_lookup():
    private = "arn:aws:lambda:us-east-1:123456789012:layer:vehicle-consumer-deps:3"

    graph = run_program("fleet", {"powertoolsLayerArn": private})

    assert [function.inputs["layers"] for function in graph.of_type(FUNCTION)] == [[private], [private]]
    assert [token for token, _ in graph.invokes if token == GET_PARAMETER] == []


def test_a_configured_powertools_layer_for_another_python_stops_the_program_saying_what_to_use():
    other = (
        "arn:aws:lambda:us-east-1:017000801446:layer:AWSLambdaPowertoolsPythonV3-python313-arm64:"
        f"{MOCK_POWERTOOLS_LAYER_VERSION}"
    )

    error, graph = run_failing_program("dev", {"powertoolsLayerArn": other})

    assert str(error) == (
        "invalid stack configuration:\n"
        f"  vehicle-pipeline:powertoolsLayerArn = {other!r}: is Powertools' layer for python313-arm64, "
        "the functions run python3.12 on arm64: use its AWSLambdaPowertoolsPythonV3-python312-arm64 layer, "
        f"or unset it to deploy the locked release {powertools_layer.locked_version()}"
    )
    assert graph.resources == ()


def test_the_tests_run_on_the_python_every_stack_deploys(spec):
    assert spec.settings.python_runtime == RUNNING_PYTHON, (
        f"stack {spec.stack} deploys {spec.settings.python_runtime} but the tests ran on {RUNNING_PYTHON}: "
        f"build the venv with {spec.settings.python_runtime} (make clean test PYTHON=...) "
        "or change pythonRuntime"
    )


def test_make_builds_the_venv_with_the_python_of_the_stacks_runtime():
    makefile = (PROJECT_ROOT / "Makefile").read_text()
    [venv_python] = re.findall(r"^RUNTIME_PYTHON := (python3\.\d+)$", makefile, flags=re.MULTILINE)
    runtimes = {stack: from_stack_file(stack).python_runtime for stack in stacks()}

    assert StackSettings().python_runtime == venv_python, (
        "the Makefile's RUNTIME_PYTHON and pythonRuntime's default"
    )
    assert runtimes == dict.fromkeys(stacks(), venv_python), (
        f"make test builds its venv with {venv_python} (RUNTIME_PYTHON) while the stacks run {runtimes}: "
        "one venv tests one runtime, change RUNTIME_PYTHON or the stacks' pythonRuntime"
    )
