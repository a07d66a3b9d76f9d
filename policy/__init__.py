"""The CrossGuard policy pack of the vehicle pipeline (README, Policy pack).

The Pulumi CLI runs it from this folder (`pulumi preview --policy-pack policy`) in a virtualenv of its own
(requirements.txt): `__main__.py` runs with this folder first on sys.path, so it imports `pipeline_policies`
by that name, and nothing here imports the program (infra/) or anything outside pulumi_policy and the
standard library. Tests import the same package as `policy.pipeline_policies`.
"""
