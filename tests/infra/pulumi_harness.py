"""Run the Pulumi program (`__main__.py`) under mocks and return what it declared, as plain data.

There is no Pulumi engine on this machine, so the program is proven the way pulumi/examples'
`testing-unit-py` does it: `pulumi.runtime.set_mocks` replaces the engine, and assertions read the graph.

    graph = run_program("prod")                         # config from Pulumi.prod.yaml
    graph = run_program("dev", {"fifo": True})          # overrides: "key" means "vehicle-pipeline:key",
                                                        # a key with ":" is taken as is, None removes it
    error, graph = run_failing_program("dev", {"batchSize": 0})   # the program must raise
    run_program("dev", calls={"aws:index/getAvailabilityZones:getAvailabilityZones": lambda args: {...}})
                                                        # answers for invokes the harness does not know yet
    stacks()                                            # every stack with a Pulumi.<stack>.yaml
    stack_config("dev", overrides)                      # the config a run uses, as YAML values

Graph API (all plain data, nothing left to await):
    graph.stack, graph.region, graph.account_id
    graph.resources            tuple[Resource] sorted by URN: components and custom resources
    graph.outputs              dict of the stack exports, resolved (`pulumi.export` names -> values)
    graph.of_type(token)       every resource of a type token, e.g. "aws:sqs/queue:Queue"
    graph.one(token, name_suffix=None)
                               the single resource of that type (whose logical name ends with the suffix);
                               AssertionError listing the candidates otherwise
    graph.by_urn(urn), graph.parent_of(resource), graph.children_of(resource)
    graph.depends_on(resource, other)   True when `other` is among `resource`'s dependencies (explicit
                               depends_on and the resources its inputs' Outputs came from)
    graph.policy_documents()   [(resource, input key, parsed document)] for every input holding a JSON IAM
                               or resource policy (has "Statement"): role policies, queue policies, ...
    graph.statements(effect=None)       [(resource, statement)] over all those documents
    graph.invokes              ((token, args), ...) every data-source call the program made, in order

Resource fields: urn, type, name (logical), custom (False for components), parent (URN; the root Stack's,
which is not in the graph, for top-level components), dependencies (URNs), id, provider (the URN of the
explicit provider a custom resource was created with, "" for the default one), property_dependencies (each
input key's source resources, by URN), inputs (as the engine
receives them: wire names such as "sqsManagedSseEnabled", nested values as dicts and lists, numbers as
floats (256.0 == 256), an AssetArchive as `pulumi.AssetArchive`), state (inputs plus the computed
properties the mock returned: arn, url, name, id...); `resource.json(key)` parses a JSON-string input.

Mock answers: new custom resources get realistic computed properties (ARNs with the stack's region and
MOCK_ACCOUNT_ID, queue URLs, physical names as Pulumi's auto-naming or the provider's name prefixes make them,
ids); invokes answer getCallerIdentity, getRegion, getPartition, getSubnet and the public Powertools layer
parameters of SSM, and any other invoke fails naming its token so it is added here rather than silently empty.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import runpy
import threading
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pulumi
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import rpc
from pulumi.runtime.settings import reset_options

from infra.settings import PROJECT, PROJECT_ROOT, read_stack_config

PROGRAM = PROJECT_ROOT / "__main__.py"
MOCK_ACCOUNT_ID = "123456789012"
DEFAULT_REGION = "us-east-1"


def stacks(root: Path = PROJECT_ROOT) -> list[str]:
    """Every stack with a `Pulumi.<stack>.yaml` in the repository root."""
    return sorted(path.name[len("Pulumi.") : -len(".yaml")] for path in root.glob("Pulumi.*.yaml"))


# ---- the recorded graph --------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Resource:
    urn: str
    type: str
    name: str
    custom: bool
    parent: str
    dependencies: tuple[str, ...]
    id: str
    inputs: dict[str, Any]
    state: dict[str, Any]
    provider: str = ""  # URN of the explicit provider it was created with; "" for the default provider
    # input key -> URNs of the resources whose outputs it was computed from, as the SDK tells the engine
    property_dependencies: dict[str, tuple[str, ...]] = dataclasses.field(default_factory=dict)

    def json(self, key: str) -> Any:
        return json.loads(self.inputs[key])


@dataclasses.dataclass(frozen=True)
class Graph:
    stack: str
    region: str
    account_id: str
    resources: tuple[Resource, ...]
    outputs: dict[str, Any]
    invokes: tuple[tuple[str, dict], ...] = ()

    def of_type(self, token: str) -> list[Resource]:
        return [resource for resource in self.resources if resource.type == token]

    def one(self, token: str, name_suffix: str | None = None) -> Resource:
        found = [r for r in self.of_type(token) if name_suffix is None or r.name.endswith(name_suffix)]
        if len(found) != 1:
            names = [r.name for r in self.of_type(token)]
            raise AssertionError(f"expected one {token} named *{name_suffix or ''}, found {names}")
        return found[0]

    def by_urn(self, urn: str) -> Resource:
        for resource in self.resources:
            if resource.urn == urn:
                return resource
        raise KeyError(urn)

    def parent_of(self, resource: Resource) -> Resource | None:
        return self.by_urn(resource.parent) if resource.parent in self._urns() else None

    def children_of(self, resource: Resource) -> list[Resource]:
        return [child for child in self.resources if child.parent == resource.urn]

    def depends_on(self, resource: Resource, other: Resource) -> bool:
        return other.urn in resource.dependencies

    def policy_documents(self) -> list[tuple[Resource, str, dict]]:
        documents = []
        for resource in self.resources:
            for key, value in resource.inputs.items():
                document = _as_policy_document(value)
                if document is not None:
                    documents.append((resource, key, document))
        return documents

    def statements(self, effect: str | None = None) -> list[tuple[Resource, dict]]:
        return [
            (resource, statement)
            for resource, _, document in self.policy_documents()
            for statement in _as_list(document["Statement"])
            if effect is None or statement.get("Effect") == effect
        ]

    def _urns(self) -> set[str]:
        return {resource.urn for resource in self.resources}


def _as_list(value: Any) -> list:
    return value if isinstance(value, list) else [value]


def _as_policy_document(value: Any) -> dict | None:
    if not isinstance(value, str) or not value.lstrip().startswith("{"):
        return None
    try:
        document = json.loads(value)
    except json.JSONDecodeError:
        return None
    return document if isinstance(document, dict) and "Statement" in document else None


# ---- mocks ---------------------------------------------------------------------------------------------
# Type token -> ARN template; {name} is the physical name. Other aws types get a generic service ARN.
_ARNS = {
    "aws:sqs/queue:Queue": "arn:aws:sqs:{region}:{account}:{name}",
    "aws:dynamodb/table:Table": "arn:aws:dynamodb:{region}:{account}:table/{name}",
    "aws:lambda/function:Function": "arn:aws:lambda:{region}:{account}:function:{name}",
    "aws:lambda/eventSourceMapping:EventSourceMapping": (
        "arn:aws:lambda:{region}:{account}:event-source-mapping:{name}"
    ),
    "aws:cloudwatch/logGroup:LogGroup": "arn:aws:logs:{region}:{account}:log-group:{name}",
    "aws:cloudwatch/metricAlarm:MetricAlarm": "arn:aws:cloudwatch:{region}:{account}:alarm:{name}",
    "aws:cloudwatch/compositeAlarm:CompositeAlarm": "arn:aws:cloudwatch:{region}:{account}:alarm:{name}",
    "aws:cloudwatch/dashboard:Dashboard": "arn:aws:cloudwatch::{account}:dashboard/{name}",
    "aws:cloudwatch/eventRule:EventRule": "arn:aws:events:{region}:{account}:rule/{name}",  # EventBridge
    "aws:iam/role:Role": "arn:aws:iam::{account}:role/{name}",
    "aws:kms/key:Key": "arn:aws:kms:{region}:{account}:key/{name}",
    "aws:s3/bucket:Bucket": "arn:aws:s3:::{name}",
    "aws:iam/instanceProfile:InstanceProfile": "arn:aws:iam::{account}:instance-profile/{name}",
    "aws:autoscaling/group:Group": (
        "arn:aws:autoscaling:{region}:{account}:autoScalingGroup:{name}:autoScalingGroupName/{name}"
    ),
    "aws:kms/alias:Alias": "arn:aws:kms:{region}:{account}:{name}",
    "aws:iam/policy:Policy": "arn:aws:iam::{account}:policy/{name}",
    "aws:sns/topic:Topic": "arn:aws:sns:{region}:{account}:{name}",
}
# Attachments of a policy to a queue, topic or role: no ARN of their own.
_ATTACHMENTS = {
    "aws:sqs/queuePolicy:QueuePolicy",
    "aws:sqs/redriveAllowPolicy:RedriveAllowPolicy",
    "aws:sns/topicPolicy:TopicPolicy",
    "aws:iam/rolePolicy:RolePolicy",
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls",
    "aws:s3/bucketVersioning:BucketVersioning",
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    "aws:s3/bucketPolicy:BucketPolicy",
}
# Where a type keeps its physical name when it is not "name".
_NAME_INPUTS = ("name", "dashboardName", "alarmName", "queryDefinitionName")
# A name prefix the provider completes with a 26-character unique suffix (S3 bucket, launch template).
_PREFIX_INPUTS = ("bucketPrefix", "namePrefix")
PROVIDER_SUFFIX_LENGTH = 26


def _physical_name(token: str, logical: str, inputs: Mapping[str, Any]) -> str:
    for key in _NAME_INPUTS:
        if isinstance(inputs.get(key), str):
            return inputs[key]
    digest = hashlib.sha256(f"{token}/{logical}".encode()).hexdigest()  # random there, stable here
    for key in _PREFIX_INPUTS:
        if isinstance(inputs.get(key), str):
            return inputs[key] + digest[:PROVIDER_SUFFIX_LENGTH]
    # Pulumi auto-naming: the logical name, a dash and 7 random hex characters.
    return f"{logical}-{digest[:7]}"


_ESM = "aws:lambda/eventSourceMapping:EventSourceMapping"
_KMS_KEY = "aws:kms/key:Key"


def _computed(
    token: str, logical: str, inputs: Mapping[str, Any], region: str, account: str
) -> tuple[str, dict]:
    """(id, computed properties) the provider would return for a new resource of this type."""
    name = _physical_name(token, logical, inputs)
    if token in _ATTACHMENTS:
        resource_id = _attachment_id(token, name, inputs)
        named = {"name": name} if token == "aws:iam/rolePolicy:RolePolicy" else {}
        return resource_id, {"id": resource_id, **named}
    if token in (_ESM, _KMS_KEY):  # addressed by a UUID the service assigns, not by a name
        name = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{region}/{account}/{logical}"))
    service = token.split(":")[1].split("/")[0]
    template = _ARNS.get(token, "arn:aws:" + service + ":{region}:{account}:{name}")
    arn = template.format(region=region, account=account, name=name)
    computed: dict[str, Any] = {"name": name, "arn": arn}
    resource_id = name
    if token == "aws:sqs/queue:Queue":
        resource_id = computed["url"] = f"https://sqs.{region}.amazonaws.com/{account}/{name}"
    elif token == "aws:lambda/function:Function":
        invoke_path = f"arn:aws:apigateway:{region}:lambda:path/2015-03-31/functions/{arn}/invocations"
        computed |= {"invokeArn": invoke_path, "qualifiedArn": f"{arn}:$LATEST", "version": "$LATEST"}
    elif token == _ESM:
        del computed["name"]
        computed |= {"uuid": name, "functionArn": inputs.get("functionName")}
    elif token == _KMS_KEY:
        computed = {"arn": arn, "keyId": name}
    elif token == "aws:s3/bucket:Bucket":
        computed["bucket"] = name
    elif token == "aws:ec2/launchTemplate:LaunchTemplate":
        resource_id = "lt-" + hashlib.sha256(arn.encode()).hexdigest()[:17]
        computed |= {"latestVersion": 1, "defaultVersion": 1}
    elif token == "aws:ec2/securityGroup:SecurityGroup":
        resource_id = "sg-" + hashlib.sha256(arn.encode()).hexdigest()[:17]
    elif token in ("aws:iam/policy:Policy", "aws:sns/topic:Topic"):
        resource_id = arn
    elif token == "aws:iam/role:Role":
        computed["uniqueId"] = "AROA" + hashlib.sha256(arn.encode()).hexdigest()[:17].upper()
    elif token == "aws:cloudwatch/dashboard:Dashboard":
        computed["dashboardArn"] = computed.pop("arn")
    computed["id"] = resource_id
    return resource_id, computed


def _attachment_id(token: str, name: str, inputs: Mapping[str, Any]) -> str:
    if token == "aws:iam/rolePolicy:RolePolicy":
        return f"{inputs.get('role')}:{name}"
    for key in ("queueUrl", "arn", "role", "bucket"):
        if isinstance(inputs.get(key), str):
            return inputs[key]
    return name


# The public parameters Powertools publishes per release: their value is the layer's ARN (Powertools docs,
# "Lambda Layer").
POWERTOOLS_PARAMETER = re.compile(
    r"/aws/service/powertools/python/(?P<arch>arm64|x86_64)/(?P<runtime>python3\.\d+)/(?P<release>[\d.]+|latest)"
)
# Stands for whichever layer version Powertools published for the asked release: what the tests prove is the
# parameter asked (release, runtime, architecture) and that its answer is what the functions get.
MOCK_POWERTOOLS_LAYER_VERSION = 41


def powertools_parameter(name: str, region: str) -> dict:
    """GetParameter's answer for a public Powertools layer parameter; KeyError for any other name."""
    match = POWERTOOLS_PARAMETER.fullmatch(name)
    if match is None:
        raise KeyError(f"the mock knows no SSM parameter {name!r}: add it to RecordingMocks.calls")
    runtime_tag = match["runtime"].replace(".", "")
    layer = (
        f"arn:aws:lambda:{region}:017000801446:layer:AWSLambdaPowertoolsPythonV3-{runtime_tag}-{match['arch']}"
        f":{MOCK_POWERTOOLS_LAYER_VERSION}"
    )
    return {
        "id": name,
        "name": name,
        "arn": f"arn:aws:ssm:{region}::parameter{name}",
        "type": "String",
        "value": layer,
        "insecureValue": layer,
        "version": 1,
        "withDecryption": True,
        "region": region,
    }


