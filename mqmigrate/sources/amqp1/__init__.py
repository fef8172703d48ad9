"""AMQP 1.0 source (python-qpid-proton)."""
