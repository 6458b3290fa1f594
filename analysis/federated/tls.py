"""Checking TLS certificates and SuperNode keys before Flower is started, so that a wrong file is
one clear message naming it, not a SuperLink that stops at start or a SuperNode that exits with
Flower's code 305 after a handshake it cannot explain.

* The coordinator's files (``--ssl-certfile/--ssl-keyfile/--ssl-ca-certfile``): each readable and
  PEM, the key the certificate's, and the certificate verified against the CA for the host Flower's
  own processes dial: the SuperLink's ServerApp runner (``flower-superexec``) and ``flwr run``
  connect to the coordinator's own address with the CA file, a bind-all address (0.0.0.0, ::)
  replaced by loopback (Flower 1.41, ``flwr.supercore.address.resolve_bind_address``). The check
  is a real TLS handshake between two in-memory ends (``ssl.MemoryBIO``): the same OpenSSL
  verification a client does (signature, dates, the host in subjectAltName).
* A site's ``--root-certificates``: a readable PEM certificate; then, once the coordinator
  answers, a handshake with it: a certificate the CA did not sign, one that does not name the host
  the site dials, or a coordinator without TLS, is said in one line before the SuperNode starts.
* SuperNode keys (``--auth-key``, ``--site-keys``): OpenSSH EC keys, as Flower reads them.
"""

from __future__ import annotations

import socket
import ssl
from pathlib import Path

from acquisition.errors import FileFormatError, InputError, NotFoundError, ServiceError


def read_file(path: str | Path, option: str) -> bytes:
    p = Path(path).expanduser()
    if not p.is_file():
        raise NotFoundError(f"{option} {path}: no such file")
    try:
        return p.read_bytes()
    except OSError as exc:
        raise InputError(f"{option} {path}: cannot read it ({exc.strerror or exc})") from None


def read_certificate(path: str | Path, option: str) -> object:
    """The first certificate of a PEM file (``cryptography``'s ``x509.Certificate``)."""
    from cryptography import x509

    data = read_file(path, option)
    try:
        return x509.load_pem_x509_certificates(data)[0]
    except ValueError:
        raise FileFormatError(f"{option} {path}: not a PEM certificate (-----BEGIN CERTIFICATE-----)") from None


def dialled_host(host: str) -> str:
    """The host Flower's own processes dial for a SuperLink listening on ``host``."""
    return {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(host, host)


def _names(cert: object) -> str:
    from cryptography import x509

    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return "none"
    names = [str(v) for v in san.get_values_for_type(x509.DNSName)]
    names += [str(v) for v in san.get_values_for_type(x509.IPAddress)]
    return ", ".join(names) or "none"


def _verify_message(exc: ssl.SSLError) -> str:
    msg = getattr(exc, "verify_message", None) or exc.reason or str(exc)
    return str(msg)


def memory_handshake(certfile: str, keyfile: str, cafile: str, hostname: str) -> None:
    """A TLS handshake between a server holding ``certfile``/``keyfile`` and a client trusting
    ``cafile`` that dials ``hostname``, in memory; raises ``ssl.SSLError`` as a client would."""
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(certfile, keyfile)
    client_ctx = ssl.create_default_context(cafile=cafile)
    bios = [ssl.MemoryBIO() for _ in range(4)]  # server in/out, client in/out
    server = server_ctx.wrap_bio(bios[0], bios[1], server_side=True)
    client = client_ctx.wrap_bio(bios[2], bios[3], server_hostname=hostname)
    done = {"server": False, "client": False}
    for _ in range(20):
        for side, end in (("client", client), ("server", server)):
            if not done[side]:
                try:
                    end.do_handshake()
                    done[side] = True
                except ssl.SSLWantReadError:
                    pass
        bios[0].write(bios[3].read())  # client → server
        bios[2].write(bios[1].read())  # server → client
        if all(done.values()):
            return
    raise ssl.SSLError("the TLS handshake did not complete")


def check_server_files(certs: dict, host: str, what: str) -> None:
    """``certs``: ``{"ssl-certfile", "ssl-keyfile", "ssl-ca-certfile"}`` → paths (all given)."""
    cert_path, key_path, ca_path = certs["ssl-certfile"], certs["ssl-keyfile"], certs["ssl-ca-certfile"]
    cert = read_certificate(cert_path, "--ssl-certfile")
    read_certificate(ca_path, "--ssl-ca-certfile")
    key = read_file(key_path, "--ssl-keyfile")
    if b"PRIVATE KEY-----" not in key:
        raise FileFormatError(f"--ssl-keyfile {key_path}: not a PEM private key (-----BEGIN ... PRIVATE KEY-----)")
    try:
        ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER).load_cert_chain(cert_path, key_path)
    except ssl.SSLError as exc:
        raise InputError(
            f"{what}: --ssl-keyfile {key_path} is not the private key of --ssl-certfile {cert_path} ({exc.reason or exc})"
        ) from None
    dial = dialled_host(host)
    try:
        memory_handshake(str(cert_path), str(key_path), str(ca_path), dial)
    except ssl.SSLCertVerificationError as exc:
        why = _verify_message(exc)
        if "hostname" in why.lower() or "ip address" in why.lower():
            extra = f" (Flower's own processes dial {dial} for --address {host})" if dial != host else ""
            raise InputError(
                f"{what}: --ssl-certfile {cert_path} does not name {dial}{extra}; its subjectAltName "
                f"names {_names(cert)} (see docs/federated.md, TLS)"
            ) from None
        raise InputError(
            f"{what}: --ssl-certfile {cert_path} does not verify against --ssl-ca-certfile {ca_path}: {why}"
        ) from None
    except ssl.SSLError as exc:
        raise InputError(f"{what}: --ssl-certfile {cert_path}: TLS refused it ({exc.reason or exc})") from None


