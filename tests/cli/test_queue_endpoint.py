"""Where a queue URL points: the endpoint and region every command's clients use (cli/queue_endpoint.py).

GIVEN a queue URL and the environment a user has
WHEN it is resolved
THEN a local URL is its own endpoint, an AWS URL brings its region, and the clients are built that way
(no call is made: only the clients' configuration is read).
"""

import pytest

from cli.command_line import UsageError
from cli.queue_endpoint import QueueEndpoint

LOCAL = "http://127.0.0.1:5000/123456789012/vehicle-events"
AWS = "https://sqs.eu-west-1.amazonaws.com/123456789012/vehicle-events"


@pytest.fixture
def no_configured_region(monkeypatch, tmp_path):
    for name in (
        "AWS_DEFAULT_REGION",
        "AWS_REGION",
        "AWS_PROFILE",
        "AWS_ENDPOINT_URL",
        "AWS_ENDPOINT_URL_SQS",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))  # no profile region either


@pytest.mark.usefixtures("no_configured_region")
def test_a_local_queue_url_is_its_own_endpoint_without_aws_endpoint_url():
    queue = QueueEndpoint.of(LOCAL)

    assert queue == QueueEndpoint(
        LOCAL, "vehicle-events", "123456789012", "us-east-1", "http://127.0.0.1:5000"
    )
    sqs = queue.client("sqs")
    assert (sqs.meta.endpoint_url, sqs.meta.region_name) == ("http://127.0.0.1:5000", "us-east-1")
    assert queue.client("dynamodb").meta.endpoint_url == "http://127.0.0.1:5000"  # the emulator serves both
    assert not queue.on_aws


@pytest.mark.usefixtures("no_configured_region")
def test_aws_endpoint_url_naming_the_same_emulator_is_accepted(monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://localhost:5000")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-central-1")

    queue = QueueEndpoint.of(LOCAL)

    assert (queue.endpoint_url, queue.region) == ("http://127.0.0.1:5000", "eu-central-1")


@pytest.mark.usefixtures("no_configured_region")
def test_an_aws_queue_url_brings_its_region_when_none_is_configured():
    queue = QueueEndpoint.of(AWS)

    assert queue == QueueEndpoint(AWS, "vehicle-events", "123456789012", "eu-west-1", None)
    sqs = queue.client("sqs")
    assert (sqs.meta.endpoint_url, sqs.meta.region_name) == (
        "https://sqs.eu-west-1.amazonaws.com",
        "eu-west-1",
    )
    assert queue.describe() == "vehicle-events (account 123456789012, region eu-west-1, on AWS)"


@pytest.mark.usefixtures("no_configured_region")
def test_an_aws_endpoint_such_as_fips_is_kept_for_sqs_only(monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL_SQS", "https://sqs-fips.eu-west-1.amazonaws.com")

    queue = QueueEndpoint.of(AWS)

    assert queue.client("sqs").meta.endpoint_url == "https://sqs-fips.eu-west-1.amazonaws.com"
    assert queue.client("dynamodb").meta.endpoint_url == "https://dynamodb.eu-west-1.amazonaws.com"
    assert queue.on_aws


@pytest.mark.usefixtures("no_configured_region")
def test_the_legacy_queue_host_names_its_region():
    assert QueueEndpoint.of("https://ap-south-1.queue.amazonaws.com/123456789012/q").region == "ap-south-1"
    assert QueueEndpoint.of("https://queue.amazonaws.com/123456789012/q").region == "us-east-1"


@pytest.mark.usefixtures("no_configured_region")
def test_an_unknown_profile_is_a_usage_error(monkeypatch):
    monkeypatch.setenv("AWS_PROFILE", "nosuch")

    with pytest.raises(UsageError) as refused:
        QueueEndpoint.of(AWS)

    assert str(refused.value) == (
        "AWS_PROFILE: The config profile (nosuch) could not be found; "
        "set it to a profile of ~/.aws/config, or unset it"
    )


# ---- credentials: an emulator on this machine needs none ------------------------------------------------
@pytest.fixture
def no_configured_credentials(monkeypatch, tmp_path):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv(
        "AWS_EC2_METADATA_DISABLED", "true"
    )  # the AWS case must not probe for an instance role


def access_key(queue: QueueEndpoint) -> str | None:
    credentials = queue._session().get_credentials()
    return credentials.access_key if credentials else None


@pytest.mark.usefixtures("no_configured_region", "no_configured_credentials")
def test_an_emulator_on_this_machine_gets_dummy_credentials_when_none_are_configured():
    for url in (LOCAL, "http://localhost:4566/000000000000/q", "http://[::1]:4566/000000000000/q"):
        assert QueueEndpoint.of(url).on_this_machine
        assert access_key(QueueEndpoint.of(url)) == "testing"


@pytest.mark.usefixtures("no_configured_region", "no_configured_credentials")
def test_credentials_the_user_configured_are_kept_for_an_emulator(monkeypatch, tmp_path):
    (tmp_path / "credentials").write_text(
        "[default]\naws_access_key_id = FROMFILE\naws_secret_access_key = x\n"
    )
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    assert access_key(QueueEndpoint.of(LOCAL)) == "FROMFILE"

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "FROMENV")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "y")
    assert access_key(QueueEndpoint.of(LOCAL)) == "FROMENV"


@pytest.mark.usefixtures("no_configured_region", "no_configured_credentials")
def test_aws_and_emulators_elsewhere_never_get_dummy_credentials():
    elsewhere = QueueEndpoint.of("http://localstack:4566/000000000000/q")  # a container's host name

    assert access_key(QueueEndpoint.of(AWS)) is None
    assert (elsewhere.on_this_machine, access_key(elsewhere)) == (False, None)
