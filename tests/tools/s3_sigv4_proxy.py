#!/usr/bin/env python3
"""A loopback S3 reverse proxy that checks every AWS Signature V4.

    s3_sigv4_proxy.py --target PORT --access-key AK --region R
                      [--port P] [--log FILE] [--flip-put-byte]
    s3_sigv4_proxy.py --self-test

The secret key is read from the environment variable S3_SIGV4_SECRET (not
the command line: ps shows that).  Listens on 127.0.0.1:P (P = 0: a free
port) and prints "port P" on stdout once it accepts connections.  Each
request, as received (after the TLS of nginx in front), is checked and
then forwarded to 127.0.0.1:PORT (s3rver, which checks only the access
key id), or answered with an S3 error document:

  403 SignatureDoesNotMatch    the Authorization header is missing or
                               malformed, its credential scope is not
                               AK/DAY/REGION/s3/aws4_request with DAY the
                               day of x-amz-date, a header that must be
                               signed is not, or the signature recomputed
                               here with the secret differs
  403 InvalidAccessKeyId       another access key id
  403 RequestTimeTooSkewed     x-amz-date more than 15 minutes off
  400 XAmzContentSHA256Mismatch x-amz-content-sha256 is missing, is
                               UNSIGNED-PAYLOAD or STREAMING-* (refused:
                               migrate always knows the payload), or is
                               not the SHA-256 of the body received

--flip-put-byte flips one bit in the middle of every non-empty PUT body
before the checks (a body changed on the way: the payload check must
catch it).

Every request gets one line in --log (default stderr):
    ok METHOD N STATUS PATH[?QUERY]  N: verified requests of that METHOD
    refused METHOD CODE PATH: WHY
    down METHOD PATH: WHY            verified, but the store is down (503)
    aborted METHOD PATH: N of M bytes  the body ended early: no answer
so a test can count what was verified.  Never logs a secret or a
signature.

Written from AWS's description of Signature V4 ("Authenticating Requests
(AWS Signature Version 4)", S3 API reference): the canonical request,
the string to sign and the derived signing key, independently of
migrate's C code.  --self-test checks this code against the S3 examples
published there.  Standard library only.  Stops on SIGTERM.
"""
import argparse
import calendar
import hashlib
import hmac
import http.client
import http.server
import os
import signal
import socketserver
import sys
import threading
import time
import urllib.parse

ALGO = "AWS4-HMAC-SHA256"
UNRESERVED = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                       b"0123456789-_.~")
HOP = {"connection", "keep-alive", "proxy-connection", "te", "trailer",
       "transfer-encoding", "upgrade", "content-length", "expect"}
SKEW = 15 * 60


def uri_encode(raw, keep_slash):
    """AWS UriEncode of bytes: unreserved kept, '/' kept in a path,
    every other byte %XX upper case."""
    out = []
    for b in raw:
        if b in UNRESERVED or (keep_slash and b == 0x2F):
            out.append(chr(b))
        else:
            out.append("%%%02X" % b)
    return "".join(out)


def unquote(raw):
    # The request line as received: http.server hands it over decoded
    # as ISO-8859-1, so this gives back its bytes before %XX decoding.
    return urllib.parse.unquote_to_bytes(raw.encode("latin-1"))


def canonical_uri(raw_path):
    # S3: the key as the client meant it (decoded once), encoded once;
    # no normalisation ("//" and "." are part of a key).
    return uri_encode(unquote(raw_path or "/"), True)


def canonical_query(raw_query):
    pairs = []
    for item in raw_query.split("&") if raw_query else []:
        name, _, value = item.partition("=")
        pairs.append((uri_encode(unquote(name), False),
                      uri_encode(unquote(value), False)))
    pairs.sort()
    return "&".join("%s=%s" % p for p in pairs)


def canonical_value(values):
    """Values of one header (bytes), each trimmed with inner runs of
    spaces as one, joined by ','."""
    out = []
    for v in values:
        out.append(b" ".join(v.strip(b" \t").split()))
    return b",".join(out)


