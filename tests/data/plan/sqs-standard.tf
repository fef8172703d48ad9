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

# Who may use the queue: an uploader role sends, the thumbnailer role receives and deletes.
resource "aws_sqs_queue_policy" "thumbnails" {
  queue_url = aws_sqs_queue.thumbnails.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "uploads"
        Effect    = "Allow"
        Principal = { AWS = "arn:aws:iam::123456789012:role/uploader" }
        Action    = "sqs:SendMessage"
        Resource  = aws_sqs_queue.thumbnails.arn
      },
      {
        Sid       = "workers"
        Effect    = "Allow"
        Principal = { AWS = "arn:aws:iam::123456789012:role/thumbnailer" }
        Action    = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility"]
        Resource  = aws_sqs_queue.thumbnails.arn
      },
      {
        Sid       = "s3-events"
        Effect    = "Allow"
        Principal = { Service = "s3.amazonaws.com" }
        Action    = "sqs:SendMessage"
        Resource  = aws_sqs_queue.thumbnails.arn
      }
    ]
  })
}
