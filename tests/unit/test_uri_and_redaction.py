from __future__ import annotations

import pytest

from mqmigrate.errors import UsageError
from mqmigrate.redact import Secret, mask_uri
from mqmigrate.sources.uri import parse_source_uri


def test_mask_uri_hides_password_and_secret_query_values():
    assert mask_uri("amqp://guest:guest@h:5672/%2f") == "amqp://guest:***@h:5672/%2f"
    assert mask_uri("sqs+http://AKIA:abc@h:1?region=eu&token=xyz") == (
        "sqs+http://AKIA:***@h:1?region=eu&token=***"
    )
    assert mask_uri("amqp://h:5672") == "amqp://h:5672"


def test_secret_never_prints_its_value():
    secret = Secret("hunter2")
    assert str(secret) == "***" and repr(secret) == "Secret('***')" and f"{secret}" == "***"
    assert secret.reveal() == "hunter2"


@pytest.mark.parametrize(
    "uri, kind, port, vhost",
    [
        ("amqp://u:p@rabbit/", "rabbitmq", 5672, "/"),
        ("amqp://u:p@rabbit:5673/prod%2Fa", "rabbitmq", 5673, "prod/a"),
        ("rabbitmq+http://u:p@rabbit", "rabbitmq-management", 15672, "/"),
        ("amqp1://artemis:61616", "amqp1", 61616, "/"),
        ("sqs+http://127.0.0.1:5000?region=eu-west-1", "sqs", 5000, "/"),
    ],
)
def test_parse_source_uri(uri, kind, port, vhost):
    parsed = parse_source_uri(uri)
    assert (parsed.kind, parsed.port, parsed.vhost) == (kind, port, vhost)


def test_sqs_region_from_host_or_query():
    assert parse_source_uri("sqs://eu-central-1").region == "eu-central-1"
    assert parse_source_uri("sqs+http://h:1?region=ap-south-1").region == "ap-south-1"


def test_parsed_password_is_a_secret():
    parsed = parse_source_uri("amqp://user:pa%40ss@h/")
    assert parsed.password.reveal() == "pa@ss"
    assert "pa@ss" not in repr(parsed) and "pa@ss" not in parsed.masked


@pytest.mark.parametrize("uri", ["ftp://x", "nonsense", "amqp://:99999", "amqp:///vhost"])
def test_bad_uris_are_usage_errors(uri):
    with pytest.raises(UsageError):
        parse_source_uri(uri)


# -- TLS settings, secrets by reference, masking (issue: secured estates) ---------------------
import logging  # noqa: E402
import ssl  # noqa: E402

from mqmigrate.errors import ConfigError  # noqa: E402
from mqmigrate.secrets import expand  # noqa: E402
from mqmigrate.sources import kind_for_uri  # noqa: E402
from mqmigrate.sources.uri import SCHEMES, management_endpoint  # noqa: E402

PASSWORD = "Sup3r-S3cret!pw"


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    """A CA, and a client certificate and key it signed (PEM files)."""
    from tests.support.tls import make_pki

    return make_pki(tmp_path_factory.mktemp("pki"))


def test_tls_query_parameters_are_parsed(pki):
    uri = (
        f"amqps://u@broker:5671/%2f?cafile={pki.ca}&certfile={pki.client_cert}"
        f"&keyfile={pki.client_key}&server_name=rabbit.internal"
    )
    parsed = parse_source_uri(uri)
    options = parsed.tls_options
    assert (options.cafile, options.certfile, options.keyfile) == (
        str(pki.ca),
        str(pki.client_cert),
        str(pki.client_key),
    )
    assert options.server_name == "rabbit.internal" and options.verify
    assert parsed.auth_mechanism == "external"  # a certificate and no password
    assert (
        parse_source_uri(
            f"amqps://u:p@b?certfile={pki.client_cert}&keyfile={pki.client_key}"
        ).auth_mechanism
        == "plain"
    )
    assert (
        parse_source_uri(
            f"amqps://b?certfile={pki.client_cert}&keyfile={pki.client_key}&auth_mechanism=external"
        ).auth_mechanism
        == "external"
    )


