"""The producer: the vehicle event factory (built on the consumer's event contract), the batching SQS client,
and the producer Lambda's handler. Locust, the CLI producer and the Lambda all send through this package."""
