"""Kafka client settings from one Java properties file: as they are for the Java clients,
translated for kafka-python, redacted for logs, refused with a reason when unusable."""

from __future__ import annotations

import pytest

from connectors.kafka_config import KafkaConfig, KafkaConfigError

SASL_SSL = """\
# as Kafka's tools read it (--command-config)
security.protocol=SASL_SSL
sasl.mechanism=SCRAM-SHA-512
sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required \\
    username="live-counters" password="s3cr\\\\"et";
ssl.truststore.type=PEM
ssl.truststore.location=/etc/kafka/ca.pem
client.id=counters
"""


def _config(tmp_path, text: str) -> KafkaConfig:
    path = tmp_path / "client.properties"
    path.write_text(text)
    return KafkaConfig.from_file(path)


def test_no_file_is_plaintext_without_authentication():
    c = KafkaConfig.from_file("")
    assert dict(c.properties) == {} and c.kafka_python() == {}


def test_the_java_clients_take_every_property_as_it_is(tmp_path):
    c = _config(tmp_path, SASL_SSL)
    java = dict(c.properties)
    assert java["security.protocol"] == "SASL_SSL"
    assert java["sasl.jaas.config"].startswith("org.apache.kafka.common.security.scram.")
    assert java["sasl.jaas.config"].endswith('password="s3cr\\"et";')  # continuation joined
    assert java["client.id"] == "counters"


def test_flinks_shaded_connector_gets_its_relocated_login_module(tmp_path):
    flink = _config(tmp_path, SASL_SSL).flink()
    assert flink["sasl.jaas.config"].startswith(
        "org.apache.flink.kafka.shaded.org.apache.kafka.common.security.scram.ScramLoginModule")
    assert flink["ssl.truststore.location"] == "/etc/kafka/ca.pem"


def test_kafka_python_gets_the_same_security(tmp_path):
    assert _config(tmp_path, SASL_SSL).kafka_python() == {
        "security_protocol": "SASL_SSL", "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "live-counters", "sasl_plain_password": 's3cr"et',
        "ssl_cafile": "/etc/kafka/ca.pem"}


def test_mutual_tls_with_a_pem_key_store_and_no_hostname_check(tmp_path):
    c = _config(tmp_path, "security.protocol=SSL\nssl.truststore.type=PEM\n"
                          "ssl.truststore.location=/ca.pem\nssl.keystore.type=PEM\n"
                          "ssl.keystore.location=/client.pem\nssl.key.password=k\n"
                          "ssl.endpoint.identification.algorithm=\n")
    assert c.kafka_python() == {"security_protocol": "SSL", "ssl_cafile": "/ca.pem",
                                "ssl_certfile": "/client.pem", "ssl_password": "k",
                                "ssl_check_hostname": False}


def test_logs_see_no_secret(tmp_path):
    shown = _config(tmp_path, SASL_SSL + "ssl.key.password=k\n").redacted()
    assert shown["sasl.jaas.config"] == "[hidden]" and shown["ssl.key.password"] == "[hidden]"
    assert shown["security.protocol"] == "SASL_SSL"
    assert "s3cr" not in repr(shown)


@pytest.mark.parametrize(("text", "says"), [
    ("security.protocol=SSL\nssl.truststore.location=/ts.jks\n", "PEM"),
    ("security.protocol=SASL_PLAINTEXT\nsasl.mechanism=GSSAPI\n", "GSSAPI"),
    ("security.protocol=SASL_PLAINTEXT\nsasl.mechanism=PLAIN\n", "username"),
    ("security.protocol=SSL\nssl.truststore.password=x\n", "ssl.truststore.password"),
])
def test_what_the_python_clients_cannot_apply_is_refused_with_the_reason(tmp_path, text, says):
    with pytest.raises(KafkaConfigError, match=says):
        _config(tmp_path, text).kafka_python()


def test_a_missing_file_is_named():
    with pytest.raises(KafkaConfigError, match="/nowhere/client.properties"):
        KafkaConfig.from_file("/nowhere/client.properties")


def test_a_retriable_kafka_error_is_asked_again_and_others_are_raised():
    from kafka.errors import CoordinatorNotAvailableError, GroupAuthorizationFailedError

    from connectors.kafka_admin import retry_retriable

    answers = [CoordinatorNotAvailableError(), CoordinatorNotAvailableError(), {"g": {}}]
    pauses: list[float] = []

    def call():
        a = answers.pop(0)
        if isinstance(a, Exception):
            raise a
        return a

    assert retry_retriable(call, pause_s=0.5, sleep=pauses.append) == {"g": {}}
    assert pauses == [0.5, 0.5]

    def refused():
        raise GroupAuthorizationFailedError()

    with pytest.raises(GroupAuthorizationFailedError):  # not retriable: at once
        retry_retriable(refused, sleep=pauses.append)
    assert pauses == [0.5, 0.5]

    def never():
        raise CoordinatorNotAvailableError()

    with pytest.raises(CoordinatorNotAvailableError):  # retriable, but only until the timeout
        retry_retriable(never, timeout_s=0.0, sleep=pauses.append)
