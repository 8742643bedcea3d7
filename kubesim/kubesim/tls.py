"""A self-signed serving certificate for 127.0.0.1/localhost.

kubectl (client-go) refuses to send a bearer token over plain HTTP, so a
kubesim with a token serves HTTPS. One key pair is generated per process
(EC P-256, ~10 ms) and shared by every simulator started in it.
"""

from __future__ import annotations

import datetime
import functools
import ipaddress
import ssl
import tempfile
from pathlib import Path


@functools.lru_cache(maxsize=1)
def certificate() -> tuple[bytes, Path, Path]:
    """(certificate PEM, cert file, key file) for the process."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kubesim")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=365))
        .add_extension(x509.SubjectAlternativeName([
            x509.DNSName("localhost"), x509.DNSName("kubesim"),
            x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    key_pem = key.private_bytes(serialization.Encoding.PEM,
                                serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    d = Path(tempfile.mkdtemp(prefix="kubesim-tls-"))
    (d / "tls.crt").write_bytes(cert_pem)
    (d / "tls.key").write_bytes(key_pem)
    (d / "tls.key").chmod(0o600)
    return cert_pem, d / "tls.crt", d / "tls.key"


def server_context() -> ssl.SSLContext:
    _, crt, key = certificate()
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(crt, key)
    ctx.set_alpn_protocols(["http/1.1"])
    return ctx
