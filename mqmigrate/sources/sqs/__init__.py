"""Amazon SQS source (boto3)."""