@pytest.mark.parametrize(
    "uri, needle",
    [
        ("amqp://h/?cafile=/etc/hostname", "not a TLS URI"),
        ("amqps://h/?cafile=/no/such/ca.pem", "no such file"),
        ("amqps://h/?cafle=/x", "did you mean ?cafile="),
        ("amqps://h/?verify=maybe", "use true or false"),
        ("amqps://h/?auth_mechanism=kerberos", "plain or external"),
        ("amqp1s://h?sasl_mechanism=PLAIN", "did you mean ?sasl_mechanisms="),
        ("sqs://eu-west-1?rolearn=arn:aws:iam::1:role/x", "did you mean ?role_arn="),
    ],
)
def test_bad_tls_and_query_settings_are_one_line_errors(uri, needle):
    with pytest.raises((UsageError, ConfigError)) as info:
        parse_source_uri(uri)
    assert needle in info.value.one_line() and "\n" not in info.value.one_line()


def test_password_from_env_file_or_placeholder(monkeypatch, tmp_path):
    monkeypatch.setenv("MQM_TEST_PW", PASSWORD)
    secret_file = tmp_path / "pw"
    secret_file.write_text(PASSWORD + "\n")
    for uri in (
        "amqps://svc@h/?password_env=MQM_TEST_PW",
        f"amqps://svc@h/?password_file={secret_file}",
        "amqps://svc:${env:MQM_TEST_PW}@h/",
        f"amqps://svc:${{file:{secret_file}}}@h/vhost",
    ):
        parsed = parse_source_uri(uri)
        assert parsed.password.reveal() == PASSWORD, uri
        assert PASSWORD not in parsed.masked and PASSWORD not in repr(parsed)
    assert parse_source_uri(f"amqps://svc:${{file:{secret_file}}}@h/vhost").vhost == "vhost"
    assert expand("a=${env:MQM_TEST_PW};b", key="k", origin="o") == f"a={PASSWORD};b"


def test_missing_secret_reference_names_it_not_a_value(monkeypatch):
    monkeypatch.delenv("MQM_TEST_UNSET", raising=False)
    with pytest.raises(ConfigError, match="MQM_TEST_UNSET is not set"):
        parse_source_uri("amqps://svc:${env:MQM_TEST_UNSET}@h/")
    with pytest.raises(ConfigError, match="cannot read"):
        parse_source_uri("amqps://svc@h/?password_file=/no/such/secret")
    with pytest.raises(ConfigError, match="unknown reference"):
        parse_source_uri("amqps://svc:${vault:kv/pw}@h/")
    with pytest.raises(UsageError, match="password twice"):
        parse_source_uri("amqps://svc:pw@h/?password_env=X")


def test_one_scheme_table_serves_bridge_and_assess():
    from mqmigrate.inventory.readers import LIVE_SCHEMES

    for scheme, info in SCHEMES.items():
        uri = f"{scheme}://h:1" if scheme != "sqs" else "sqs://eu-west-1"
        assert parse_source_uri(uri).kind == info.kind
        if info.adapter:
            assert kind_for_uri(uri) == info.adapter
        assert (scheme in LIVE_SCHEMES) == bool(info.reader)
    with pytest.raises(UsageError) as info:
        parse_source_uri("amqsp://h")
    assert "did you mean amqp://" in info.value.one_line()


def test_management_defaults_to_https_for_tls_sources(pki):
    tls = parse_source_uri(f"amqps://svc:{PASSWORD}@rabbit.internal/?cafile={pki.ca}")
    management = management_endpoint(tls)
    assert (management.scheme, management.port) == ("rabbitmq+https", 15671)
    assert management.tls_options.cafile == str(pki.ca)
    assert management.password.reveal() == PASSWORD and PASSWORD not in management.masked
    plain = management_endpoint(parse_source_uri("amqp://u:p@rabbit/"))
    assert (plain.scheme, plain.port) == ("rabbitmq+http", 15672)
    artemis = management_endpoint(parse_source_uri(f"amqp1s://u:p@mq/?cafile={pki.ca}"))
    assert (artemis.scheme, artemis.port) == ("artemis+https", 8161)
    given = management_endpoint(tls, "https://mgmt.internal:8443")
    assert given.http_base == "https://mgmt.internal:8443" and given.tls_options.cafile


