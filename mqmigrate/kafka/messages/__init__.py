"""Kafka message definitions for the share-group admin APIs (KIP-932) that the protocol
library does not bundle, in Kafka's JSON message-definition format, which its schema layer
loads.  Written for this project from the wire layout of Apache Kafka 4.4 (API keys 90 and
91); :mod:`mqmigrate.kafka.wire` declares the message classes."""
