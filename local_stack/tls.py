"""TLS material of the local stack's secured endpoints: a self-signed certificate for
127.0.0.1 and localhost, made once per service with the JDK's keytool.

Each service gets a PKCS12 key store (what Kafka's and Cassandra's servers read), the
certificate as PEM (what clients trust: kafka-python, the Java clients with
``ssl.truststore.type=PEM``, cassandra-driver through Python's ``ssl``) and random passwords,
kept in ``tls.json`` (mode 600) in the service's config directory.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
from pathlib import Path

from local_stack import addresses, java
from local_stack.process import StackError


def self_signed(conf_dir: Path, alias: str, *passwords: str) -> dict[str, str]:
    """``keystore``, ``certificate`` (PEM) and ``keystore_password`` for ``alias``, plus a
    random value for each name in ``passwords`` (client passwords of the service), made on
    the first call and read back on later ones."""
    conf_dir.mkdir(parents=True, exist_ok=True)
    made = conf_dir / "tls.json"
    if made.exists():
        out = json.loads(made.read_text())
        if all(name in out for name in passwords):
            return out
    keystore, cert = conf_dir / f"{alias}.p12", conf_dir / "ca.pem"
    out = {"keystore": str(keystore), "certificate": str(cert),
           "keystore_password": secrets.token_hex(16)}
    out.update({name: secrets.token_hex(16) for name in passwords})
    keytool = str(java.java_home() / "bin" / "keytool")
    env = dict(os.environ, JAVA_HOME=str(java.java_home()))
    keystore.unlink(missing_ok=True)
    for args in (["-genkeypair", "-alias", alias, "-keyalg", "RSA", "-keysize", "2048",
                  "-validity", "3650", "-dname", "CN=localhost",
                  "-ext", f"SAN=ip:{addresses.HOST},dns:localhost"],
                 ["-exportcert", "-rfc", "-alias", alias, "-file", str(cert)]):
        res = subprocess.run([keytool, *args, "-keystore", str(keystore), "-storetype",
                              "PKCS12", "-storepass", out["keystore_password"], "-noprompt"],
                             capture_output=True, text=True, env=env)
        if res.returncode != 0:
            raise StackError(f"keytool {args[0]} failed:\n{res.stdout}{res.stderr}")
    made.write_text(json.dumps(out))
    made.chmod(0o600)
    return out