def test_tls_source_password_never_goes_over_plain_http():
    tls = parse_source_uri(f"amqps://svc:{PASSWORD}@rabbit.internal/")
    with pytest.raises(UsageError) as info:
        management_endpoint(tls, "http://rabbit.internal:15672")
    assert "plain HTTP" in info.value.one_line() and PASSWORD not in info.value.one_line()
    # a tunnel on this machine, or a management user of its own with no password: allowed
    assert management_endpoint(tls, "http://127.0.0.1:15672").http_base == "http://127.0.0.1:15672"


def test_pika_parameters_carry_tls_and_external_auth(pki):
    import pika

    from mqmigrate.sources.connect import pika_parameters

    parsed = parse_source_uri(
        f"amqps://broker.internal/%2f?cafile={pki.ca}&certfile="
        f"{pki.client_cert}&keyfile={pki.client_key}&heartbeat=7"
        "&server_name=rabbit.internal"
    )
    params = pika_parameters(parsed, timeout=3)
    assert isinstance(params.credentials, pika.credentials.ExternalCredentials)
    assert params.ssl_options.server_hostname == "rabbit.internal"
    context = params.ssl_options.context
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert params.heartbeat == 7 and params.port == 5671 and params.virtual_host == "/"
    plain = pika_parameters(parse_source_uri(f"amqps://svc:{PASSWORD}@b/?cafile={pki.ca}"))
    assert plain.credentials.password == PASSWORD
    for shown in (repr(plain), str(plain), repr(plain.credentials), repr(plain.ssl_options)):
        assert PASSWORD not in shown


def test_verify_false_warns_loudly(pki, caplog):
    from mqmigrate.sources.connect import ssl_context

    with caplog.at_level(logging.WARNING, logger="mqmigrate.sources"):
        context = ssl_context(parse_source_uri("amqps://h/?verify=false"))
    assert context.verify_mode == ssl.CERT_NONE
    assert "CERTIFICATE CHECK DISABLED" in caplog.text


def test_bad_client_certificate_is_a_one_line_error(pki, tmp_path):
    from mqmigrate.sources.connect import ssl_context

    not_pem = tmp_path / "garbage.pem"
    not_pem.write_text("not a certificate")
    with pytest.raises(UsageError, match="cannot load the client certificate"):
        ssl_context(parse_source_uri(f"amqps://h/?certfile={not_pem}&keyfile={not_pem}"))
    with pytest.raises(UsageError, match="is not a PEM CA bundle"):
        ssl_context(parse_source_uri(f"amqps://h/?cafile={not_pem}"))


def test_proton_settings(pki, monkeypatch):
    from mqmigrate.sources.connect import proton_sasl, proton_ssl_domain

    monkeypatch.setenv("MQM_SAS_KEY", PASSWORD)
    sas = parse_source_uri(
        "amqp1s://RootManageSharedAccessKey:${env:MQM_SAS_KEY}"
        "@ns.servicebus.windows.net?sasl_mechanisms=PLAIN"
    )
    kwargs = proton_sasl(sas)
    assert kwargs["allowed_mechs"] == "PLAIN" and kwargs["password"] == PASSWORD
    assert proton_ssl_domain(sas) is not None and PASSWORD not in sas.masked
    monkeypatch.setenv("MQM_SAS_KEY", "k3y+/with=")  # base64 characters, not URL-decoded
    assert (
        parse_source_uri(
            "amqp1s://Root:${env:MQM_SAS_KEY}@ns.servicebus.windows.net"
        ).password.reveal()
        == "k3y+/with="
    )
    x509 = parse_source_uri(
        f"amqp1s://mq?cafile={pki.ca}&certfile={pki.client_cert}&keyfile={pki.client_key}"
    )
    assert proton_sasl(x509) == {"allowed_mechs": "EXTERNAL"}
    assert proton_ssl_domain(x509) is not None
    assert proton_ssl_domain(parse_source_uri("amqp1://mq")) is None


