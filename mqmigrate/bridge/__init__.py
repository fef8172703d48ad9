"""The bridge: one loop that moves messages from a source adapter into Kafka."""
