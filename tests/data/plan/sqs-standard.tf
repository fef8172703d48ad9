# An SQS standard queue with a redrive policy to its dead-letter queue.
resource "aws_sqs_queue" "thumbnails" {
  name                       = "thumbnails"
  visibility_timeout_seconds = 45
  message_retention_seconds  = 345600
  receive_wait_time_seconds  = 20
  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.thumbnails_dlq.arn
    maxReceiveCount     = 4
  })
}

resource "aws_sqs_queue" "thumbnails_dlq" {
  name                      = "thumbnails-dlq"
  message_retention_seconds = 1209600
}
