"""mqmigrate: move queue workloads from RabbitMQ, SQS and AMQP 1.0 brokers onto Kafka share groups."""

__version__ = "0.1.0"
