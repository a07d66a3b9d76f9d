"""Vehicle events pipeline: SQS queue (+ DLQ) -> Lambda consumer (Powertools) -> DynamoDB table. One stack
per environment; every size and switch comes from `Pulumi.<stack>.yaml` through `infra/settings.py`, every
name from `infra/resource_spec.py`."""

import pulumi
import pulumi_aws as aws
from pulumi import Output

from infra.consumer_function import ConsumerFunction, ConsumerFunctionArgs
from infra.cost_tags import tagged_provider
from infra.encryption import EncryptionKey, EncryptionKeyArgs
from infra.monitoring import Monitoring, MonitoringArgs
from infra.producer_function import ProducerFunction, ProducerFunctionArgs
from infra.queues import EventQueues, EventQueuesArgs
from infra.resource_spec import EVENT_ID_INDEX, StackSpec
from infra.stack_settings import load_settings
from infra.table import EventTable, EventTableArgs
from infra.worker_fleet import WorkerFleet, WorkerFleetArgs

# Validated before anything is declared: a bad value stops the program naming its key, value and rule.
settings = load_settings()
spec = StackSpec(pulumi.get_stack(), settings)
region = aws.get_region().region
# Every component creates through one provider whose default tags (project, stack) reach each resource that
# takes tags; each component adds its own `component` tag (infra/cost_tags.py).
tagged = pulumi.ResourceOptions(providers=[tagged_provider(spec.stack, region)])

encryption = EncryptionKey("encryption", EncryptionKeyArgs(spec, region), tagged)
queues = EventQueues("events", EventQueuesArgs(spec, encryption.key_arn), tagged)
table = EventTable("vehicle-events", EventTableArgs(spec, encryption.key_arn), tagged)
consumer = ConsumerFunction(
    "consumer",
    ConsumerFunctionArgs(
        spec=spec,
        region=region,
        queue_arn=queues.queue_arn,
        dlq_url=queues.dlq_url,
        dlq_arn=queues.dlq_arn,
        table_name=table.table_name,
        table_arn=table.table_arn,
        kms_key_arn=encryption.key_arn,
    ),
    tagged,
)

monitoring = Monitoring(
    "monitoring",
    MonitoringArgs(
        spec=spec,
        region=region,
        queue_name=queues.queue_name,
        dlq_name=queues.dlq_name,
        function_name=consumer.function_name,
        table_name=table.table_name,
        log_group_name=consumer.log_group_name,
        event_source_mapping_uuid=consumer.event_source_mapping_uuid,
        kms_key_arn=encryption.key_arn,
    ),
    tagged,
)

if settings.worker_fleet:  # seed 000's EC2 consumers, beside the Lambda (README, Compute modes)
    fleet = WorkerFleet(
        "workers",
        WorkerFleetArgs(
            spec=spec,
            region=region,
            queue_url=queues.queue_url,
            queue_arn=queues.queue_arn,
            queue_name=queues.queue_name,
            dlq_url=queues.dlq_url,
            dlq_arn=queues.dlq_arn,
            table_name=table.table_name,
            table_arn=table.table_arn,
            kms_key_arn=encryption.key_arn,
        ),
        tagged,
    )
    pulumi.export("workerGroupName", fleet.group.name)
    pulumi.export("workerArtifact", Output.concat("s3://", fleet.bucket.bucket, "/", fleet.artifact.key))

if settings.producer_function:  # seed 000's generator, as a function (optionally on a schedule)
    producer = ProducerFunction(
        "producer",
        ProducerFunctionArgs(spec, region, queues.queue_url, queues.queue_arn, encryption.key_arn),
        tagged,
    )
    pulumi.export("producerFunctionName", producer.function.name)

pulumi.export("queueUrl", queues.queue_url)
pulumi.export("queueArn", queues.queue_arn)
pulumi.export("dlqUrl", queues.dlq_url)
pulumi.export("tableName", table.table_name)
if settings.event_id_index:  # ops.status finds an event by its id alone through it
    pulumi.export("eventIdIndex", EVENT_ID_INDEX)
pulumi.export("functionName", consumer.function_name)
pulumi.export("region", region)
pulumi.export("producerPolicyArn", queues.producer_policy_arn)
pulumi.export("dashboardName", monitoring.dashboard_name)
pulumi.export("dashboardUrl", monitoring.dashboard_url)
pulumi.export("alarmTopicArn", monitoring.topic.arn)
pulumi.export("kmsKeyArn", encryption.key_arn)  # None when the stack uses AWS-managed keys
