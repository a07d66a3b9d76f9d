"""What every command line of the project shares: one-line usage errors and exit codes (command_line), the
stack outputs file (stack_outputs), and the endpoint and region a queue URL names (queue_endpoint)."""