class RecordingMocks(pulumi.runtime.Mocks):
    """Answers resource registrations and invokes the way the AWS provider would, for one region/account,
    and keeps every invoke (`invokes`). `calls` maps extra invoke tokens to functions of the invoke's args."""

    def __init__(
        self,
        region: str,
        account_id: str = MOCK_ACCOUNT_ID,
        calls: Mapping[str, Callable[[dict], dict]] | None = None,
    ):
        self.region = region
        self.account_id = account_id
        self.invokes: list[tuple[str, dict]] = []
        self.calls: dict[str, Callable[[dict], dict]] = {
            "aws:index/getCallerIdentity:getCallerIdentity": lambda _: {
                "accountId": account_id,
                "arn": f"arn:aws:iam::{account_id}:user/deployer",
                "userId": "AIDAMOCKDEPLOYER",
                "id": account_id,
            },
            "aws:index/getRegion:getRegion": lambda args: {
                "region": args.get("region") or region,
                "name": args.get("region") or region,
                "id": args.get("region") or region,
                "endpoint": f"ec2.{region}.amazonaws.com",
                "description": region,
            },
            # A subnet of the stack's region, in one mock VPC.
            "aws:ec2/getSubnet:getSubnet": lambda args: {
                "id": args["id"],
                "vpcId": "vpc-0123456789abcdef0",
                "availabilityZone": f"{region}a",
                "arn": f"arn:aws:ec2:{region}:{account_id}:subnet/{args['id']}",
            },
            "aws:index/getPartition:getPartition": lambda _: {
                "partition": "aws",
                "dnsSuffix": "amazonaws.com",
                "reverseDnsPrefix": "com.amazonaws",
                "id": "aws",
            },
            "aws:ssm/getParameter:getParameter": lambda args: powertools_parameter(args["name"], region),
            **(calls or {}),
        }

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict]:
        if not args.custom:  # a component: no id, its state is what it registers as outputs
            return None, dict(args.inputs)
        if not args.typ.startswith("aws:"):
            return f"{args.name}-id", dict(args.inputs)
        resource_id, computed = _computed(args.typ, args.name, args.inputs, self.region, self.account_id)
        return resource_id, {**args.inputs, **computed}

    def call(self, args: pulumi.runtime.MockCallArgs) -> dict:
        self.invokes.append((args.token, dict(args.args)))
        answer = self.calls.get(args.token)
        if answer is None:
            raise NotImplementedError(
                f"no mock answer for invoke {args.token}: add it to RecordingMocks.calls"
            )
        return answer(args.args)


