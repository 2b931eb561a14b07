"""Certificates for the TLS tests, made at test time by the openssl command (valid for a day,
nothing checked in that expires): a CA, a server certificate for 127.0.0.1 and localhost, client
certificates, and a second CA that nothing trusts."""

import os
import subprocess


def _openssl(*args):
    subprocess.run(["openssl", *args], check=True, capture_output=True)


def _ca(d, name):
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
             "/CN=%s" % name, "-keyout", os.path.join(d, name + ".key"),
             "-out", os.path.join(d, name + ".pem"))
    return os.path.join(d, name + ".pem")


def _cert(d, ca, name, subject, ext=None):
    key, csr, pem = (os.path.join(d, name + s) for s in (".key", ".csr", ".pem"))
    _openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", subject, "-keyout", key, "-out", csr)
    args = ["x509", "-req", "-in", csr, "-CA", os.path.join(d, ca + ".pem"), "-CAkey",
            os.path.join(d, ca + ".key"), "-CAcreateserial", "-days", "1", "-out", pem]
    if ext:
        with open(os.path.join(d, name + ".ext"), "w") as f:
            f.write(ext + "\n")
        args += ["-extfile", os.path.join(d, name + ".ext")]
    _openssl(*args)
    return pem, key


def make(d):
    """Into directory d: a dict of paths. ca, otherca: CA certificates; server: (cert, key) for
    IP 127.0.0.1 and DNS localhost; elsewhere: (cert, key) for DNS elsewhere.example only;
    reader, stranger: client certificates (CN reader, CN nobody-known) of ca; forged: a client
    certificate of otherca (CN Administrator)."""
    p = {"ca": _ca(d, "ca"), "otherca": _ca(d, "otherca")}
    p["server"] = _cert(d, "ca", "server", "/CN=divan-server",
                        "subjectAltName=IP:127.0.0.1,DNS:localhost")
    p["elsewhere"] = _cert(d, "ca", "elsewhere", "/CN=elsewhere.example",
                           "subjectAltName=DNS:elsewhere.example")
    p["reader"] = _cert(d, "ca", "reader", "/CN=reader")
    p["stranger"] = _cert(d, "ca", "stranger", "/CN=nobody-known")
    p["forged"] = _cert(d, "otherca", "forged", "/CN=Administrator")
    return p


def server_args(p, which="server"):
    """divan-server's flags for TLS with p[which] and client certificates of p's CA."""
    cert, key = p[which]
    return ["--tls-cert", cert, "--tls-key", key, "--tls-ca", p["ca"]]
