"""TLS for both listeners: the gRPC server's credentials and the HTTP server's `ssl.SSLContext`,
from one set of PEM files, with mutual TLS (client certificates signed by a given CA) as an option.

    tls = TlsFiles.load(cert="server.pem", key="server.key", client_ca="clients-ca.pem")
    server.add_secure_port(address, tls.grpc_credentials())
    await start_http(..., ssl=tls.ssl_context())

The files are read once, at start, so a bad path or a key that does not match its certificate
stops `routecore serve` with a message that names the file, before anything listens.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path

import grpc

__all__ = ["TlsError", "TlsFiles"]


class TlsError(ValueError):
    """A certificate, key or CA file that cannot be used; the message names the file."""


def _read(path: Path, what: str) -> bytes:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise TlsError(f"{what} {path}: {exc.strerror or exc}") from None
    if b"-----BEGIN " not in data:
        raise TlsError(f"{what} {path}: not a PEM file")
    return data


@dataclass(frozen=True)
class TlsFiles:
    """PEM certificate chain and key of the server, and optionally the CA that client
    certificates must be signed by (then a client without one is refused: mutual TLS)."""

    cert: Path
    key: Path
    client_ca: Path | None
    cert_pem: bytes
    key_pem: bytes
    client_ca_pem: bytes | None

    @classmethod
    def load(cls, cert: str | Path, key: str | Path, client_ca: str | Path | None = None) -> TlsFiles:
        """Reads and checks the files (the key must match the certificate).

        Raises:
            TlsError: a file is missing, unreadable, not PEM, or the key does not match.
        """
        cert, key = Path(cert), Path(key)
        ca = Path(client_ca) if client_ca is not None else None
        files = cls(
            cert,
            key,
            ca,
            _read(cert, "--tls-cert"),
            _read(key, "--tls-key"),
            _read(ca, "--tls-client-ca") if ca is not None else None,
        )
        files.ssl_context()  # fails here, not at the first connection
        return files

    @property
    def mutual(self) -> bool:
        return self.client_ca_pem is not None

    def grpc_credentials(self) -> grpc.ServerCredentials:
        """Credentials for `grpc.aio.Server.add_secure_port`."""
        return grpc.ssl_server_credentials(
            [(self.key_pem, self.cert_pem)],
            root_certificates=self.client_ca_pem,
            require_client_auth=self.mutual,
        )

    def ssl_context(self) -> ssl.SSLContext:
        """A server-side context for the HTTP listener: TLS 1.2 or newer, the client's
        certificate required (and checked against the CA) when mutual."""
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        try:
            ctx.load_cert_chain(self.cert, self.key)
        except (ssl.SSLError, OSError) as exc:
            raise TlsError(f"--tls-cert {self.cert} / --tls-key {self.key}: {exc}") from None
        if self.client_ca is not None:
            try:
                ctx.load_verify_locations(cafile=str(self.client_ca))
            except (ssl.SSLError, OSError) as exc:
                raise TlsError(f"--tls-client-ca {self.client_ca}: {exc}") from None
            ctx.verify_mode = ssl.CERT_REQUIRED
        return ctx
