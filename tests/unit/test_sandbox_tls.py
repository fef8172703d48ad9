"""The sandbox CA and the configuration of the secured Kafka listeners (no broker needed)."""

from __future__ import annotations

import datetime as dt
import ipaddress
import stat

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from mqmigrate.sandbox import kafka_secured, tls


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> tls.TlsFiles:
    return tls.ensure_tls(tmp_path_factory.mktemp("tls"))


def _cert(path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def test_every_file_is_written_and_keys_are_private(files):
    for path in files.all_paths():
        assert path.is_file() and path.stat().st_size > 0, path
    for key in (
        files.ca_key,
        files.server_key,
        files.client_key,
        files.expired_client_key,
        files.unknown_ca_client_key,
        files.server_keystore_pem,
        files.server_p12,
    ):
        assert stat.S_IMODE(key.stat().st_mode) == 0o600, key


def test_server_and_client_certificates_chain_to_the_sandbox_ca(files):
    ca = _cert(files.ca_cert)
    for leaf in (files.server_cert, files.client_cert, files.expired_client_cert):
        _cert(leaf).verify_directly_issued_by(ca)  # raises when the signature is not the CA's
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca


def test_server_certificate_names_localhost_and_loopback(files):
    san = (
        _cert(files.server_cert)
        .extensions.get_extension_for_class(x509.SubjectAlternativeName)
        .value
    )
    assert san.get_values_for_type(x509.DNSName) == ["localhost"]
    assert san.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("127.0.0.1")]


def test_server_pem_holds_the_chain_and_keystore_pem_the_key_too(files):
    server_pem = files.server_cert.read_text()
    assert server_pem.count("BEGIN CERTIFICATE") == 2
    keystore = files.server_keystore_pem.read_text()
    assert keystore.startswith("-----BEGIN PRIVATE KEY-----")  # unencrypted PKCS#8
    assert keystore.count("BEGIN CERTIFICATE") == 2
    key = load_pem_private_key(files.server_key.read_bytes(), password=None)
    assert (
        key.public_key().public_numbers() == _cert(files.server_cert).public_key().public_numbers()
    )


def test_client_identities_for_refusal_tests(files):
    now = dt.datetime.now(dt.timezone.utc)
    client = _cert(files.client_cert)
    assert client.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value == tls.CLIENT_CN
    assert client.not_valid_after_utc > now + dt.timedelta(days=30)
    expired = _cert(files.expired_client_cert)
    assert expired.not_valid_after_utc < now
    assert expired.issuer == _cert(files.ca_cert).subject  # refused only for its dates
    stranger = _cert(files.unknown_ca_client_cert)
    stranger.verify_directly_issued_by(_cert(files.unknown_ca_cert))
    assert stranger.issuer != _cert(files.ca_cert).subject


def test_pkcs12_bundle_opens_with_the_documented_password(files):
    from cryptography.hazmat.primitives.serialization import pkcs12

    bundle = pkcs12.load_pkcs12(files.server_p12.read_bytes(), tls.PKCS12_PASSWORD.encode())
    assert bundle.cert.certificate == _cert(files.server_cert)
    assert [c.certificate for c in bundle.additional_certs] == [_cert(files.ca_cert)]


def test_a_valid_set_is_reused_untouched(tmp_path):
    first = tls.ensure_tls(tmp_path)
    before = {p: p.read_bytes() for p in first.all_paths()}
    tls.ensure_tls(tmp_path)
    assert {p: p.read_bytes() for p in first.all_paths()} == before


def test_a_missing_file_regenerates_the_whole_set(tmp_path):
    first = tls.ensure_tls(tmp_path)
    old_ca = first.ca_cert.read_bytes()
    first.client_key.unlink()
    again = tls.ensure_tls(tmp_path)
    assert again.client_key.is_file()
    assert again.ca_cert.read_bytes() != old_ca
    _cert(again.client_cert).verify_directly_issued_by(_cert(again.ca_cert))


def test_certificates_near_their_end_are_regenerated(tmp_path):
    first = tls.ensure_tls(tmp_path)
    old_server = first.server_cert.read_bytes()
    end = _cert(first.server_cert).not_valid_after_utc
    assert not tls.needs_regeneration(first, now=end - dt.timedelta(days=30))
    assert tls.needs_regeneration(first, now=end - dt.timedelta(days=1))
    tls.ensure_tls(tmp_path, now=end - dt.timedelta(days=1))
    assert first.server_cert.read_bytes() != old_server


