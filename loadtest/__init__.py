"""The producer side of the load test, for any SQS endpoint (AWS or the embedded one): the Locust file,
its load shapes, the CLI producer and the ledger every producer writes. The embedded AWS is in `local/`, run
analysis in `analysis/`."""
