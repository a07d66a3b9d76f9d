"""The embedded AWS: moto_server in its own process on 127.0.0.1, made to behave and scale as SQS does, with
the stack's queues and table provisioned from its stack file.

`python -m loadtest.local.emulator -H 127.0.0.1 -p PORT` (the arguments of `moto_server`) serves it;
`embedded_aws.moto_server_process` starts it for a run.
"""
