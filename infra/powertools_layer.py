"""The Powertools layer the functions run: the release requirements.lock pins, the one every test ran.

Powertools publishes a public layer per release, Python version and architecture, and for each release a
public SSM parameter holding that layer's ARN (GUIDE §3; the path is the one Powertools' own release workflow
writes, .github/workflows/update_ssm.yml, and its docs give for pinning a release):

    /aws/service/powertools/python/<arm64|x86_64>/<python3.12|python3.13>/<version>

Layer version numbers are not package versions (layer 27 is Powertools 3.23.0), so the program resolves the
locked release through that parameter at deploy time instead of carrying a number that drifts from the lock.
`powertoolsLayerArn` still overrides it (a region without the parameter, a release whose parameter was
published late as 3.23.0's was, Powertools issue 7689, or a private layer).
"""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from infra.requirements_lock import pinned_version
from infra.settings import StackSettings

PACKAGE = "aws-lambda-powertools"
PUBLISHER_ACCOUNT = "017000801446"  # the account AWS publishes the Powertools for Python layers from
PARAMETER = "/aws/service/powertools/python/{architecture}/{runtime}/{version}"
LAYER_NAME = "AWSLambdaPowertoolsPythonV3-{runtime_tag}-{architecture}"
DOCS = (
    "https://docs.aws.amazon.com/powertools/python/latest/getting-started/install/#using-ssm-parameter-store"
)


def locked_version() -> str:
    return pinned_version(PACKAGE)


def parameter_name(settings: StackSettings, version: str | None = None) -> str:
    """The public parameter naming the layer of `version` (default: the locked one) for the stack's runtime
    and architecture."""
    return PARAMETER.format(
        architecture=settings.architecture,
        runtime=settings.python_runtime,
        version=version or locked_version(),
    )


def layer_name(settings: StackSettings) -> str:
    """The layer's name for the stack's runtime and architecture (`python3.12` is tagged `python312`)."""
    return LAYER_NAME.format(
        runtime_tag=settings.python_runtime.replace(".", ""), architecture=settings.architecture
    )


def layer_arn(settings: StackSettings) -> pulumi.Input[str]:
    """The configured layer, else the locked release's public layer, looked up when the program runs.
    `insecure_value`: the parameter is a public String, not a secret; the ARN stays readable in the plan."""
    if settings.powertools_layer_arn:
        return settings.powertools_layer_arn
    return aws.ssm.get_parameter_output(name=parameter_name(settings)).insecure_value
