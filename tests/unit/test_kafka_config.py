"""The Kafka connection configuration: file format, expansion, precedence, Java translation,
masking and the token callbacks (pure logic; the secured-broker proof is in
tests/integration/test_kafka_config_guard.py)."""

from __future__ import annotations

import sys
import types
from pathlib import Path

import pytest

from mqmigrate.errors import ConfigError
from mqmigrate.kafka.config import (
    ENV_VAR,
    KafkaConfig,
    as_kafka_config,
    load_kafka_config,
    parse_jaas,
    parse_properties,
    read_config_file,
)

CONFLUENT_CLOUD = """\
# Required connection configs for Kafka producer, consumer, and admin
bootstrap.servers=pkc-abc12.eu-west-1.aws.confluent.cloud:9092
security.protocol=SASL_SSL
sasl.mechanisms=PLAIN
sasl.username=ABCDEFGH
sasl.password=s3cr3t/with=equals

# Best practice for higher availability in librdkafka clients prior to 1.7
session.timeout.ms=45000
"""

CONFLUENT_CLOUD_JAVA = """\
bootstrap.servers=pkc-abc12.eu-west-1.aws.confluent.cloud:9092
security.protocol=SASL_SSL
sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username='KEY' password='SEC;RET';
sasl.mechanism=PLAIN
client.dns.lookup=use_all_dns_ips
key.serializer=org.apache.kafka.common.serialization.StringSerializer
value.serializer=org.apache.kafka.common.serialization.StringSerializer
schema.registry.url=https://psrc-xyz.eu-west-1.aws.confluent.cloud
basic.auth.user.info={{ SR_API_KEY }}:{{ SR_API_SECRET }}
acks=all
"""


def write(tmp_path: Path, text: str, name: str = "client.properties") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# ------------------------------------------------------------------ format


def test_confluent_cloud_librdkafka_file(tmp_path):
    config = read_config_file(write(tmp_path, CONFLUENT_CLOUD))
    assert config.bootstrap == "pkc-abc12.eu-west-1.aws.confluent.cloud:9092"
    assert config.properties["sasl.password"] == "s3cr3t/with=equals"
    assert config.properties["session.timeout.ms"] == "45000"
    assert config.security_protocol == "SASL_SSL" and config.sasl_mechanism == "PLAIN"
    assert config.path == (tmp_path / "client.properties").resolve()


def test_properties_syntax_variants():
    text = (
        "! bang comment\n  # indented comment\n\n"
        "a=1\nb: 2\nc 3\nd = spaced value  \n"
        "e=first \\\n    second\n"
        "f=C:\\certs\\ca.pem\n"
        "g=tab\\there\n"
        "h\\=k=v\n"
        "i=\\u00e9\n"
        "j=\n"
    )
    props = parse_properties(text)
    assert props == {
        "a": "1",
        "b": "2",
        "c": "3",
        "d": "spaced value",
        "e": "first second",
        "f": "C:\\certs\\ca.pem",
        "g": "tab\there",
        "h=k": "v",
        "i": "é",
        "j": "",
    }


def test_key_without_value_is_an_error_naming_the_line_only():
    with pytest.raises(ConfigError) as err:
        parse_properties("a=1\nsupersecretvalue\n", origin="f.properties")
    assert "f.properties:2" in err.value.one_line()


def test_non_utf8_and_missing_file(tmp_path):
    bad = tmp_path / "bad.properties"
    bad.write_bytes(b"sasl.password=\xff\xfe\n")
    with pytest.raises(ConfigError, match="not UTF-8"):
        read_config_file(bad)
    with pytest.raises(ConfigError, match="does not exist"):
        read_config_file(tmp_path / "nope.properties")


# ------------------------------------------------------------------ ${env:} / ${file:}


def test_env_and_file_references(tmp_path):
    (tmp_path / "secret.txt").write_text("from-file\n")
    (tmp_path / "creds.properties").write_text("password=from-provider\n")
    path = write(
        tmp_path,
        "bootstrap.servers=${env:KBOOT}\n"
        "sasl.username=u-${env:KUSER}\n"
        "sasl.password=${file:secret.txt}\n"
        "ssl.key.password=${file:creds.properties:password}\n",
    )
    config = read_config_file(path, environ={"KBOOT": "b1:9093,b2:9093", "KUSER": "alice"})
    assert config.bootstrap == "b1:9093,b2:9093"
    assert config.properties["sasl.username"] == "u-alice"
    assert config.properties["sasl.password"] == "from-file"
    assert config.properties["ssl.key.password"] == "from-provider"


def test_missing_env_var_names_key_and_variable_not_value(tmp_path):
    path = write(tmp_path, "sasl.password=${env:KAFKA_PW}\n")
    with pytest.raises(ConfigError) as err:
        read_config_file(path, environ={})
    line = err.value.one_line()
    assert "sasl.password" in line and "KAFKA_PW" in line


