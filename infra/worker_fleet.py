"""The optional EC2 worker fleet (`workerFleet`): seed 000's consumers on EC2, scaled on backlog per instance.

An Auto Scaling group of instances, each running `python -m consumer.worker` as a systemd service from a code
artifact this program uploads to a private, encrypted, versioned bucket. A target-tracking policy keeps
visible messages / in-service instances at `workerFleetBacklogPerInstance` (metric math), the approach AWS
recommends for SQS consumers, in place of seed 000's 60-second polling loop.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import shlex

import pulumi
import pulumi_aws as aws
from pulumi import Input, Output, ResourceOptions

from infra import policies
from infra.code_package import package_digest, worker_package_files
from infra.consumer_function import code_archive
from infra.cost_tags import component_options, resource_tags
from infra.resource_spec import StackSpec
from infra.settings import PROJECT_ROOT

# The worker's third-party packages, pinned to what the tests ran (one definition: requirements.lock).
WORKER_PACKAGES = ("aws_lambda_powertools", "aws-xray-sdk", "boto3", "botocore", "fastjsonschema")
AMI_PARAMETER = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-{arch}"
INSTALL_DIR = "/opt/vehicle-worker"
SERVICE = "vehicle-worker"
COMPONENT = "worker-fleet"  # its cost-allocation tag
IN_SERVICE_METRIC = "GroupInServiceInstances"  # the backlog-per-instance divisor, enabled on the group


def pinned_requirements() -> list[str]:
    lock = (PROJECT_ROOT / "requirements.lock").read_text().splitlines()
    pins = {line.split("==")[0].lower(): line.strip() for line in lock if "==" in line}
    return [pins[name.lower()] for name in WORKER_PACKAGES]


def user_data(bucket: str, key: str, environment: dict[str, str]) -> str:
    """Boot script: fetch the artifact, install the pinned packages, run the worker under systemd.
    systemd stops it with SIGTERM (scale-in, instance refresh): the worker finishes its batch and exits 0."""
    env_lines = "\n".join(f"Environment={name}={value}" for name, value in sorted(environment.items()))
    return f"""#!/bin/bash
set -euo pipefail
dnf install -y python3.12 unzip
id {SERVICE} >/dev/null 2>&1 || useradd --system --home-dir {INSTALL_DIR} --shell /sbin/nologin {SERVICE}
mkdir -p {INSTALL_DIR}
cd {INSTALL_DIR}
aws s3 cp {shlex.quote(f"s3://{bucket}/{key}")} worker.zip
unzip -o -q worker.zip
python3.12 -m venv .venv
.venv/bin/pip install --no-cache-dir {" ".join(shlex.quote(pin) for pin in pinned_requirements())}
chown -R {SERVICE}: {INSTALL_DIR}
cat > /etc/systemd/system/{SERVICE}.service <<'UNIT'
[Unit]
Description=Vehicle events worker (python -m consumer.worker)
After=network-online.target
Wants=network-online.target

[Service]
User={SERVICE}
WorkingDirectory={INSTALL_DIR}
{env_lines}
ExecStart={INSTALL_DIR}/.venv/bin/python -m consumer.worker
KillSignal=SIGTERM
TimeoutStopSec=60
Restart=always
RestartSec=5