class RecordingMonitor(pulumi_mocks.MockMonitor):
    """The mock engine, also keeping each registration's parent, dependencies and inputs."""

    def __init__(self, mocks: RecordingMocks):
        super().__init__(mocks)
        self._lock = threading.Lock()
        self.registrations: list[Resource] = []

    def RegisterResource(self, request):  # the engine's gRPC method name
        response = super().RegisterResource(request)
        if request.type == "pulumi:pulumi:Stack":
            return response
        state = self.resources[response.urn].state
        resource = Resource(
            urn=response.urn,
            type=request.type,
            name=request.name,
            custom=bool(request.custom),
            parent=request.parent,
            dependencies=tuple(request.dependencies),
            id=response.id,
            inputs=rpc.deserialize_properties(request.object),
            state=dict(state),
            provider=request.provider.rsplit("::", 1)[0],  # a reference is "<urn>::<id>"
            property_dependencies={
                key: tuple(dependencies.urns) for key, dependencies in request.propertyDependencies.items()
            },
        )
        with self._lock:
            self.registrations.append(resource)
        return response


# ---- running the program --------------------------------------------------------------------------------
def _engine_config_value(value: Any) -> str:
    """What the engine hands a program for a YAML scalar: strings as they are, everything else as JSON."""
    return value if isinstance(value, str) else json.dumps(value)


