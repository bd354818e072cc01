"""DynamoDB, SQS and S3 access. SDK errors are mapped to domain errors here and nowhere else."""
