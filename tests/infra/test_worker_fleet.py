"""The optional EC2 worker fleet, under Pulumi mocks.

GIVEN Pulumi.fleet.yaml (workerFleet on), dev (off), and fleet with a customer-managed key
WHEN the program runs
THEN the fleet is a private encrypted versioned artifact bucket, a least-privilege instance role, a launch
template (latest AL2023 through SSM, IMDSv2, encrypted root volume, no public IP, no SSH key) whose user data
runs the worker under systemd, and an Auto Scaling group tracking backlog per instance; dev has none of it.
"""

from __future__ import annotations

import base64
import subprocess

import pytest

from infra import policies
from infra.code_package import package_digest, worker_package_files
from infra.worker_fleet import pinned_requirements
from tests.infra.pulumi_harness import Graph, run_program

GROUP = "aws:autoscaling/group:Group"
TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
BUCKET = "aws:s3/bucket:Bucket"
QUEUE = "aws:sqs/queue:Queue"


@pytest.fixture(scope="module")
def fleet() -> Graph:
    return run_program("fleet")


def test_the_fleet_is_off_unless_switched_on():
    graph = run_program("dev")
    assert [r for r in graph.resources if r.type.startswith(("aws:autoscaling", "aws:ec2", "aws:s3"))] == []
    assert "workerGroupName" not in graph.outputs


def test_artifact_bucket_is_private_encrypted_versioned_and_tls_only(fleet):
    bucket = fleet.one(BUCKET)
    arn = bucket.state["arn"]
    by_type = {
        r.type.split(":")[-1]: r for r in fleet.children_of(fleet.one("vehicle-pipeline:infra:WorkerFleet"))
    }
    assert by_type["BucketOwnershipControls"].inputs["rule"] == {"objectOwnership": "BucketOwnerEnforced"}
    assert by_type["BucketVersioning"].inputs["versioningConfiguration"] == {"status": "Enabled"}
    [rule] = by_type["BucketServerSideEncryptionConfiguration"].inputs["rules"]
    assert rule["applyServerSideEncryptionByDefault"] == {"sseAlgorithm": "AES256"}
    assert by_type["BucketPolicy"].json("policy") == {
        "Version": policies.VERSION,
        "Statement": [policies.deny_insecure_transport([arn, f"{arn}/*"], "s3")],
    }
    for child in by_type.values():
        if child.type.startswith("aws:s3/bucket") and child.type != BUCKET:
            assert child.inputs["bucket"] == bucket.id


def test_with_the_stacks_key_the_bucket_uses_it_and_the_role_may_decrypt_through_s3():
    graph = run_program("fleet", {"createKmsKey": True})
    key = graph.one("aws:kms/key:Key").state["arn"]
    [rule] = graph.one(
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
    ).inputs["rules"]
    assert rule == {
        "applyServerSideEncryptionByDefault": {"sseAlgorithm": "aws:kms", "kmsMasterKeyId": key},
        "bucketKeyEnabled": True,
    }
    statements = graph.one("aws:iam/rolePolicy:RolePolicy", "workers-role-policy").json("policy")["Statement"]
    assert {
        "Sid": "DecryptArtifact",
        "Effect": "Allow",
        "Action": ["kms:Decrypt"],
        "Resource": key,
        "Condition": {"StringEquals": {"kms:ViaService": "s3.us-east-1.amazonaws.com"}},
    } in statements


def test_the_artifact_is_the_consumer_package_named_by_its_content(fleet):
    artifact = fleet.one("aws:s3/bucketObjectv2:BucketObjectv2")
    assert artifact.inputs["key"] == f"worker/{package_digest(worker_package_files())}.zip"
    assert sorted(artifact.inputs["source"].assets) == sorted(worker_package_files())
    assert (
        fleet.outputs["workerArtifact"]
        == f"s3://{fleet.one(BUCKET).state['bucket']}/{artifact.inputs['key']}"
    )


def test_instance_role_has_the_workers_rights_only(fleet):
    role = fleet.one("aws:iam/role:Role", "workers-role")
    assert role.json("assumeRolePolicy") == policies.assume_role_policy("ec2")
    queue, dlq, table = (
        fleet.one(QUEUE, "-queue"),
        fleet.one(QUEUE, "-dlq"),
        fleet.one("aws:dynamodb/table:Table"),
    )
    artifact = fleet.one("aws:s3/bucketObjectv2:BucketObjectv2")
    expected = policies.worker_policy(
        queue.state["arn"],
        table.state["arn"],
        f"{fleet.one(BUCKET).state['arn']}/{artifact.inputs['key']}",
        dlq.state["arn"],
    )
    assert fleet.one("aws:iam/rolePolicy:RolePolicy", "workers-role-policy").json("policy") == expected
    assert "sqs:ChangeMessageVisibility" in expected["Statement"][0]["Action"]
    profile = fleet.one("aws:iam/instanceProfile:InstanceProfile")
    assert profile.inputs["role"] == role.state["name"]