def test_sqs_role_profile_and_ca(pki, monkeypatch):
    parsed = parse_source_uri(
        f"sqs+https://sqs.internal:4566?region=eu-west-1&cafile={pki.ca}"
        "&role_arn=arn:aws:iam::123456789012:role/migrate"
        "&external_id=Xt3rnal-Id&session_name=mqm"
    )
    assert parsed.query["role_arn"].endswith("role/migrate")
    assert "Xt3rnal-Id" not in parsed.masked and "Xt3rnal-Id" not in repr(parsed)
    with_key = parse_source_uri(
        f"amqps://h/?certfile={pki.client_cert}&keyfile={pki.client_key}&key_password={PASSWORD}"
    )
    assert with_key.tls_options.key_password.reveal() == PASSWORD
    assert PASSWORD not in repr(with_key) and PASSWORD not in with_key.masked
    assert parse_source_uri("sqs://eu-west-1?profile=prod").query["profile"] == "prod"


def test_secrets_do_not_leak_from_error_messages():
    for uri in (
        f"amqps://svc:{PASSWORD}@h:99999/",
        f"amqps://svc:{PASSWORD}@h/?bogus=1",
        f"nope://svc:{PASSWORD}@h/",
        f"amqp://svc:{PASSWORD}@h/?cafile=/x",
    ):
        with pytest.raises((UsageError, ConfigError)) as info:
            parse_source_uri(uri)
        assert PASSWORD not in info.value.one_line(), uri


def test_playbooks_and_ledgers_see_no_secret(pki, monkeypatch):
    """``plan`` writes endpoints through public_endpoint; ``cutover`` keeps a SourceAccess
    (whose repr is what a ledger or log line could show)."""
    from mqmigrate.cutover.source import access_for_uri
    from mqmigrate.redact import public_endpoint

    uri = (
        f"amqps://svc:{PASSWORD}@rabbit.internal:5671/prod?cafile={pki.ca}&key_password={PASSWORD}"
    )
    assert public_endpoint(uri) == "amqps://rabbit.internal:5671/prod"
    assert PASSWORD not in mask_uri(uri)
    access = access_for_uri(
        uri, "orders", f"rabbitmq+https://monitor:{PASSWORD}@rabbit.internal:15671"
    )
    assert PASSWORD not in repr(access) and PASSWORD not in str(access.management_url)
    assert access.management_url == "https://rabbit.internal:15671"
    assert access.management().password.reveal() == PASSWORD
    derived = access_for_uri(uri, "orders")
    assert derived.management_url == "https://rabbit.internal:15671"
    assert PASSWORD not in derived.management().masked


def test_json_report_of_a_failed_probe_hides_the_secret(monkeypatch):
    """``doctor --source`` JSON for an unreachable TLS source: masked endpoint, no secret."""
    import json

    from mqmigrate.sources.probe import probe_source

    monkeypatch.setenv("MQM_TEST_PW", PASSWORD)
    probe = probe_source("amqps://svc:${env:MQM_TEST_PW}@127.0.0.1:9/", timeout=2)
    text = json.dumps(probe.__dict__)
    assert not probe.ok and PASSWORD not in text and "svc:***@" in text


def test_sqs_profile_is_used_and_an_unknown_one_is_one_line(tmp_path, monkeypatch):
    from mqmigrate.errors import AuthenticationFailed
    from mqmigrate.sources.connect import sqs_client

    credentials = tmp_path / "credentials"
    credentials.write_text(
        f"[migrate]\naws_access_key_id = AKIAPROFILEKEY\naws_secret_access_key = {PASSWORD}\n"
    )
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    client = sqs_client(parse_source_uri("sqs://eu-west-1?profile=migrate"))
    frozen = client._request_signer._credentials.get_frozen_credentials()
    assert frozen.access_key == "AKIAPROFILEKEY" and client.meta.region_name == "eu-west-1"
    with pytest.raises(AuthenticationFailed) as info:
        sqs_client(parse_source_uri("sqs://eu-west-1?profile=nope"))
    assert "'nope' not found" in info.value.one_line()