def canonical_request(method, raw_path, raw_query, headers, signed,
                      payload_hash):
    """headers: dict lower-case name -> list of bytes values."""
    lines = [method.encode(), canonical_uri(raw_path).encode(),
             canonical_query(raw_query).encode()]
    canon = b"".join(n.encode() + b":" + canonical_value(headers[n]) + b"\n"
                     for n in signed)
    return b"\n".join(lines + [canon, ";".join(signed).encode(),
                               payload_hash.encode()])


def signing_key(secret, day, region, service):
    k = ("AWS4" + secret).encode()
    for m in (day, region, service, "aws4_request"):
        k = hmac.new(k, m.encode(), hashlib.sha256).digest()
    return k


def signature(secret, amz_date, region, service, creq):
    scope = "%s/%s/%s/aws4_request" % (amz_date[:8], region, service)
    sts = "\n".join([ALGO, amz_date, scope,
                     hashlib.sha256(creq).hexdigest()]).encode()
    key = signing_key(secret, amz_date[:8], region, service)
    return hmac.new(key, sts, hashlib.sha256).hexdigest()


class Refused(Exception):
    def __init__(self, status, code, why):
        super().__init__(why)
        self.status, self.code, self.why = status, code, why


def parse_authorization(value):
    if not value.startswith(ALGO + " "):
        raise Refused(403, "SignatureDoesNotMatch",
                      "no AWS4-HMAC-SHA256 Authorization header")
    fields = {}
    for part in value[len(ALGO) + 1:].split(","):
        k, eq, v = part.strip().partition("=")
        if not eq or k in fields:
            raise Refused(403, "SignatureDoesNotMatch",
                          "malformed Authorization header")
        fields[k] = v
    if set(fields) != {"Credential", "SignedHeaders", "Signature"}:
        raise Refused(403, "SignatureDoesNotMatch",
                      "Authorization lacks Credential, SignedHeaders or "
                      "Signature")
    return fields


def check_time(amz_date, now):
    try:
        t = calendar.timegm(time.strptime(amz_date, "%Y%m%dT%H%M%SZ"))
    except ValueError:
        raise Refused(403, "SignatureDoesNotMatch",
                      "x-amz-date is not YYYYMMDDTHHMMSSZ")
    if len(amz_date) != 16 or abs(t - now) > SKEW:
        raise Refused(403, "RequestTimeTooSkewed",
                      "x-amz-date %s is off by more than 15 minutes"
                      % amz_date)


def check_signed_list(signed, headers):
    if signed != sorted(set(signed)) or any(n != n.lower() for n in signed):
        raise Refused(403, "SignatureDoesNotMatch",
                      "SignedHeaders not sorted, unique, lower case")
    must = {"host", "x-amz-date", "x-amz-content-sha256"}
    must |= {n for n in headers if n.startswith("x-amz-")}
    missing = sorted(must - set(signed))
    if missing:
        raise Refused(403, "SignatureDoesNotMatch",
                      "headers not signed: " + ", ".join(missing))
    absent = [n for n in signed if n not in headers]
    if absent:
        raise Refused(403, "SignatureDoesNotMatch",
                      "signed headers not sent: " + ", ".join(absent))


