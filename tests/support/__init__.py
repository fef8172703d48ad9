"""Fixtures' helpers for the tests: brokers a test owns (brokers), publishing and reading back
(bridge, amqp1, sqs), the bridge as a subprocess, fakes for pure tests, TLS material."""
