"""What consumes the local stack's queue: Lambda's SQS poller for one function (esm_runner) or a pool of
standalone workers scaled as the EC2 fleet is (worker_pool), both on one scaling controller (scaler)."""
