"""Kafka client settings every Kafka client of the product takes: security (TLS, SASL).

They come from one Java client properties file, the format Kafka's own tools read
(``--command-config``) and platform teams already keep, e.g.::

    security.protocol=SASL_SSL
    sasl.mechanism=SCRAM-SHA-512
    sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required \\
        username="live-counters" password="...";
    ssl.truststore.type=PEM
    ssl.truststore.location=/etc/kafka/ca.pem

The Flink job's Kafka source and dead-letter sink take these properties as they are (Java
clients); the Python clients (kafka-python: the job's start checks, provisioning, the
producer library, the tools) take them translated by ``kafka_python``, which reads
certificates as PEM files only. Pure: no network.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import javaproperties

# the properties that concern security; anything else in the file is a Java client property
# the Flink job passes on as it is (client.id, request.timeout.ms, ...)
SECURITY = ("security.protocol", "sasl.", "ssl.")
SECRET = re.compile(r"password|jaas", re.IGNORECASE)
SHADED = "org.apache.flink.kafka.shaded."  # flink-sql-connector-kafka's relocation prefix
_JAAS_VALUE = r'{}\s*=\s*"((?:[^"\\]|\\.)*)"'


class KafkaConfigError(ValueError):
    """The properties cannot be used (the message says which and why)."""


def read_properties(path: str | Path) -> dict[str, str]:
    try:
        with open(path, encoding="utf-8") as f:
            return dict(javaproperties.load(f))
    except OSError as exc:
        raise KafkaConfigError(f"cannot read Kafka client properties {path}: {exc}") from None


def _jaas(jaas: str, key: str) -> str | None:
    m = re.search(_JAAS_VALUE.format(re.escape(key)), jaas)
    return re.sub(r"\\(.)", r"\1", m.group(1)) if m else None


@dataclass(frozen=True)
class KafkaConfig:
    """Java client properties (empty: plaintext, no authentication)."""

    properties: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_file(cls, path: str | Path | None) -> KafkaConfig:
        return cls(read_properties(path)) if path else cls()

    def flink(self) -> dict[str, str]:
        """For Flink's SQL Kafka connector, whose Kafka client is shaded: class names in the
        values (the JAAS login module, callback handlers) moved to its package, else the
        client finds no LoginModule."""
        return {k: re.sub(r"(?<![\w.])org\.apache\.kafka\.", SHADED + "org.apache.kafka.", v)
                for k, v in self.properties.items()}

    def redacted(self) -> dict[str, str]:
        """For logs: secrets replaced by ``[hidden]``, as Kafka's own clients log them."""
        return {k: "[hidden]" if SECRET.search(k) else v for k, v in self.properties.items()}

    def kafka_python(self) -> dict[str, Any]:
        """The same settings as kafka-python's keyword arguments."""
        p = self.properties
        out: dict[str, Any] = {}
        protocol = p.get("security.protocol", "PLAINTEXT").upper()
        if protocol != "PLAINTEXT":
            out["security_protocol"] = protocol
        if protocol.startswith("SASL"):
            mechanism = p.get("sasl.mechanism", "GSSAPI").upper()
            if mechanism not in ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"):
                raise KafkaConfigError(
                    f"sasl.mechanism {mechanism}: the Python clients here take PLAIN, "
                    "SCRAM-SHA-256 or SCRAM-SHA-512")
            jaas = p.get("sasl.jaas.config", "")
            user, password = _jaas(jaas, "username"), _jaas(jaas, "password")
            if user is None or password is None:
                raise KafkaConfigError(
                    "sasl.jaas.config needs username=\"...\" and password=\"...\" "
                    f"({mechanism})")
            out.update(sasl_mechanism=mechanism, sasl_plain_username=user,
                       sasl_plain_password=password)
        if protocol.endswith("SSL"):
            trust = p.get("ssl.truststore.location")
            if trust:
                if p.get("ssl.truststore.type", "JKS").upper() != "PEM":
                    raise KafkaConfigError(
                        "ssl.truststore.location must be a PEM file with "
                        "ssl.truststore.type=PEM (the Java clients read PEM too, since "
                        "Kafka 2.7): the Python clients cannot read JKS or PKCS12")
                out["ssl_cafile"] = trust
            key = p.get("ssl.keystore.location")
            if key:
                if p.get("ssl.keystore.type", "JKS").upper() != "PEM":
                    raise KafkaConfigError(
                        "ssl.keystore.location must be a PEM file (private key and "
                        "certificate chain) with ssl.keystore.type=PEM")
                out["ssl_certfile"] = key
                if p.get("ssl.key.password"):
                    out["ssl_password"] = p["ssl.key.password"]
            if p.get("ssl.endpoint.identification.algorithm", "https") == "":
                out["ssl_check_hostname"] = False
        unknown = sorted(k for k in p if k.startswith(SECURITY) and k not in (
            "security.protocol", "sasl.mechanism", "sasl.jaas.config",
            "ssl.truststore.location", "ssl.truststore.type", "ssl.keystore.location",
            "ssl.keystore.type", "ssl.key.password", "ssl.endpoint.identification.algorithm"))
        if unknown:
            raise KafkaConfigError(
                f"the Python clients cannot apply {', '.join(unknown)} (they take "
                "security.protocol, sasl.mechanism, sasl.jaas.config and PEM trust and key "
                "stores)")
        return out