def stack_config(stack: str, overrides: Mapping[str, object] | None = None) -> dict[str, Any]:
    """The stack file's `config:` block with overrides applied (bare keys belong to this project)."""
    config = dict(read_stack_config(stack))
    for key, value in (overrides or {}).items():
        full_key = key if ":" in key else f"{PROJECT}:{key}"
        if value is None:
            config.pop(full_key, None)
        else:
            config[full_key] = value
    return config


Calls = Mapping[str, Callable[[dict], dict]] | None


def _run(
    stack: str, overrides: Mapping[str, object] | None, calls: Calls
) -> tuple[Graph, BaseException | None]:
    config = stack_config(stack, overrides)
    region = str(config.get("aws:region", DEFAULT_REGION))
    mocks = RecordingMocks(region, calls=calls)
    monitor = RecordingMonitor(mocks)
    # Config and mocks are in place before the program is imported; a fresh root Stack collects the exports.
    reset_options(project=PROJECT, stack=stack)
    pulumi.runtime.set_all_config({key: _engine_config_value(value) for key, value in config.items()})
    pulumi.runtime.set_mocks(mocks, project=PROJECT, stack=stack, preview=False, monitor=monitor)
    exports: dict[str, Any] = {}

    @pulumi.runtime.test
    def program():
        runpy.run_path(str(PROGRAM), run_name="__main__")
        root = pulumi.runtime.get_root_resource()
        # Returned, so the test runner awaits every export (and with them all registrations).
        return pulumi.Output.all(**root.outputs).apply(exports.update)

    error: BaseException | None = None
    try:
        program()
    except Exception as exc:  # handed to the caller with what was declared before it
        error = exc
    resources = tuple(sorted(monitor.registrations, key=lambda r: r.urn))
    return Graph(stack, region, mocks.account_id, resources, exports, tuple(mocks.invokes)), error


def run_program(stack: str, overrides: Mapping[str, object] | None = None, calls: Calls = None) -> Graph:
    """Run `__main__.py` for a stack (its config file plus overrides) and return the declared graph."""
    graph, error = _run(stack, overrides, calls)
    if error is not None:
        raise error
    return graph


def run_failing_program(
    stack: str, overrides: Mapping[str, object] | None = None, calls: Calls = None
) -> tuple[BaseException, Graph]:
    """Run a program that must fail; return its exception and what it declared before failing."""
    graph, error = _run(stack, overrides, calls)
    if error is None:
        raise AssertionError(f"the program succeeded for stack {stack} with {dict(overrides or {})}")
    return error, graph