def test_launch_template_is_hardened(fleet):
    template = fleet.one(TEMPLATE).inputs
    assert (
        template["imageId"]
        == "resolve:ssm:/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-arm64"
    )
    assert template["instanceType"] == "t4g.small"
    assert template["metadataOptions"] == {
        "httpEndpoint": "enabled",
        "httpTokens": "required",
        "httpPutResponseHopLimit": 1,
    }
    [disk] = template["blockDeviceMappings"]
    assert disk["ebs"]["encrypted"] == "true"
    [nic] = template["networkInterfaces"]
    assert nic["associatePublicIpAddress"] == "false"
    assert "keyName" not in template
    assert template["iamInstanceProfile"] == {
        "arn": fleet.one("aws:iam/instanceProfile:InstanceProfile").state["arn"]
    }
    group = fleet.one("aws:ec2/securityGroup:SecurityGroup").inputs
    assert "ingress" not in group
    assert group["vpcId"] == "vpc-0123456789abcdef0"
    assert [(e["protocol"], e["fromPort"], e["toPort"]) for e in group["egress"]] == [("tcp", 443, 443)]


def test_user_data_installs_the_pinned_worker_and_runs_it_under_systemd(fleet, tmp_path):
    script = base64.b64decode(fleet.one(TEMPLATE).inputs["userData"]).decode()
    artifact = fleet.outputs["workerArtifact"]
    queue, table = fleet.one(QUEUE, "-queue"), fleet.one("aws:dynamodb/table:Table")
    assert f"aws s3 cp {artifact} worker.zip" in script
    assert ".venv/bin/pip install --no-cache-dir " + " ".join(pinned_requirements()) in script
    assert pinned_requirements()[0].startswith("aws_lambda_powertools==")
    for line in (
        f"Environment=QUEUE_URL={queue.state['url']}",
        f"Environment=TABLE_NAME={table.state['name']}",
        f"Environment=DLQ_URL={fleet.one(QUEUE, '-dlq').state['url']}",
        "ExecStart=/opt/vehicle-worker/.venv/bin/python -m consumer.worker",
        "KillSignal=SIGTERM",
        "systemctl enable --now vehicle-worker",
    ):
        assert line in script.splitlines(), line
    (tmp_path / "user-data.sh").write_text(script)
    assert subprocess.run(["bash", "-n", str(tmp_path / "user-data.sh")]).returncode == 0


def test_group_tracks_backlog_per_instance_within_its_bounds(fleet):
    group = fleet.one(GROUP)
    template = fleet.one(TEMPLATE)
    assert (group.inputs["minSize"], group.inputs["maxSize"]) == (1, 4)
    assert group.inputs["vpcZoneIdentifiers"] == ["subnet-0a1b2c3d4e5f60001", "subnet-0a1b2c3d4e5f60002"]
    assert group.inputs["launchTemplate"] == {"id": template.id, "version": "1"}
    assert group.inputs["instanceRefresh"]["strategy"] == "Rolling"
    policy = fleet.one("aws:autoscaling/policy:Policy").inputs
    assert (policy["policyType"], policy["autoscalingGroupName"]) == (
        "TargetTrackingScaling",
        group.state["name"],
    )
    tracking = policy["targetTrackingConfiguration"]
    assert tracking["targetValue"] == 100
    visible, instances, backlog = tracking["customizedMetricSpecification"]["metrics"]
    assert visible["metricStat"]["metric"] == {
        "namespace": "AWS/SQS",
        "metricName": "ApproximateNumberOfMessagesVisible",
        "dimensions": [{"name": "QueueName", "value": fleet.one(QUEUE, "-queue").state["name"]}],
    }
    assert instances["metricStat"]["metric"]["dimensions"] == [
        {"name": "AutoScalingGroupName", "value": group.state["name"]}
    ]
    assert (backlog["expression"], backlog["returnData"]) == ("visible / instances", True)
    assert fleet.outputs["workerGroupName"] == group.state["name"]