def test_missing_file_reference_and_unknown_provider(tmp_path):
    with pytest.raises(ConfigError, match="sasl.password.*cannot read"):
        read_config_file(write(tmp_path, "sasl.password=${file:/nonexistent/pw}\n"))
    with pytest.raises(ConfigError, match="unknown reference"):
        read_config_file(write(tmp_path, "sasl.password=${vault:kv/pw}\n"))


# ------------------------------------------------------------------ precedence


def test_precedence_flag_over_file_over_playbook(tmp_path):
    path = write(tmp_path, "bootstrap.servers=file:9092\nsecurity.protocol=SASL_SSL\n")
    playbook = {"bootstrap": "playbook:9092"}
    assert (
        load_kafka_config("flag:9092", path, playbook_section=playbook, environ={}).bootstrap
        == "flag:9092"
    )
    assert (
        load_kafka_config(None, path, playbook_section=playbook, environ={}).bootstrap
        == "file:9092"
    )
    no_bootstrap = write(tmp_path, "security.protocol=SSL\n", "nb.properties")
    config = load_kafka_config(None, no_bootstrap, playbook_section=playbook, environ={})
    assert config.bootstrap == "playbook:9092" and config.security_protocol == "SSL"
    assert (
        load_kafka_config(None, None, playbook_section=playbook, environ={}).bootstrap
        == "playbook:9092"
    )


def test_env_var_names_the_file_and_flag_wins_over_it(tmp_path):
    from_env = write(tmp_path, "bootstrap.servers=env:9092\n", "env.properties")
    from_flag = write(tmp_path, "bootstrap.servers=flag:9092\n", "flag.properties")
    environ = {ENV_VAR: str(from_env)}
    assert load_kafka_config(None, environ=environ).bootstrap == "env:9092"
    assert load_kafka_config(None, from_flag, environ=environ).bootstrap == "flag:9092"


def test_playbook_credentials_reference(tmp_path):
    write(
        tmp_path,
        "security.protocol=SASL_SSL\nsasl.mechanism=SCRAM-SHA-512\n"
        "sasl.username=u\nsasl.password=p\n",
        "kafka.properties",
    )
    by_file = {"bootstrap": "pb:9093", "credentials": {"file": "kafka.properties"}}
    config = load_kafka_config(None, playbook_section=by_file, base_dir=tmp_path, environ={})
    assert config.sasl_mechanism == "SCRAM-SHA-512" and config.bootstrap == "pb:9093"
    by_env = {"bootstrap": "pb:9093", "credentials": {"env": "KAFKA_PROPS"}}
    config = load_kafka_config(
        None, playbook_section=by_env, environ={"KAFKA_PROPS": str(tmp_path / "kafka.properties")}
    )
    assert config.properties["sasl.username"] == "u"
    with pytest.raises(ConfigError, match="KAFKA_PROPS is not set"):
        load_kafka_config(None, playbook_section=by_env, environ={})


def test_no_bootstrap_anywhere_is_a_config_error():
    with pytest.raises(ConfigError, match="no Kafka bootstrap servers"):
        load_kafka_config(None, environ={})
    assert load_kafka_config(None, environ={}, required=False).properties == {}


def test_playbook_model_section(tmp_path):
    from mqmigrate.playbooks.model import KafkaCluster

    write(tmp_path, "security.protocol=SSL\n", "k.properties")
    section = KafkaCluster.model_validate(
        {"bootstrap": "m:9093", "credentials": {"file": "k.properties"}}
    )
    config = load_kafka_config(None, playbook_section=section, base_dir=tmp_path, environ={})
    assert config.bootstrap == "m:9093" and config.security_protocol == "SSL"


def test_playbook_rejects_literal_secrets():
    from pydantic import ValidationError

    from mqmigrate.playbooks.model import KafkaCluster

    for credentials in (
        {"password": "hunter2"},
        {"env": "not a name=hunter2"},
        {"env": "A", "file": "b"},
        {"profile": "default"},
    ):
        with pytest.raises(ValidationError):
            KafkaCluster.model_validate({"bootstrap": "b:9092", "credentials": credentials})


# ------------------------------------------------------------------ client dicts and masking


def test_client_returns_fresh_dict_with_overrides():
    config = KafkaConfig({"bootstrap.servers": "b:9092", "security.protocol": "SSL", "acks": "1"})
    first = config.client(**{"acks": "all"})
    assert first == {"bootstrap.servers": "b:9092", "security.protocol": "SSL", "acks": "all"}
    first["bootstrap.servers"] = "changed"
    assert config.client({"group.id": "g"})["bootstrap.servers"] == "b:9092"
    assert config.client({"group.id": "g"}, **{"group.id": "h"})["group.id"] == "h"
    with pytest.raises(TypeError):
        config.properties["x"] = "y"  # immutable


