"""Run analysis: the ledger check, the report and its CloudWatch source, and the models the report uses."""
