"""A private certificate authority for the local stack's TLS listeners, made with `openssl`.

`ensure_tls(directory)` writes, once, a CA and two certificates it signed: the
server's (for 127.0.0.1 and localhost, used by Kafka and PostgreSQL alike) and a
client's (for brokers that ask for client certificates). Keys are unencrypted PKCS#8
PEM files readable by their owner only; nothing here is meant to leave the machine or
be committed. `make_ca` alone gives tests an unrelated CA that a client must refuse.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from candleflow.stack.exceptions import MissingTool, StackError

CA_DAYS = 3650
CERT_DAYS = 825
#: Names a client may dial the stack's servers by; verify-full and Kafka's hostname check
#: compare them with the certificate.
SERVER_NAMES = "DNS:localhost,IP:127.0.0.1"
CLIENT_NAME = "candleflow"


@dataclass(frozen=True)
class TlsFiles:
    """Paths of the stack's certificates and keys (PEM)."""

    directory: Path

    @property
    def ca(self) -> Path:
        return self.directory / "ca.pem"

    @property
    def ca_key(self) -> Path:
        return self.directory / "ca.key"

    @property
    def server_cert(self) -> Path:
        return self.directory / "server.pem"

    @property
    def server_key(self) -> Path:
        return self.directory / "server.key"

    @property
    def client_cert(self) -> Path:
        return self.directory / "client.pem"

    @property
    def client_key(self) -> Path:
        return self.directory / "client.key"

    def complete(self) -> bool:
        paths = (self.ca, self.ca_key, self.server_cert, self.server_key, self.client_cert, self.client_key)
        return all(path.is_file() for path in paths)


def _openssl() -> str:
    found = shutil.which("openssl")
    if not found:
        raise MissingTool("openssl not found on PATH: install it (apt-get install openssl) for the TLS listeners")
    return found


def _run(argv: list[str], cwd: Path) -> None:
    result = subprocess.run(
        [_openssl(), *argv], cwd=cwd, capture_output=True, text=True, stdin=subprocess.DEVNULL, check=False
    )
    if result.returncode != 0:
        raise StackError(f"openssl {argv[0]} failed in {cwd}: {result.stderr.strip()}")


def _new_key(path: Path) -> None:
    _run(["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", str(path)], path.parent)
    path.chmod(0o600)


def make_ca(directory: Path, name: str = "candleflow local CA") -> TlsFiles:
    """A self-signed CA (`ca.pem`, `ca.key`) in `directory`."""
    files = TlsFiles(directory)
    directory.mkdir(parents=True, exist_ok=True)
    _new_key(files.ca_key)
    _run(
        ["req", "-x509", "-new", "-key", str(files.ca_key), "-out", str(files.ca), "-days", str(CA_DAYS),
         "-subj", f"/CN={name}", "-addext", "basicConstraints=critical,CA:TRUE",
         "-addext", "keyUsage=critical,keyCertSign,cRLSign"],
        directory,
    )  # fmt: skip
    return files


def _sign(files: TlsFiles, cert: Path, key: Path, subject: str, extensions: str) -> None:
    """A key and a certificate for `subject`, signed by the CA of `files`."""
    _new_key(key)
    csr = cert.with_suffix(".csr")
    ext = cert.with_suffix(".ext")
    ext.write_text(extensions)
    try:
        _run(["req", "-new", "-key", str(key), "-out", str(csr), "-subj", f"/CN={subject}"], files.directory)
        _run(
            ["x509", "-req", "-in", str(csr), "-CA", str(files.ca), "-CAkey", str(files.ca_key),
             "-CAcreateserial", "-days", str(CERT_DAYS), "-sha256", "-extfile", str(ext), "-out", str(cert)],
            files.directory,
        )  # fmt: skip
    finally:
        csr.unlink(missing_ok=True)
        ext.unlink(missing_ok=True)


def ensure_tls(directory: Path) -> TlsFiles:
    """The stack's CA, server and client certificates in `directory`, made on first use."""
    files = TlsFiles(directory)
    if files.complete():
        return files
    make_ca(directory)
    _sign(
        files,
        files.server_cert,
        files.server_key,
        "localhost",
        f"basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n"
        f"extendedKeyUsage=serverAuth\nsubjectAltName={SERVER_NAMES}\n",
    )
    _sign(
        files,
        files.client_cert,
        files.client_key,
        CLIENT_NAME,
        "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n",
    )
    (directory / "ca.srl").unlink(missing_ok=True)
    return files