def test_garbage_in_a_certificate_file_regenerates(tmp_path):
    first = tls.ensure_tls(tmp_path)
    first.server_cert.write_text("not a certificate\n")
    assert tls.needs_regeneration(first, now=dt.datetime.now(dt.timezone.utc))
    tls.ensure_tls(tmp_path)
    _cert(first.server_cert).verify_directly_issued_by(_cert(first.ca_cert))


def test_secret_is_made_once_and_kept(tmp_path):
    path = tmp_path / "pw"
    value = tls.ensure_secret(path)
    assert len(value) >= 20 and tls.ensure_secret(path) == value
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


# -- the secured Kafka listeners -----------------------------------------------------------


@pytest.fixture
def secured(files, tmp_path) -> kafka_secured.SecuredKafka:
    return kafka_secured.SecuredKafka(
        ports={"sasl_ssl": 19094, "oauth": 19095, "mtls": 19096},
        tls=files,
        password_file=tmp_path / "sandbox-password",
    )


def test_listener_properties_add_three_secured_listeners(secured):
    base = {
        "listeners": "PLAINTEXT://127.0.0.1:9092,CONTROLLER://127.0.0.1:9093",
        "advertised.listeners": "PLAINTEXT://127.0.0.1:9092",
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
    }
    props = kafka_secured.merge_listeners(
        base, kafka_secured.listener_properties(secured, password="s3cret")
    )
    assert props["listeners"] == (
        "PLAINTEXT://127.0.0.1:9092,CONTROLLER://127.0.0.1:9093,SASL_SSL://127.0.0.1:19094,"
        "OAUTH://127.0.0.1:19095,MTLS://127.0.0.1:19096"
    )
    assert props["advertised.listeners"].split(",") == [
        "PLAINTEXT://127.0.0.1:9092",
        "SASL_SSL://127.0.0.1:19094",
        "OAUTH://127.0.0.1:19095",
        "MTLS://127.0.0.1:19096",
    ]
    assert props["listener.security.protocol.map"].endswith(
        "SASL_SSL:SASL_SSL,OAUTH:SASL_SSL,MTLS:SSL"
    )
    assert props["ssl.keystore.type"] == props["ssl.truststore.type"] == "PEM"
    assert props["ssl.truststore.location"] == str(secured.tls.ca_cert)
    assert props["listener.name.mtls.ssl.client.auth"] == "required"
    assert "SCRAM-SHA-512" in props["listener.name.sasl_ssl.sasl.enabled.mechanisms"]
    assert props["listener.name.oauth.sasl.enabled.mechanisms"] == "OAUTHBEARER"
    assert 'user_mqmigrate="s3cret"' in props["listener.name.sasl_ssl.plain.sasl.jaas.config"]


def test_client_files_reference_the_password_and_never_hold_it(secured, tmp_path):
    secured.password_file.write_text("the-real-password\n")
    written = kafka_secured.write_client_properties(secured, tmp_path)
    assert tuple(written) == kafka_secured.CLIENT_FILES
    scram = written["client-scram"].read_text()
    assert "the-real-password" not in "".join(p.read_text() for p in written.values())
    assert f"sasl.password=${{file:{secured.password_file}}}\n" in scram
    assert "bootstrap.servers=127.0.0.1:19094\n" in scram
    assert "sasl.mechanism=SCRAM-SHA-512\n" in scram
    oauth = written["client-oauth"].read_text()
    assert "enable.sasl.oauthbearer.unsecure.jwt=true\n" in oauth
    assert "bootstrap.servers=127.0.0.1:19095\n" in oauth
    mtls = written["client-mtls"].read_text()
    assert f"ssl.certificate.location={secured.tls.client_cert}\n" in mtls
    assert "security.protocol=SSL\n" in mtls
    assert kafka_secured.read_password(secured.password_file) == "the-real-password"


def test_endpoints_name_the_files_not_the_password(secured, tmp_path):
    secured.password_file.write_text("the-real-password\n")
    rows = kafka_secured.endpoints(secured, tmp_path)
    assert [r.url for r in rows][:3] == ["127.0.0.1:19094", "127.0.0.1:19095", "127.0.0.1:19096"]
    assert all("the-real-password" not in r.url + r.note for r in rows)
    assert {r.name: r.url for r in rows}["client-scram"] == str(
        tmp_path / "client-scram.properties"
    )


# -- the RabbitMQ TLS listeners ------------------------------------------------------------


