#!/usr/bin/env python3
"""A loopback test server for floe's credential sources, following their documented protocols:
  the EC2 instance metadata service, IMDSv2 (PUT /latest/api/token with
    X-aws-ec2-metadata-token-ttl-seconds; GET /latest/meta-data/iam/security-credentials/[ROLE]
    with X-aws-ec2-metadata-token, 401 without it);
  the container credentials endpoint (GET /container/creds; Authorization checked when
    --container-token is given);
  the SSO portal's GetRoleCredentials (GET /federation/credentials?account_id=&role_name= with
    x-amz-sso_bearer_token);
  a recording Glacier ListVaults (GET /-/vaults): it notes the access key id of the SigV4
    Credential and the x-amz-security-token of each request, and answers an empty list.
Every credential answer hands out --ak/--sk with a fresh session token (tok-<kind>-<n>) that
expires --lifetime seconds later. GET /_stats returns the counts of credential fetches and the
recorded Glacier requests. --mode imdsv1 refuses the token PUT (an IMDSv1-only endpoint);
--mode badjson answers credentials that are not JSON. --tls-cert/--tls-key: HTTPS with that
PEM certificate and key. Writes its port to --port-file; stopped by PID (SIGTERM)."""
import argparse
import datetime
import json
import re
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ARGS = None
LOCK = threading.Lock()
COUNTS = {}
GLACIER = []
IMDS_TOKEN = "imds-session-token"


def fresh(kind):
    with LOCK:
        COUNTS[kind] = COUNTS.get(kind, 0) + 1
        n = COUNTS[kind]
    exp = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=ARGS.lifetime)
    return "tok-%s-%d" % (kind, n), exp


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def answer(self, code, body, ctype="application/json"):
        data = body.encode() if isinstance(body, str) else body
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def creds_json(self, kind, imds=False):
        if ARGS.mode == "badjson":
            return self.answer(200, "{\"AccessKeyId\": ")
        tok, exp = fresh(kind)
        body = {"AccessKeyId": ARGS.ak, "SecretAccessKey": ARGS.sk, "Token": tok,
                "Expiration": exp.strftime("%Y-%m-%dT%H:%M:%SZ")}
        if imds:
            body.update(Code="Success", Type="AWS-HMAC", LastUpdated=body["Expiration"])
        self.answer(200, json.dumps(body))

    def do_PUT(self):
        n = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(n)
        if self.path != "/latest/api/token":
            return self.answer(404, "")
        if ARGS.mode == "imdsv1":
            return self.answer(403, "", "text/plain")
        if not self.headers.get("X-aws-ec2-metadata-token-ttl-seconds"):
            return self.answer(400, "", "text/plain")
        self.answer(200, IMDS_TOKEN, "text/plain")

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        path, q = url.path, urllib.parse.parse_qs(url.query)
        if path == "/_stats":
            with LOCK:
                return self.answer(200, json.dumps({"counts": COUNTS, "glacier": GLACIER}))
        if path.startswith("/latest/meta-data/iam/security-credentials/"):
            if self.headers.get("X-aws-ec2-metadata-token") != IMDS_TOKEN:
                return self.answer(401, "", "text/plain")
            role = path[len("/latest/meta-data/iam/security-credentials/"):]
            if role == "":
                return self.answer(200, "test-role", "text/plain")
            if role != "test-role":
                return self.answer(404, "", "text/plain")
            return self.creds_json("imds", imds=True)
        if path == "/container/creds":
            if ARGS.container_token and self.headers.get("Authorization") != ARGS.container_token:
                return self.answer(401, "{\"message\": \"bad token\"}")
            return self.creds_json("container")
        if path == "/federation/credentials":
            if self.headers.get("x-amz-sso_bearer_token") != "sso-bearer":
                return self.answer(401, "{\"message\": \"Session token not found or invalid\"}")
            if q.get("account_id") != ["111122223333"] or q.get("role_name") != ["Reader"]:
                return self.answer(403, "{\"message\": \"No access\"}")
            tok, exp = fresh("sso")
            return self.answer(200, json.dumps({"roleCredentials": {
                "accessKeyId": ARGS.ak, "secretAccessKey": ARGS.sk, "sessionToken": tok,
                "expiration": int(exp.timestamp() * 1000)}}))
        if path == "/-/vaults":
            m = re.search(r"Credential=([^/]+)/", self.headers.get("Authorization") or "")
            with LOCK:
                GLACIER.append({"akid": m.group(1) if m else None,
                                "token": self.headers.get("x-amz-security-token")})
            return self.answer(200, json.dumps({"VaultList": [], "Marker": None}))
        self.answer(404, "{}")


def main():
    global ARGS
    ap = argparse.ArgumentParser()
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--lifetime", type=int, default=3600)
    ap.add_argument("--ak", default="AKIDFLOEVAULTLOCAL")
    ap.add_argument("--sk", default="floe-vault-local-secret")
    ap.add_argument("--mode", default="normal", choices=["normal", "imdsv1", "badjson"])
    ap.add_argument("--container-token", default=None)
    ap.add_argument("--tls-cert", default=None)
    ap.add_argument("--tls-key", default=None)
    ARGS = ap.parse_args()
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    if ARGS.tls_cert:
        import ssl
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(ARGS.tls_cert, ARGS.tls_key)
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    with open(ARGS.port_file + ".tmp", "w") as f:
        f.write(str(srv.server_address[1]))
    import os
    os.rename(ARGS.port_file + ".tmp", ARGS.port_file)
    srv.serve_forever()


if __name__ == "__main__":
    main()
