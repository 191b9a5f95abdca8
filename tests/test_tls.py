"""TLS and mutual TLS on both listeners of a real `routecore serve`, with certificates the test
makes with the openssl command line: a CA, a server certificate for 127.0.0.1, a client
certificate, and a client certificate from a CA the server does not trust."""

from __future__ import annotations

import json
import ssl
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import grpc
import pytest
from routecore.tls import TlsError, TlsFiles
from routecore.v1 import routing_pb2 as pb
from routecore.v1 import routing_pb2_grpc as pb_grpc
from serving import serving

AT = "2026-11-11T10:00:00+08:00"
CALL = pb.RouteRequest(called="4001234567", caller="13800138000", time=AT)
ROUTE = "/v1/route?called=4001234567&caller=13800138000&time=2026-11-11T10:00:00%2B08:00"


def _openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=60)


def _ca(d: Path, name: str) -> tuple[Path, Path]:
    key, pem = d / f"{name}.key", d / f"{name}.pem"
    _openssl(
        "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-keyout", str(key), "-out", str(pem), "-days", "2", "-subj", f"/CN={name}",
        "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
    )  # fmt: skip
    return pem, key


def _signed(d: Path, name: str, ca: tuple[Path, Path], ext: str) -> tuple[Path, Path]:
    key, csr, pem, extfile = d / f"{name}.key", d / f"{name}.csr", d / f"{name}.pem", d / f"{name}.ext"
    _openssl(
        "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-keyout", str(key), "-out", str(csr), "-subj", f"/CN={name}",
    )  # fmt: skip
    extfile.write_text(ext + "\n")
    _openssl(
        "x509", "-req", "-in", str(csr), "-CA", str(ca[0]), "-CAkey", str(ca[1]), "-CAcreateserial",
        "-out", str(pem), "-days", "2", "-extfile", str(extfile),
    )  # fmt: skip
    return pem, key


class Certs:
    def __init__(self, d: Path) -> None:
        self.ca = _ca(d, "routecore-test-ca")
        self.server = _signed(
            d, "server", self.ca, "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth"
        )
        self.client = _signed(d, "switch-1", self.ca, "extendedKeyUsage=clientAuth")
        self.stranger = _signed(d, "stranger", _ca(d, "other-ca"), "extendedKeyUsage=clientAuth")

    def channel(self, port: int, client: tuple[Path, Path] | None = None) -> grpc.Channel:
        creds = grpc.ssl_channel_credentials(
            root_certificates=self.ca[0].read_bytes(),
            private_key=client[1].read_bytes() if client else None,
            certificate_chain=client[0].read_bytes() if client else None,
        )
        return grpc.secure_channel(f"127.0.0.1:{port}", creds)

    def https(self, port: int, client: tuple[Path, Path] | None = None) -> dict[str, object]:
        ctx = ssl.create_default_context(cafile=str(self.ca[0]))
        if client is not None:
            ctx.load_cert_chain(client[0], client[1])
        with urllib.request.urlopen(f"https://127.0.0.1:{port}{ROUTE}", timeout=10, context=ctx) as resp:
            return json.loads(resp.read())  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certs:
    return Certs(tmp_path_factory.mktemp("certs"))


def _unreachable(channel: grpc.Channel) -> grpc.StatusCode:
    with pytest.raises(grpc.RpcError) as info:
        pb_grpc.RouterStub(channel).RouteCall(CALL, timeout=5)
    return info.value.code()  # type: ignore[no-any-return]


