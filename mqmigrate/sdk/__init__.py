"""The SDKs a migrated service runs: the share-group :mod:`worker`, the :mod:`dualwrite`
producer, the :mod:`consumerswitch` that moves consumers between source and Kafka, and the
:mod:`headers` they agree on."""
