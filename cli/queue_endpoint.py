"""Where a queue URL points: the endpoint and the region a client must use to reach that queue.

boto3 ignores a queue URL's host: it sends every call to AWS_ENDPOINT_URL, or else to the public endpoint of
the configured region. So a local queue URL given without AWS_ENDPOINT_URL would silently be aimed at AWS,
and an AWS queue URL without a configured region fails deep inside botocore. Every command that takes a
queue URL (produce, the locustfile, status, redrive) builds its clients from `QueueEndpoint.of(url)`:

- an AWS queue URL (https://sqs.<region>.amazonaws.com/<account>/<name>) is reached through AWS, or through
  AWS_ENDPOINT_URL when that is an AWS endpoint too (FIPS, a VPC endpoint); its region is the URL's when
  none is configured, and a different configured region is refused (the queue lives in one region only);
- a queue URL on any other host (moto, LocalStack, ElasticMQ on 127.0.0.1) is its own endpoint; when
  AWS_ENDPOINT_URL is set it must be that same endpoint. The region is the configured one, else us-east-1,
  as emulators keep their queues per region and default to us-east-1.

An emulator on this machine (a loopback endpoint, such as `make up`'s) takes any credentials, but boto3
refuses to sign a call without some (NoCredentialsError): its clients get dummy ones when the user configured
none, so a local stack needs no setup step. Credentials the user configured are never replaced, and an AWS
endpoint never gets dummy ones.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from cli.command_line import UsageError
from cli.stack_outputs import load_stack_outputs

# sqs.<region>.amazonaws.com (and its FIPS, China and dual-stack forms), and the legacy <region>.queue.….
AWS_SQS_HOST = re.compile(
    r"(?:sqs(?:-fips)?\.(?P<region>[a-z]{2}(?:-[a-z]+)+-\d+)\.(?:amazonaws\.com(?:\.cn)?|api\.aws)"
    r"|(?P<legacy>[a-z]{2}(?:-[a-z]+)+-\d+)\.queue\.amazonaws\.com|queue\.amazonaws\.com)"
)
AWS_HOST_SUFFIXES = (".amazonaws.com", ".amazonaws.com.cn", ".api.aws")
EMULATOR_DEFAULT_REGION = "us-east-1"
EXAMPLE = "https://sqs.us-east-1.amazonaws.com/123456789012/vehicle-events"
# Any will do for an emulator; these are the ones the local stack gives its own processes
# (loadtest/local/emulator/embedded_aws.py, LOCAL_CREDENTIALS).
EMULATOR_CREDENTIALS = ("testing", "testing")


@dataclasses.dataclass(frozen=True)
class QueueEndpoint:
    queue_url: str
    name: str
    account: str
    region: str
    endpoint_url: str | None  # None: boto3's own endpoint for the region (AWS)

    @property
    def on_aws(self) -> bool:
        return self.endpoint_url is None or _is_aws_host(urlsplit(self.endpoint_url).hostname or "")

    @property
    def on_this_machine(self) -> bool:
        """An emulator on a loopback address (moto_server, LocalStack or ElasticMQ started here)."""
        return not self.on_aws and _origin(self.endpoint_url or "")[1] == "loopback"

    def describe(self) -> str:
        """What an operator needs to recognise the queue before a destructive command."""
        where = "AWS" if self.on_aws else self.endpoint_url
        return f"{self.name} (account {self.account}, region {self.region}, on {where})"

    def client(self, service: str = "sqs") -> Any:
        """A boto3 client for this queue's region and endpoint (see `endpoint_for`)."""
        return self._session().client(service, endpoint_url=self.endpoint_for(service))

    def resource(self, service: str) -> Any:
        return self._session().resource(service, endpoint_url=self.endpoint_for(service))

    def endpoint_for(self, service: str) -> str | None:
        """An emulator's endpoint serves every service (DynamoDB too); an AWS one (FIPS, VPC) only SQS, so
        other services get boto3's own (AWS_ENDPOINT_URL_<SERVICE>, else the region's)."""
        return self.endpoint_url if service == "sqs" or not self.on_aws else None

    def _session(self) -> Any:
        import boto3
        import botocore.session

        core = botocore.session.Session()
        if self.on_this_machine:
            _dummy_credentials_unless_configured(core)
        return boto3.session.Session(botocore_session=core, region_name=self.region)

    @classmethod
    def of(
        cls,
        queue_url: str,
        option: str = "--queue-url",
        region: str | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> QueueEndpoint:
        """Where `queue_url` (given as `option`) points; `region` is the configured one, if known."""
        environ = os.environ if environ is None else environ
        parts = urlsplit(queue_url)
        path = [segment for segment in parts.path.split("/") if segment]
        if parts.scheme not in ("http", "https") or not parts.hostname or len(path) != 2:
            raise UsageError(
                f"{option} {queue_url!r}: not a queue URL; give one like {EXAMPLE} "
                "(the queueUrl of `pulumi stack output --json`)"
            )
        account, name = path
        region = region or configured_region(environ)
        configured = environ.get("AWS_ENDPOINT_URL_SQS") or environ.get("AWS_ENDPOINT_URL")
        variable = "AWS_ENDPOINT_URL_SQS" if environ.get("AWS_ENDPOINT_URL_SQS") else "AWS_ENDPOINT_URL"
        host = parts.hostname.lower()
        if match := AWS_SQS_HOST.fullmatch(host):
            queue_region = match["region"] or match["legacy"] or "us-east-1"
            if configured and not _is_aws_host(urlsplit(configured).hostname or ""):
                raise UsageError(
                    f"{option} {queue_url} is a queue on AWS, but {variable}={configured} sends every call "
                    f"elsewhere: unset {variable}, or give the queue URL that endpoint returned"
                )
            if region and region != queue_region:
                raise UsageError(
                    f"{option} {queue_url} is a queue in {queue_region}, but the configured region is "
                    f"{region}: set AWS_DEFAULT_REGION={queue_region}, or unset it"
                )
            return cls(queue_url, name, account, queue_region, configured or None)
        endpoint = f"{parts.scheme}://{parts.netloc}"
        if configured and _origin(configured) != _origin(endpoint):
            raise UsageError(
                f"{option} {queue_url} is on {endpoint}, but {variable}={configured}: unset {variable} "
                f"(the queue URL names its endpoint), or give a queue URL of {configured}"
            )
        return cls(queue_url, name, account, region or EMULATOR_DEFAULT_REGION, endpoint)


def configured_region(environ: Mapping[str, str]) -> str | None:
    """The region boto3 would use: AWS_DEFAULT_REGION, AWS_REGION, or the profile's; None when none is."""
    if region := environ.get("AWS_DEFAULT_REGION") or environ.get("AWS_REGION"):
        return region
    import botocore.session
    from botocore.exceptions import ProfileNotFound

    try:
        return botocore.session.Session().get_config_variable("region")
    except ProfileNotFound as error:
        raise UsageError(f"AWS_PROFILE: {error}; set it to a profile of ~/.aws/config, or unset it") from None


def same_endpoint(first: QueueEndpoint, second: QueueEndpoint, options: tuple[str, str]) -> None:
    """Two queues one client talks to (redrive's DLQ and source) must share endpoint and region."""
    if (first.endpoint_url, first.region) != (second.endpoint_url, second.region):
        raise UsageError(
            f"{options[0]} {first.queue_url} and {options[1]} {second.queue_url} are on different "
            "endpoints or regions: give two queues of the same stack"
        )


def _dummy_credentials_unless_configured(core: Any) -> None:
    """The user's credentials if boto3 finds any (environment, profile, SSO, process, container), else the
    emulator's dummy ones. The instance metadata service is not asked: off EC2 its probe waits seconds for a
    host that is not there, and an emulator has no use for an instance role."""
    core.get_component("credential_provider").remove("iam-role")
    if core.get_credentials() is None:
        core.set_credentials(*EMULATOR_CREDENTIALS)


def _is_aws_host(host: str) -> bool:
    return host.lower().endswith(AWS_HOST_SUFFIXES)


def _origin(url: str) -> tuple[str, str, int]:
    """Scheme, host and port; every loopback name counts as one host (moto answers on all of them)."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if host == "localhost" or _is_loopback_address(host):
        host = "loopback"
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        port = -1
    return parts.scheme, host, port


def _is_loopback_address(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def target_queue(queue_url: str | None, stack_outputs: str | None) -> QueueEndpoint:
    """The queue a producer sends to: --queue-url (QUEUE_URL), else the queueUrl of --stack-outputs."""
    if queue_url:
        return QueueEndpoint.of(queue_url, "--queue-url")
    if stack_outputs:
        outputs = load_stack_outputs(stack_outputs, ["queueUrl"])
        region = outputs.get("region") if isinstance(outputs.get("region"), str) else None
        return QueueEndpoint.of(outputs["queueUrl"], f"queueUrl of {stack_outputs}", region=region)
    raise UsageError(
        "no queue to send to: give --queue-url URL or --stack-outputs FILE "
        "(or set QUEUE_URL or STACK_OUTPUTS)"
    )