def test_grpc_and_http_over_tls(certs: Certs, tmp_path: Path) -> None:
    args = ("--tls-cert", str(certs.server[0]), "--tls-key", str(certs.server[1]))
    with serving(tmp_path / "serve.log", *args, http=True) as served:
        assert "with TLS" in served.text()
        with certs.channel(served.port) as channel:
            d = pb_grpc.RouterStub(channel).RouteCall(CALL, timeout=10)
            assert d.tenant == "hospital"
        assert certs.https(served.http_port)["tenant"] == "hospital"  # type: ignore[arg-type]
        # Plaintext is refused on both listeners.
        with grpc.insecure_channel(f"127.0.0.1:{served.port}") as channel:
            assert _unreachable(channel) == grpc.StatusCode.UNAVAILABLE
        with pytest.raises((urllib.error.URLError, ConnectionError)):
            urllib.request.urlopen(f"http://127.0.0.1:{served.http_port}{ROUTE}", timeout=5).read()
        # A client that does not trust the server's CA does not talk to it.
        untrusting = ssl.create_default_context()
        with pytest.raises(urllib.error.URLError):
            urllib.request.urlopen(
                f"https://127.0.0.1:{served.http_port}{ROUTE}", timeout=5, context=untrusting
            )
        assert served.stop() == 0


def test_mutual_tls_needs_a_client_certificate_from_the_ca(certs: Certs, tmp_path: Path) -> None:
    args = (
        "--tls-cert", str(certs.server[0]), "--tls-key", str(certs.server[1]),
        "--tls-client-ca", str(certs.ca[0]),
    )  # fmt: skip
    with serving(tmp_path / "serve.log", *args, http=True) as served:
        assert "with mutual TLS" in served.text()
        with certs.channel(served.port, certs.client) as channel:
            assert pb_grpc.RouterStub(channel).RouteCall(CALL, timeout=10).tenant == "hospital"
        assert certs.https(served.http_port, certs.client)["tenant"] == "hospital"  # type: ignore[arg-type]
        for client in (None, certs.stranger):
            with certs.channel(served.port, client) as channel:
                assert _unreachable(channel) == grpc.StatusCode.UNAVAILABLE
            with pytest.raises((urllib.error.URLError, ssl.SSLError, ConnectionError)):
                certs.https(served.http_port, client)
        # The server is unharmed by the refused handshakes.
        with certs.channel(served.port, certs.client) as channel:
            assert pb_grpc.RouterStub(channel).RouteCall(CALL, timeout=10).tenant == "hospital"
        assert served.stop() == 0


def _serve_exit(*args: str) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "routecore", "serve", "--grpc", "127.0.0.1:0", *args]
    if "--http" not in args:
        cmd += ["--http", "off"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    out.stderr = " ".join(out.stderr.split())  # the console wraps long lines
    return out


def test_bad_tls_files_stop_serve_before_it_listens(certs: Certs, tmp_path: Path) -> None:
    cert, key = str(certs.server[0]), str(certs.server[1])
    out = _serve_exit("--tls-cert", cert)
    assert out.returncode == 2 and "--tls-cert and --tls-key go together" in out.stderr
    out = _serve_exit("--tls-cert", cert, "--tls-key", str(tmp_path / "missing.key"))
    assert out.returncode == 2 and "missing.key" in out.stderr
    # A key that is not the certificate's.
    out = _serve_exit("--tls-cert", cert, "--tls-key", str(certs.client[1]))
    assert out.returncode == 2 and "--tls-key" in out.stderr, out.stderr
    not_pem = tmp_path / "ca.txt"
    not_pem.write_text("hello")
    out = _serve_exit("--tls-cert", cert, "--tls-key", key, "--tls-client-ca", str(not_pem))
    assert out.returncode == 2 and "not a PEM file" in out.stderr


def test_tls_files_load(certs: Certs) -> None:
    files = TlsFiles.load(*certs.server)
    assert not files.mutual and files.ssl_context().verify_mode == ssl.CERT_NONE
    files = TlsFiles.load(*certs.server, client_ca=certs.ca[0])
    assert files.mutual and files.ssl_context().verify_mode == ssl.CERT_REQUIRED
    with pytest.raises(TlsError, match="--tls-key"):
        TlsFiles.load(certs.server[0], certs.stranger[1])
