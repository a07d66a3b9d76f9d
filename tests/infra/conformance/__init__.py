"""Checks of the mocked resource graph against AWS's published rules (tests/infra/test_aws_conformance.py).

Each module is one family of rules and exposes functions from plain data (a policy document, a resource's
inputs, a dashboard body) to a list of findings, so a test can feed them the graph of every stack file, or a
mutated copy of it and assert the exact finding.
"""
