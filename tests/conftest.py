"""Process-wide test environment: never reach real AWS, and give the handler the variables Lambda would."""

import os

# Set before any test module imports boto3 or the handler (Powertools reads these at import time).
os.environ.update(
    AWS_ACCESS_KEY_ID="testing",
    AWS_SECRET_ACCESS_KEY="testing",
    AWS_SESSION_TOKEN="testing",
    AWS_DEFAULT_REGION="us-east-1",
    AWS_REGION="us-east-1",
    POWERTOOLS_SERVICE_NAME="vehicle-consumer",
    POWERTOOLS_METRICS_NAMESPACE="VehiclePipelineTest",
    # The handler checks its configuration at import; tests inject their own store (named as the test stack).
    TABLE_NAME="vehicle-pipeline-test-vehicle-events",
)
os.environ.pop("AWS_ENDPOINT_URL", None)
os.environ.pop("AWS_PROFILE", None)
