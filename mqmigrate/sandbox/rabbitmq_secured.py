"""The sandbox RabbitMQ node's TLS listeners, next to its plain ones.

- ``amqps`` (default 5671): AMQP 0-9-1 and AMQP 1.0 over TLS with the sandbox CA's server
  certificate.  A client certificate is verified when one is offered (``verify_peer``) but not
  required (``fail_if_no_peer_cert = false``), so password logins over TLS keep working; an
  expired certificate or one from another CA is refused during the handshake.
- x509 ``EXTERNAL`` login (plugin ``rabbitmq_auth_mechanism_ssl``): a client that presents
  the sandbox's client certificate logs in as the user named after its common name,
  :data:`~mqmigrate.sandbox.tls.CLIENT_CN`, created with no password at all.
- management over https (default 15671), the same API and UI as the plain port.
"""

from __future__ import annotations

from mqmigrate.sandbox.tls import CLIENT_CN, TlsFiles

#: port keys and defaults (``--port rabbitmq.amqps=N``)
SECURED_PORTS = {"amqps": 5671, "management_tls": 15671}
TLS_PLUGINS = ("rabbitmq_auth_mechanism_ssl",)
#: the user x509 EXTERNAL logins map to (the client certificate's CN)
EXTERNAL_USER = CLIENT_CN


def render_tls_config(amqps_port: int, management_tls_port: int, files: TlsFiles) -> str:
    """``rabbitmq.conf`` lines for the TLS listeners (appended to the plain configuration)."""
    ssl = {
        "cacertfile": files.ca_cert,
        "certfile": files.server_cert,
        "keyfile": files.server_key,
    }
    lines = [
        "# TLS listeners (mqmigrate.sandbox.rabbitmq_secured)",
        f"listeners.ssl.default = 127.0.0.1:{amqps_port}",
        *(f"ssl_options.{key} = {path}" for key, path in ssl.items()),
        # check a certificate when one is offered, but let password clients in without one
        "ssl_options.verify = verify_peer",
        "ssl_options.fail_if_no_peer_cert = false",
        "ssl_options.depth = 2",
        "auth_mechanisms.1 = PLAIN",
        "auth_mechanisms.2 = AMQPLAIN",
        "auth_mechanisms.3 = EXTERNAL",
        "ssl_cert_login_from = common_name",
        "management.ssl.ip = 127.0.0.1",
        f"management.ssl.port = {management_tls_port}",
        *(f"management.ssl.{key} = {path}" for key, path in ssl.items()),
    ]
    return "\n".join(lines) + "\n"


def external_user_commands() -> list[list[str]]:
    """``rabbitmqctl`` argument lists run after the EXTERNAL user exists (idempotent): no
    password, every permission on vhost ``/``."""
    return [
        ["clear_password", EXTERNAL_USER],
        ["set_permissions", "-p", "/", EXTERNAL_USER, ".*", ".*", ".*"],
    ]