[Install]
WantedBy=multi-user.target
UNIT
systemctl daemon-reload
systemctl enable --now {SERVICE}
"""


def backlog_per_instance_metrics(queue_name: str, group_name: str) -> list[dict]:
    """Metric math for target tracking: visible messages / in-service instances (AWS's recommended metric)."""
    return [
        {
            "id": "visible",
            "label": "visible messages",
            "metric_stat": {
                "metric": {
                    "namespace": "AWS/SQS",
                    "metric_name": "ApproximateNumberOfMessagesVisible",
                    "dimensions": [{"name": "QueueName", "value": queue_name}],
                },
                "stat": "Sum",
            },
            "return_data": False,
        },
        {
            "id": "instances",
            "label": "in-service instances",
            "metric_stat": {
                "metric": {
                    "namespace": "AWS/AutoScaling",
                    "metric_name": IN_SERVICE_METRIC,
                    "dimensions": [{"name": "AutoScalingGroupName", "value": group_name}],
                },
                "stat": "Average",
            },
            "return_data": False,
        },
        {
            "id": "backlog",
            "label": "backlog per instance",
            "expression": "visible / instances",
            "return_data": True,
        },
    ]


@dataclasses.dataclass(frozen=True)
class WorkerFleetArgs:
    spec: StackSpec
    region: str
    queue_url: Input[str]
    queue_arn: Input[str]
    queue_name: Input[str]
    dlq_url: Input[str]
    dlq_arn: Input[str]
    table_name: Input[str]
    table_arn: Input[str]
    kms_key_arn: Input[str] | None = None


class WorkerFleet(pulumi.ComponentResource):
    def __init__(self, name: str, args: WorkerFleetArgs, opts: ResourceOptions | None = None):
        super().__init__("vehicle-pipeline:infra:WorkerFleet", name, None, component_options(COMPONENT, opts))
        self._child = ResourceOptions(parent=self)
        spec = args.spec
        self.bucket = self._artifact_bucket(name, spec, args.kms_key_arn)
        self.artifact = aws.s3.BucketObjectv2(
            f"{name}-artifact",
            bucket=self.bucket.id,
            key=f"worker/{package_digest(worker_package_files())}.zip",
            source=code_archive(worker_package_files()),
            opts=self._child,
        )
        self.launch_template = self._launch_template(name, spec, args)
        self.group = self._group(name, spec)
        self.scaling_policy = self._scaling_policy(name, spec, args.queue_name)
        self.register_outputs(
            {
                "groupName": self.group.name,
                "artifactBucket": self.bucket.bucket,
                "artifactKey": self.artifact.key,
            }
        )

    def _user_data(self, args: WorkerFleetArgs) -> Output[str]:
        """The systemd unit's environment and the artifact to fetch, base64 as EC2 takes it."""
        settings = args.spec.settings
        environment = Output.all(args.queue_url, args.queue_arn, args.table_name, args.dlq_url).apply(
            lambda values: {
                "QUEUE_URL": values[0],
                "QUEUE_ARN": values[1],
                "TABLE_NAME": values[2],
                "AWS_REGION": args.region,
                "POWERTOOLS_SERVICE_NAME": SERVICE,
                "POWERTOOLS_METRICS_NAMESPACE": settings.metrics_namespace,
                **({"DLQ_URL": values[3]} if settings.route_permanent_errors_to_dlq else {}),
            }
        )
        return Output.all(self.bucket.bucket, self.artifact.key, environment).apply(
            lambda values: base64.b64encode(user_data(*values).encode()).decode()
        )

    def _launch_template(self, name: str, spec: StackSpec, args: WorkerFleetArgs) -> aws.ec2.LaunchTemplate:
        """Hardened instances: IMDSv2 only, an encrypted root volume, no public IP, no key pair."""
        settings = spec.settings
        profile = self._instance_profile(name, spec, args)
        script = self._user_data(args)
        security_group = self._security_group(name, spec)
        cost_allocation = resource_tags(spec.stack, COMPONENT)
        return aws.ec2.LaunchTemplate(
            f"{name}-launch-template",
            name_prefix=f"{spec.prefix}-worker-",
            # Resolved by EC2 at each launch: the latest Amazon Linux 2023 for the stack's architecture.
            image_id=f"resolve:ssm:{AMI_PARAMETER.format(arch=settings.architecture)}",
            instance_type=settings.worker_fleet_instance_type,
            iam_instance_profile=aws.ec2.LaunchTemplateIamInstanceProfileArgs(arn=profile.arn),
            metadata_options=aws.ec2.LaunchTemplateMetadataOptionsArgs(
                http_endpoint="enabled", http_tokens="required", http_put_response_hop_limit=1
            ),
            block_device_mappings=[
                aws.ec2.LaunchTemplateBlockDeviceMappingArgs(
                    device_name="/dev/xvda",
                    # The account's EBS key: a customer-managed one would need a key policy grant for the
                    # Auto Scaling service-linked role.
                    ebs=aws.ec2.LaunchTemplateBlockDeviceMappingEbsArgs(
                        encrypted="true", volume_type="gp3", volume_size=8, delete_on_termination="true"
                    ),
                )
            ],
            network_interfaces=[
                aws.ec2.LaunchTemplateNetworkInterfaceArgs(
                    associate_public_ip_address="false", security_groups=[security_group.id]
                )
            ],
            user_data=script,
            # What the instances cost is billed to them and their volumes, which the provider's default tags
            # never reach: the template tags them at launch.
            tag_specifications=[
                aws.ec2.LaunchTemplateTagSpecificationArgs(resource_type=kind, tags=cost_allocation)
                for kind in ("instance", "volume")
            ],
            update_default_version=True,
            opts=self._child,
        )

    def _group(self, name: str, spec: StackSpec) -> aws.autoscaling.Group:
        """Between the fleet's bounds, in the configured private subnets, refreshed a few at a time."""
        settings = spec.settings
        cost_allocation = resource_tags(spec.stack, COMPONENT)
        return aws.autoscaling.Group(
            f"{name}-group",
            name=f"{spec.prefix}-workers",
            min_size=settings.worker_fleet_min_size,
            max_size=settings.worker_fleet_max_size,
            vpc_zone_identifiers=list(settings.worker_fleet_subnet_ids),
            launch_template=aws.autoscaling.GroupLaunchTemplateArgs(
                id=self.launch_template.id, version=self.launch_template.latest_version.apply(str)
            ),
            health_check_type="EC2",
            # Group metrics reach CloudWatch only once enabled: the scaling policy divides by this one.
            enabled_metrics=[IN_SERVICE_METRIC],
            metrics_granularity="1Minute",
            # New code or AMI: replace instances a few at a time; their workers finish their batches.
            instance_refresh=aws.autoscaling.GroupInstanceRefreshArgs(
                strategy="Rolling",
                preferences=aws.autoscaling.GroupInstanceRefreshPreferencesArgs(min_healthy_percentage=50),
            ),
            # A group's tags are a list the provider's default tags do not fill: the cost tags are set here.
            tags=[
                aws.autoscaling.GroupTagArgs(key=key, value=value, propagate_at_launch=True)
                for key, value in {"Name": f"{spec.prefix}-worker", **cost_allocation}.items()
            ],
            opts=self._child,
        )

    def _scaling_policy(self, name: str, spec: StackSpec, queue_name: Input[str]) -> aws.autoscaling.Policy:
        """Target tracking on visible messages per in-service instance."""
        settings = spec.settings
        return aws.autoscaling.Policy(
            f"{name}-backlog-per-instance",
            autoscaling_group_name=self.group.name,
            policy_type="TargetTrackingScaling",
            target_tracking_configuration=aws.autoscaling.PolicyTargetTrackingConfigurationArgs(
                target_value=settings.worker_fleet_backlog_per_instance,
                customized_metric_specification=Output.all(queue_name, self.group.name).apply(
                    lambda names: {"metrics": backlog_per_instance_metrics(*names)}
                ),
            ),
            opts=self._child,
        )

    def _artifact_bucket(self, name: str, spec: StackSpec, kms_key_arn: Input[str] | None) -> aws.s3.Bucket:
        """Private (public access blocked, owner-enforced), encrypted, versioned, TLS only."""
        bucket = aws.s3.Bucket(f"{name}-artifacts", bucket_prefix=f"{spec.prefix}-worker-", opts=self._child)
        aws.s3.BucketPublicAccessBlock(
            f"{name}-artifacts-private",
            bucket=bucket.id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            opts=self._child,
        )
        aws.s3.BucketOwnershipControls(
            f"{name}-artifacts-owner",
            bucket=bucket.id,
            rule=aws.s3.BucketOwnershipControlsRuleArgs(object_ownership="BucketOwnerEnforced"),
            opts=self._child,
        )
        aws.s3.BucketVersioning(
            f"{name}-artifacts-versioning",
            bucket=bucket.id,
            versioning_configuration=aws.s3.BucketVersioningVersioningConfigurationArgs(status="Enabled"),
            opts=self._child,
        )
        sse = {"sse_algorithm": "AES256"}
        if kms_key_arn is not None:
            sse = {"sse_algorithm": "aws:kms", "kms_master_key_id": kms_key_arn}
        aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-artifacts-encryption",
            bucket=bucket.id,
            rules=[
                aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
                    apply_server_side_encryption_by_default=sse, bucket_key_enabled=kms_key_arn is not None
                )
            ],
            opts=self._child,
        )
        aws.s3.BucketPolicy(
            f"{name}-artifacts-policy",
            bucket=bucket.id,
            policy=bucket.arn.apply(
                lambda arn: json.dumps(
                    {
                        "Version": policies.VERSION,
                        "Statement": [policies.deny_insecure_transport([arn, f"{arn}/*"], "s3")],
                    }
                )
            ),
            opts=self._child,
        )
        return bucket

    def _instance_profile(self, name: str, spec: StackSpec, args: WorkerFleetArgs) -> aws.iam.InstanceProfile:
        role = aws.iam.Role(
            f"{name}-role",
            description=f"Runs the {spec.prefix} workers",
            assume_role_policy=json.dumps(policies.assume_role_policy("ec2")),
            opts=self._child,
        )
        routing = spec.settings.route_permanent_errors_to_dlq
        aws.iam.RolePolicy(
            f"{name}-role-policy",
            role=role.id,
            policy=Output.all(
                args.queue_arn,
                args.table_arn,
                Output.concat(self.bucket.arn, "/", self.artifact.key),
                args.dlq_arn if routing else None,
                args.kms_key_arn,
            ).apply(lambda values: json.dumps(policies.worker_policy(*values))),
            opts=self._child,
        )
        return aws.iam.InstanceProfile(f"{name}-profile", role=role.name, opts=self._child)

    def _security_group(self, name: str, spec: StackSpec) -> aws.ec2.SecurityGroup:
        """No inbound rule at all; outbound HTTPS only (the AWS APIs, through NAT or VPC endpoints)."""
        subnet = aws.ec2.get_subnet_output(id=spec.settings.worker_fleet_subnet_ids[0])
        return aws.ec2.SecurityGroup(
            f"{name}-security-group",
            description=f"{spec.prefix} workers: no inbound, HTTPS out",
            vpc_id=subnet.vpc_id,
            egress=[
                aws.ec2.SecurityGroupEgressArgs(
                    protocol="tcp",
                    from_port=443,
                    to_port=443,
                    cidr_blocks=["0.0.0.0/0"],
                    description="AWS APIs",
                )
            ],
            opts=self._child,
        )
