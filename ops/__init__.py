"""Operator tools, run by a person against a deployed (or embedded) stack: where is an event (`ops.status`),
and the DLQ: peek, redrive, purge (`ops.redrive`). Outside the Lambda package: nothing deployed needs them."""