def test_rabbitmq_tls_config_lines(files):
    from mqmigrate.sandbox import rabbitmq_secured

    text = rabbitmq_secured.render_tls_config(15671, 25671, files)
    lines = dict(line.split(" = ", 1) for line in text.splitlines() if " = " in line)
    assert lines["listeners.ssl.default"] == "127.0.0.1:15671"
    assert lines["management.ssl.port"] == "25671"
    assert lines["management.ssl.ip"] == "127.0.0.1"
    for prefix in ("ssl_options", "management.ssl"):
        assert lines[f"{prefix}.cacertfile"] == str(files.ca_cert)
        assert lines[f"{prefix}.certfile"] == str(files.server_cert)
        assert lines[f"{prefix}.keyfile"] == str(files.server_key)
    # a certificate is checked when offered, not required (password logins over TLS work)
    assert lines["ssl_options.verify"] == "verify_peer"
    assert lines["ssl_options.fail_if_no_peer_cert"] == "false"
    assert "EXTERNAL" in {v for k, v in lines.items() if k.startswith("auth_mechanisms.")}
    assert lines["ssl_cert_login_from"] == "common_name"


def test_rabbitmq_secured_node_enables_the_x509_plugin(tmp_path):
    from mqmigrate.sandbox.base import SandboxContext
    from mqmigrate.sandbox.rabbitmq import RabbitMQService

    ctx = SandboxContext(
        state_dir=tmp_path,
        cache_dir=tmp_path,
        ports={
            "rabbitmq.amqp": 1,
            "rabbitmq.management": 2,
            "rabbitmq.amqps": 3,
            "rabbitmq.management_tls": 4,
        },
    )
    RabbitMQService(ctx)._write_config()
    assert "rabbitmq_auth_mechanism_ssl" in (tmp_path / "rabbitmq" / "enabled_plugins").read_text()
    assert (
        "listeners.ssl.default = 127.0.0.1:3"
        in (tmp_path / "rabbitmq" / "rabbitmq.conf").read_text()
    )
    assert (tmp_path / "tls" / "ca.pem").is_file()
    plain = RabbitMQService(
        SandboxContext(state_dir=tmp_path / "p", cache_dir=tmp_path), secured=False
    )
    plain._write_config()
    assert "ssl" not in (tmp_path / "p" / "rabbitmq" / "rabbitmq.conf").read_text()
    assert set(plain.all_ports()) == {"amqp", "management", "dist", "epmd"}


# -- the Artemis TLS acceptor and https console --------------------------------------------

_BROKER_XML = """<configuration><core>
      <acceptors>
         <acceptor name="artemis">tcp://127.0.0.1:61616?protocols=CORE,AMQP</acceptor>
      </acceptors>
</core></configuration>
"""

_BOOTSTRAP_XML = """<broker xmlns="http://activemq.apache.org/schema">
   <web path="web" rootRedirectLocation="console">
       <binding name="artemis" uri="http://127.0.0.1:8161">
           <app name="console" url="console" war="console.war"/>
       </binding>
   </web>
</broker>
"""

_LOGIN_CONFIG = """activemq {
   org.apache.activemq.artemis.spi.core.security.jaas.PropertiesLoginModule sufficient
       org.apache.activemq.jaas.properties.user="artemis-users.properties";

   org.apache.activemq.artemis.spi.core.security.jaas.GuestLoginModule sufficient
       org.apache.activemq.jaas.guest.user="artemis"
       org.apache.activemq.jaas.guest.role="amq";
};
"""


def test_artemis_tls_acceptor_follows_the_plain_one_and_renders_idempotently(files):
    import xml.etree.ElementTree as ET

    from mqmigrate.sandbox import artemis_secured
    from mqmigrate.sandbox.artemis import render_broker_xml

    once = artemis_secured.add_tls_acceptor(_BROKER_XML, 61617, files)
    assert artemis_secured.add_tls_acceptor(once, 61617, files) == once
    acceptors = {a.get("name"): a.text for a in ET.fromstring(once).iter("acceptor")}
    assert list(acceptors) == ["artemis", "artemis-tls"]
    url = acceptors["artemis-tls"]
    assert url.startswith("tcp://127.0.0.1:61617?")
    params = dict(p.split("=", 1) for p in url.split("?", 1)[1].split(";"))
    assert params["sslEnabled"] == "true" and params["wantClientAuth"] == "true"
    assert params["keyStorePath"] == str(files.server_p12)
    assert params["trustStoreType"] == "PEM" and params["trustStorePath"] == str(files.ca_cert)
    assert "AMQP" in params["protocols"].split(",")
    # the plain renderer drops every other acceptor; ours comes back on the next render
    plain = render_broker_xml(once, 62000)
    assert "artemis-tls" not in plain
    assert "tcp://127.0.0.1:62000" in artemis_secured.add_tls_acceptor(plain, 61617, files)