def check_root_certificate(path: str, what: str) -> None:
    read_certificate(path, "--root-certificates")
    try:
        ssl.create_default_context(cafile=str(Path(path).expanduser()))
    except ssl.SSLError as exc:
        raise FileFormatError(f"{what}: --root-certificates {path}: not usable as a CA ({exc.reason or exc})") from None


def check_coordinator(host: str, port: int, root_cert: str | None, what: str, timeout: float = 10.0) -> None:
    """A TLS handshake with the coordinator as the site's SuperNode will make it (``root_cert``
    trusted, ``host`` checked); with ``root_cert`` None (``--insecure``), that it does *not* speak
    TLS. Raises one clear ``ServiceError``."""
    where = f"the coordinator at {host}:{port}"
    if root_cert is None:
        # a plain HTTP request (a TLS ClientHello would be logged as an invalid request by a plain
        # SuperLink): a plain one answers "HTTP/1.1 404", a TLS one closes without a word
        try:
            with socket.create_connection((host, port), timeout=timeout) as raw:
                raw.sendall(f"HEAD / HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
                first = raw.recv(5)
        except OSError:
            return  # the SuperNode will say what is wrong
        if first != b"HTTP/":
            raise ServiceError(
                f"{what}: {where} does not answer plain HTTP: it uses TLS; give --root-certificates CA.pem "
                "instead of --insecure"
            )
        return
    ctx = ssl.create_default_context(cafile=str(Path(root_cert).expanduser()))
    try:
        with socket.create_connection((host, port), timeout=timeout) as raw:
            with ctx.wrap_socket(raw, server_hostname=host) as s:
                s.version()
    except ssl.SSLCertVerificationError as exc:
        why = _verify_message(exc)
        if "hostname" in why.lower() or "ip address" in why.lower():
            raise ServiceError(f"{what}: {where}: its certificate does not name {host} ({why})") from None
        raise ServiceError(
            f"{what}: {where}: its certificate is not trusted with --root-certificates {root_cert} ({why}); "
            "give the CA that signed the coordinator's certificate"
        ) from None
    except ssl.SSLError as exc:
        raise ServiceError(
            f"{what}: {where} did not complete a TLS handshake ({exc.reason or exc}); "
            "is it running without TLS (--insecure)?"
        ) from None
    except OSError as exc:
        raise ServiceError(f"{what}: {where}: TLS check failed ({exc.strerror or exc})") from None


def check_private_key(path: str, what: str) -> None:
    """``--auth-key``: an OpenSSH EC private key without a passphrase (what Flower's SuperNode reads)."""
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.serialization import load_ssh_private_key

    data = read_file(path, "--auth-key")
    try:
        key = load_ssh_private_key(data, None)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise FileFormatError(
            f"{what}: --auth-key {path}: not an OpenSSH private key without a passphrase ({exc}); "
            "make one with `ssh-keygen -t ecdsa -b 384 -N \"\" -f site_key`"
        ) from None
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise FileFormatError(f"{what}: --auth-key {path}: an EC (ecdsa) key is needed, not {type(key).__name__}")


def check_public_key(path: str, what: str) -> None:
    """``--site-keys``: an OpenSSH EC public key (what ``flwr supernode register`` reads)."""
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.serialization import load_ssh_public_key

    data = read_file(path, "--site-keys")
    try:
        key = load_ssh_public_key(data)
    except (ValueError, UnsupportedAlgorithm):
        raise FileFormatError(f"{what}: --site-keys {path}: not an OpenSSH public key (ecdsa-sha2-...)") from None
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise FileFormatError(f"{what}: --site-keys {path}: an EC (ecdsa) key is needed, not {type(key).__name__}")