def verify(cfg, method, target, headers, body, now):
    """Raises Refused, or returns None when the request is genuine."""
    raw_path, _, raw_query = target.partition("?")
    auth = headers.get("authorization", [b""])
    if len(auth) != 1:
        raise Refused(403, "SignatureDoesNotMatch", "Authorization twice")
    fields = parse_authorization(auth[0].decode("latin-1"))
    cred = fields["Credential"].split("/")
    if len(cred) != 5:
        raise Refused(403, "SignatureDoesNotMatch", "malformed Credential")
    ak, day, region, service, term = cred
    if ak != cfg.access_key:
        raise Refused(403, "InvalidAccessKeyId", "unknown access key id")
    amz = headers.get("x-amz-date", [b""])
    amz_date = amz[0].decode("latin-1") if len(amz) == 1 else ""
    check_time(amz_date, now)
    if (day != amz_date[:8] or region != cfg.region or service != "s3" or
            term != "aws4_request"):
        raise Refused(403, "SignatureDoesNotMatch",
                      "credential scope %s/%s/%s/%s, want %s/%s/s3/"
                      "aws4_request" % (day, region, service, term,
                                        amz_date[:8], cfg.region))
    signed = fields["SignedHeaders"].split(";")
    check_signed_list(signed, headers)
    claimed = headers.get("x-amz-content-sha256", [b""])
    claimed = claimed[0].decode("latin-1") if len(claimed) == 1 else ""
    creq = canonical_request(method, raw_path, raw_query, headers, signed,
                             claimed)
    want = signature(cfg.secret, amz_date, region, service, creq)
    if not hmac.compare_digest(want, fields["Signature"]):
        raise Refused(403, "SignatureDoesNotMatch",
                      "signature differs from the one computed here")
    if claimed == "UNSIGNED-PAYLOAD" or claimed.startswith("STREAMING-"):
        raise Refused(400, "XAmzContentSHA256Mismatch",
                      "payload not signed (%s): refused" % claimed)
    if claimed != hashlib.sha256(body).hexdigest():
        raise Refused(400, "XAmzContentSHA256Mismatch",
                      "x-amz-content-sha256 is not the SHA-256 of the "
                      "%d bytes received" % len(body))


def error_doc(code, why, resource):
    esc = (lambda s: s.replace("&", "&amp;").replace("<", "&lt;")
           .replace(">", "&gt;"))
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>%s</Code>'
            '<Message>%s</Message><Resource>%s</Resource>'
            '<RequestId>sigv4-proxy</RequestId></Error>'
            % (code, esc(why), esc(resource))).encode()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def read_body(self):
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0], 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length", "0")))

    def header_map(self):
        m = {}
        for k, v in self.headers.items():
            m.setdefault(k.lower(), []).append(v.encode("latin-1"))
        return m

    def handle_any(self):
        srv = self.server
        body = self.read_body()
        path = urllib.parse.unquote(self.path)
        want = self.headers.get("Content-Length")
        if want is not None and len(body) != int(want):
            # The client (or nginx for it) went away mid-body.
            srv.log("aborted %s %s: %d of %s bytes" % (self.command, path,
                                                       len(body), want))
            self.close_connection = True
            return
        if (srv.cfg.flip_put_byte and self.command == "PUT" and
                len(body) > 0):
            b = bytearray(body)
            b[len(b) // 2] ^= 0x01
            body = bytes(b)
            srv.log("flipped PUT one bit of %d bytes %s" % (len(b), path))
        try:
            verify(srv.cfg, self.command, self.path, self.header_map(), body,
                   time.time())
        except Refused as e:
            srv.log("refused %s %s %s: %s" % (self.command, e.code, path,
                                               e.why))
            self.answer(e.status, [("Content-Type", "application/xml")],
                        error_doc(e.code, e.why, path))
            return
        try:
            status, hdrs, rbody = self.forward(body)
        except OSError as e:
            # The store is down: what a load balancer in front says.
            srv.log("down %s %s: %s" % (self.command, path, e))
            self.answer(503, [("Content-Type", "application/xml")],
                        error_doc("ServiceUnavailable", "store down", path))
            return
        n = srv.count(self.command)
        srv.log("ok %s %d %d %s" % (self.command, n, status, path))
        self.answer(status, hdrs, rbody)

    def forward(self, body):
        conn = http.client.HTTPConnection("127.0.0.1", self.server.cfg.target,
                                          timeout=600)
        try:
            conn.putrequest(self.command, self.path, skip_host=True,
                            skip_accept_encoding=True)
            for k, v in self.headers.items():
                if k.lower() not in HOP:
                    conn.putheader(k, v)
            if body or self.command in ("PUT", "POST"):
                conn.putheader("Content-Length", str(len(body)))
            conn.endheaders(body if body else None)
            resp = conn.getresponse()
            rbody = resp.read()
            hdrs = [(k, v) for k, v in resp.getheaders()
                    if k.lower() not in HOP or
                    (self.command == "HEAD" and k.lower() == "content-length")]
            return resp.status, hdrs, rbody
        finally:
            conn.close()

    def answer(self, status, hdrs, body):
        self.send_response_only(status)
        for k, v in hdrs:
            self.send_header(k, v)
        if self.command != "HEAD":
            self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        self.close_connection = True

    do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = handle_any


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, cfg, out):
        self.cfg, self.out = cfg, out
        self.lock = threading.Lock()
        self.counts = {}
        super().__init__(("127.0.0.1", cfg.port), Handler)

    def count(self, method):
        with self.lock:
            self.counts[method] = self.counts.get(method, 0) + 1
            return self.counts[method]

    def log(self, line):
        with self.lock:
            self.out.write(line + "\n")
            self.out.flush()


