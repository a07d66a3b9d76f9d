"""`python -m loadtest.local.emulator -H 127.0.0.1 -p PORT`: moto_server with the project's layers.

- sqs_performance: moto's SQS semantics at a cost per call independent of the backlog;
- fifo_groups: FIFO message groups handed out in order and never to two receivers at once, as SQS does;
- dynamodb_capacity: each table's write capacity enforced (provisioned, on-demand, partitions), as DynamoDB
  throttles;
- request_counter: every request counted for the cost model, and the pipeline's own feed (stored events
  with their end-to-end latency, the consumers' state) for whatever watches the run (`/_pipeline/…`).
"""

import sys

from moto.server import main

from loadtest.local.emulator import dynamodb_capacity, fifo_groups, request_counter, sqs_performance

sqs_performance.install()
fifo_groups.install()
dynamodb_capacity.install()
request_counter.install()
sys.exit(main(sys.argv[1:]))