def test_repr_and_str_mask_every_secret():
    secrets = {
        "sasl.password": "P1",
        "ssl.key.password": "P2",
        "ssl.keystore.password": "P3",
        "sasl.oauthbearer.client.secret": "P4",
        "custom.api.secret": "P5",
        "my.password.thing": "P6",
        "sasl.jaas.config": "P7",
    }
    config = KafkaConfig(
        {
            "bootstrap.servers": "b:9093",
            "security.protocol": "SASL_SSL",
            "sasl.mechanism": "SCRAM-SHA-512",
            "sasl.username": "alice",
            **secrets,
        }
    )
    shown = repr(config) + str(config) + f"{config}" + str(config.masked())
    for value in secrets.values():
        assert value not in shown
    assert "alice" in repr(config) and "***" in repr(config)
    assert str(config) == "b:9093 (SASL_SSL, SCRAM-SHA-512)"
    assert str(KafkaConfig.for_bootstrap("p:9092")) == "p:9092"


def test_as_kafka_config_accepts_sdk_forms(tmp_path):
    path = write(tmp_path, "bootstrap.servers=f:9092\n")
    assert as_kafka_config("h:9092").bootstrap == "h:9092"
    assert as_kafka_config(path).bootstrap == "f:9092"
    assert as_kafka_config({"bootstrap.servers": "m:9092"}).bootstrap == "m:9092"
    config = KafkaConfig.for_bootstrap("k:9092")
    assert as_kafka_config(config) is config
    with pytest.raises(ConfigError):
        as_kafka_config(42)  # type: ignore[arg-type]


# ------------------------------------------------------------------ Java client settings


def test_confluent_cloud_java_snippet_is_translated(tmp_path):
    config = read_config_file(write(tmp_path, CONFLUENT_CLOUD_JAVA))
    props = config.client()
    assert props["sasl.username"] == "KEY" and props["sasl.password"] == "SEC;RET"
    assert "sasl.jaas.config" not in props
    for dropped in (
        "key.serializer",
        "value.serializer",
        "schema.registry.url",
        "basic.auth.user.info",
    ):
        assert dropped not in props
    assert props["acks"] == "all" and props["client.dns.lookup"] == "use_all_dns_ips"


def test_scram_jaas_needs_scram_mechanism(tmp_path):
    line = (
        "sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required "
        'username="u" password="p\\"q";\n'
    )
    config = read_config_file(write(tmp_path, line + "sasl.mechanism=SCRAM-SHA-512\n"))
    assert config.properties["sasl.password"] == 'p"q'
    with pytest.raises(ConfigError, match="SCRAM-SHA-256 or SCRAM-SHA-512"):
        read_config_file(write(tmp_path, line, "other.properties"))


def test_oauthbearer_jaas_forms(tmp_path):
    oidc = read_config_file(
        write(
            tmp_path,
            (
                "sasl.mechanism=OAUTHBEARER\n"
                "sasl.oauthbearer.token.endpoint.url=https://idp/token\n"
                "sasl.login.callback.handler.class=org.apache.kafka.common.security.oauthbearer."
                "OAuthBearerLoginCallbackHandler\n"
                "sasl.jaas.config=org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule "
                "required clientId='app' clientSecret='csecret' scope='kafka';\n"
            ),
        )
    )
    assert oidc.properties["sasl.oauthbearer.method"] == "oidc"
    assert oidc.properties["sasl.oauthbearer.client.id"] == "app"
    assert oidc.properties["sasl.oauthbearer.client.secret"] == "csecret"
    assert "csecret" not in repr(oidc)
    assert "sasl.login.callback.handler.class" not in oidc.properties
    unsecured = read_config_file(
        write(
            tmp_path,
            (
                "sasl.jaas.config=org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule "
                'required unsecuredLoginStringClaim_sub="alice";\n'
            ),
            "u.properties",
        )
    )
    assert unsecured.properties["sasl.oauthbearer.config"] == "principal=alice"
    assert unsecured.sasl_mechanism == "OAUTHBEARER"


def test_jks_stores_are_refused_with_the_pem_alternative(tmp_path):
    for text in (
        "ssl.truststore.location=/etc/kafka/truststore.jks\nssl.truststore.password=changeit\n",
        "ssl.keystore.type=JKS\nssl.keystore.location=/k.jks\n",
    ):
        with pytest.raises(ConfigError) as err:
            read_config_file(write(tmp_path, text))
        line = err.value.one_line()
        assert "changeit" not in line
        assert "ssl.ca.location" in line or "PKCS12" in line
    pkcs12 = read_config_file(
        write(tmp_path, "ssl.keystore.type=PKCS12\nssl.keystore.location=/k.p12\n")
    )
    assert "ssl.keystore.type" not in pkcs12.properties


