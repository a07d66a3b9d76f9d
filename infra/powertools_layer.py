"""The Powertools layer the functions run: the release requirements.lock pins, the one every test ran.

Powertools publishes a public layer per release, Python version and architecture, and for each release a
public SSM parameter holding that layer's ARN (Powertools docs, "Lambda Layer"; the path is the one
Powertools' own release workflow writes, .github/workflows/update_ssm.yml, and its docs give for pinning a
release, DOCS):

    /aws/service/powertools/python/<arm64|x86_64>/<python3.12|python3.13>/<version>

Layer version numbers are not package versions (layer 27 is Powertools 3.23.0), so the program resolves the
locked release through that parameter at deploy time (infra/consumer_function.py) instead of carrying a number
that drifts from the lock. `powertoolsLayerArn` still overrides it (a region without the parameter, a release
whose parameter was published late as 3.23.0's was, Powertools issue 7689, or a private layer); the settings
refuse an override that is Powertools' layer for another Python or architecture. No pulumi import here.
"""

from __future__ import annotations

import re

from infra.requirements_lock import pinned_version

PACKAGE = "aws-lambda-powertools"
PUBLISHER_ACCOUNT = "017000801446"  # the account AWS publishes the Powertools for Python layers from
PARAMETER = "/aws/service/powertools/python/{architecture}/{runtime}/{version}"
LAYER_NAME = "AWSLambdaPowertoolsPythonV3-{runtime_tag}-{architecture}"
PUBLIC_LAYER = re.compile(
    rf"arn:aws[a-z-]*:lambda:[a-z0-9-]+:{PUBLISHER_ACCOUNT}:layer:"
    r"AWSLambdaPowertoolsPythonV3-(?P<runtime_tag>python3\d+)-(?P<architecture>arm64|x86_64):\d+"
)
DOCS = (
    "https://docs.aws.amazon.com/powertools/python/latest/getting-started/install/#using-ssm-parameter-store"
)


def locked_version() -> str:
    return pinned_version(PACKAGE)


def parameter_name(architecture: str, runtime: str, version: str | None = None) -> str:
    """The public parameter holding the layer ARN of `version` (default: the locked release) built for this
    Python runtime (python3.12) and architecture."""
    return PARAMETER.format(architecture=architecture, runtime=runtime, version=version or locked_version())


def layer_name(architecture: str, runtime: str) -> str:
    """The public layer's name for a runtime and architecture (`python3.12` is tagged `python312`)."""
    return LAYER_NAME.format(runtime_tag=runtime.replace(".", ""), architecture=architecture)


def runtime_mismatch(layer_arn: str, architecture: str, runtime: str) -> str | None:
    """Why a Powertools public layer cannot serve a function of this runtime and architecture (its packages
    are built per Python version: Powertools docs, "Lambda Layer"), or None (another layer: nothing to tell
    from its name)."""
    match = PUBLIC_LAYER.fullmatch(layer_arn)
    wanted = layer_name(architecture, runtime)
    if match is None or LAYER_NAME.format(**match.groupdict()) == wanted:
        return None
    return (
        f"is Powertools' layer for {match['runtime_tag']}-{match['architecture']}, the functions run "
        f"{runtime} on {architecture}: use its {wanted} layer, or unset it to deploy the locked release "
        f"{locked_version()}"
    )
