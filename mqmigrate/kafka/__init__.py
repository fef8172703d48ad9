"""Kafka side: admin, features, producers and the share-group client, each behind one module."""