def test_unsupported_login_module_and_java_handler_class(tmp_path):
    with pytest.raises(ConfigError, match="Krb5LoginModule"):
        read_config_file(
            write(
                tmp_path,
                "sasl.jaas.config=com.sun.security.auth.module."
                "Krb5LoginModule required useKeyTab=true;\n",
            )
        )
    with pytest.raises(ConfigError) as err:
        read_config_file(write(tmp_path, "sasl.login.callback.handler.class=com.x.Handler\n"))
    assert "sasl.oauthbearer.method=oidc" in err.value.one_line()
    with pytest.raises(ConfigError, match="unknown setting mqmigrate.typo"):
        read_config_file(write(tmp_path, "mqmigrate.typo=1\n"))


def test_java_empty_endpoint_identification_means_none(tmp_path):
    config = read_config_file(write(tmp_path, "ssl.endpoint.identification.algorithm=\n"))
    assert config.properties["ssl.endpoint.identification.algorithm"] == "none"


def test_parse_jaas():
    module, options = parse_jaas("a.b.PlainLoginModule required username=bare password='x y';")
    assert module == "a.b.PlainLoginModule" and options == {"username": "bare", "password": "x y"}
    with pytest.raises(ValueError):
        parse_jaas("nonsense")


# ------------------------------------------------------------------ token callbacks


def fake_token(config_string: str) -> tuple[str, float]:
    return "token-for-" + config_string, 4102444800.0


def test_oauth_callback_reference(tmp_path):
    path = write(
        tmp_path,
        "security.protocol=SASL_SSL\nsasl.mechanism=OAUTHBEARER\n"
        f"mqmigrate.oauth.callback={__name__}:fake_token\n",
    )
    props = read_config_file(path).client()
    assert props["oauth_cb"] is fake_token
    assert not any(key.startswith("mqmigrate.") for key in props)
    with pytest.raises(ConfigError, match="cannot import"):
        read_config_file(write(tmp_path, "mqmigrate.oauth.callback=no_such_mod_xyz:f\n", "b"))
    with pytest.raises(ConfigError, match="has no"):
        read_config_file(write(tmp_path, f"mqmigrate.oauth.callback={__name__}:nope\n", "c"))


def test_sdk_oauth_cb_is_kept_and_masked():
    config = as_kafka_config({"bootstrap.servers": "b:9093", "oauth_cb": fake_token})
    assert config.client()["oauth_cb"] is fake_token
    assert "callable" in repr(config)


def test_msk_iam_without_the_extra_gives_the_install_hint(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "aws_msk_iam_sasl_signer", None)  # import fails
    with pytest.raises(ConfigError) as err:
        read_config_file(
            write(
                tmp_path,
                "bootstrap.servers=b-1.c.kafka.eu-west-1.amazonaws.com:9098\n"
                "sasl.mechanism=AWS_MSK_IAM\n",
            )
        )
    assert "pip install 'mqmigrate[msk-iam]'" in err.value.one_line()


def test_msk_iam_java_snippet_wires_the_signer(tmp_path, monkeypatch):
    calls = []

    class Provider:
        @staticmethod
        def generate_auth_token(region):
            calls.append(("default", region))
            return "tok", 1_700_000_000_000

        @staticmethod
        def generate_auth_token_from_profile(region, profile):
            calls.append(("profile", region, profile))
            return "tok", 1_700_000_000_000

    signer = types.ModuleType("aws_msk_iam_sasl_signer")
    signer.MSKAuthTokenProvider = Provider  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "aws_msk_iam_sasl_signer", signer)
    path = write(
        tmp_path,
        (
            "bootstrap.servers=b-1.demo.abc123.c2.kafka.eu-west-1.amazonaws.com:9098\n"
            "security.protocol=SASL_SSL\nsasl.mechanism=AWS_MSK_IAM\n"
            "sasl.jaas.config=software.amazon.msk.auth.iam.IAMLoginModule required "
            'awsProfileName="prod";\n'
            "sasl.client.callback.handler.class=software.amazon.msk.auth.iam.IAMClientCallbackHandler\n"
        ),
    )
    props = read_config_file(path).client()
    assert props["sasl.mechanism"] == "OAUTHBEARER" and props["security.protocol"] == "SASL_SSL"
    assert props["oauth_cb"]("") == ("tok", 1_700_000_000.0)
    assert calls == [("profile", "eu-west-1", "prod")]
    assert "sasl.client.callback.handler.class" not in props