def self_test():
    """The S3 examples of AWS's SigV4 documentation."""
    sk = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
    date = "20130524T000000Z"
    empty = hashlib.sha256(b"").hexdigest()
    put_hash = hashlib.sha256(b"Welcome to Amazon S3.").hexdigest()
    host = [b"examplebucket.s3.amazonaws.com"]
    cases = [
        ("GET", "/test.txt", "", {"host": host, "range": [b"bytes=0-9"],
         "x-amz-content-sha256": [empty.encode()],
         "x-amz-date": [date.encode()]}, empty,
         "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"),
        ("PUT", "/test%24file.text", "", {"host": host,
         "date": [b"Fri, 24 May 2013 00:00:00 GMT"],
         "x-amz-date": [date.encode()],
         "x-amz-storage-class": [b"REDUCED_REDUNDANCY"],
         "x-amz-content-sha256": [put_hash.encode()]}, put_hash,
         "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd"),
        ("GET", "/", "lifecycle", {"host": host,
         "x-amz-content-sha256": [empty.encode()],
         "x-amz-date": [date.encode()]}, empty,
         "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543"),
        ("GET", "/", "max-keys=2&prefix=J", {"host": host,
         "x-amz-content-sha256": [empty.encode()],
         "x-amz-date": [date.encode()]}, empty,
         "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7"),
    ]
    bad = 0
    if put_hash != ("44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b"
                    "803f8b072"):
        bad += 1
    for method, path, query, hdrs, ph, want in cases:
        creq = canonical_request(method, path, query, hdrs, sorted(hdrs), ph)
        got = signature(sk, date, "us-east-1", "s3", creq)
        if got != want:
            print("self-test: %s %s?%s: %s, want %s" % (method, path, query,
                                                        got, want))
            bad += 1
    print("self-test: %d of %d AWS examples agree" % (len(cases) - bad,
                                                      len(cases)))
    return 1 if bad else 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--target", type=int)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--access-key")
    ap.add_argument("--region", default="us-east-1")
    ap.add_argument("--log")
    ap.add_argument("--flip-put-byte", action="store_true")
    ap.add_argument("--self-test", action="store_true")
    cfg = ap.parse_args()
    if cfg.self_test:
        return self_test()
    cfg.secret = os.environ.get("S3_SIGV4_SECRET")
    if cfg.target is None or cfg.access_key is None or cfg.secret is None:
        ap.error("--target, --access-key and S3_SIGV4_SECRET are needed")
    out = open(cfg.log, "a", encoding="utf-8") if cfg.log else sys.stderr
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    srv = Server(cfg, out)
    print("port %d" % srv.server_address[1], flush=True)
    srv.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
