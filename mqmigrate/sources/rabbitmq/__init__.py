"""RabbitMQ source (pika).  ``adapter.py`` holds the adapter; imported lazily by the registry."""