def test_artemis_https_binding_serves_the_same_apps(files):
    import xml.etree.ElementTree as ET

    from mqmigrate.sandbox import artemis_secured
    from mqmigrate.sandbox.artemis import render_bootstrap_xml

    once = artemis_secured.add_tls_binding(_BOOTSTRAP_XML, 8443, files)
    assert artemis_secured.add_tls_binding(once, 8443, files) == once
    ns = "{http://activemq.apache.org/schema}"
    bindings = list(ET.fromstring(once).iter(f"{ns}binding"))
    assert [b.get("name") for b in bindings] == ["artemis", "artemis-tls"]
    secure = bindings[1]
    assert secure.get("uri") == "https://127.0.0.1:8443"
    assert secure.get("keyStorePath") == str(files.server_p12)
    assert [a.get("war") for a in secure.iter(f"{ns}app")] == ["console.war"]
    # changing the plain port afterwards leaves the https binding alone
    assert 'uri="https://127.0.0.1:8443"' in render_bootstrap_xml(once, 9161)


def test_artemis_guest_login_takes_only_clients_without_credentials():
    from mqmigrate.sandbox import artemis_secured

    narrowed = artemis_secured.refuse_wrong_passwords(_LOGIN_CONFIG)
    assert "credentialsInvalidate=true;" in narrowed
    assert narrowed.count(";") == _LOGIN_CONFIG.count(";")
    assert artemis_secured.refuse_wrong_passwords(narrowed) == narrowed


def test_a_missing_tls_listener_is_one_error_naming_the_restart(files):
    import socket

    from mqmigrate.errors import SandboxError

    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(SandboxError) as refused:
        tls.probe_tls_listener("kafka", f"127.0.0.1:{port}", files)
    message = str(refused.value)  # what ``sandbox status`` shows (its first 200 characters)
    assert f"no verified TLS handshake on 127.0.0.1:{port}" in message
    assert message.endswith("mqmigrate sandbox down -s kafka && mqmigrate sandbox up -s kafka")
    assert len(message) <= 200


def test_a_broker_without_plaintext_keeps_only_secured_and_controller_listeners(secured):
    base = {
        "listeners": "PLAINTEXT://127.0.0.1:9092,CONTROLLER://127.0.0.1:9093",
        "advertised.listeners": "PLAINTEXT://127.0.0.1:9092",
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
    }
    props = kafka_secured.without_plaintext(
        kafka_secured.merge_listeners(
            base, kafka_secured.listener_properties(secured, password="pw")
        )
    )
    assert "PLAINTEXT://" not in props["listeners"] + props["advertised.listeners"]
    assert props["listeners"].startswith("CONTROLLER://127.0.0.1:9093,SASL_SSL://")
    assert (
        props["listener.security.protocol.map"]
        == "CONTROLLER:PLAINTEXT,SASL_SSL:SASL_SSL,OAUTH:SASL_SSL,MTLS:SSL"
    )
    assert props["inter.broker.listener.name"] == "MTLS"


def test_a_broker_without_plaintext_needs_its_secured_listeners(tmp_path):
    from mqmigrate.sandbox.base import SandboxContext
    from mqmigrate.sandbox.kafka import KafkaService

    with pytest.raises(ValueError):
        KafkaService(
            SandboxContext(state_dir=tmp_path, cache_dir=tmp_path), secured=False, plaintext=False
        )


def test_a_broker_collector_is_one_the_sandbox_knows(tmp_path):
    from mqmigrate.sandbox.base import SandboxContext
    from mqmigrate.sandbox.kafka import GARBAGE_COLLECTORS, KafkaService

    ctx = SandboxContext(state_dir=tmp_path, cache_dir=tmp_path)
    assert KafkaService(ctx, collector="zgc").collector == "zgc"
    assert GARBAGE_COLLECTORS["zgc"] == ("-XX:+UseZGC",)
    with pytest.raises(ValueError, match="g1, zgc"):
        KafkaService(ctx, collector="cms")
