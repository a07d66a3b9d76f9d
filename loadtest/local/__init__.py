"""The embedded AWS and what runs on it: moto_server with its SQS fixes, the stack provisioned from its
stack file, the local event source mapping and worker fleet, and the runs built on them (demo, smoke,
bench)."""
