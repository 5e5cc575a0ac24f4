"""Start and stop floe-vault for tests, and talk to it: aws CLI environment, boto3 clients
(no retries in negative tests), and raw SigV4-signed requests for the error-path matrix.

The server binds 127.0.0.1 port 0, writes --port-file, and is stopped by PID (SIGTERM, or
SIGKILL for crash tests)."""
import hashlib
import http.client
import io
import os
import signal
import subprocess
import tempfile
import time

import botocore.auth
import botocore.credentials
import botocore.awsrequest
import botocore.utils

ACCESS_KEY = "AKIDFLOEVAULTLOCAL"
SECRET_KEY = "floe-vault-local-secret"
ACCOUNT = "123456789012"
REGION = "us-east-1"
MIB = 1 << 20


def tree_hash(data):
    return botocore.utils.calculate_tree_hash(io.BytesIO(data))


def sha256(data):
    return hashlib.sha256(data).hexdigest()


class Vault:
    """One floe-vault process on a data dir (kept across restart())."""

    def __init__(self, binary, data_dir=None, extra=("--job-delay", "instant")):
        self.binary = binary
        self._tmp = None
        if data_dir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="floe-vault-test-")
            data_dir = os.path.join(self._tmp.name, "data")
        self.data_dir = data_dir
        self.extra = list(extra)
        self.proc = None
        self.port = None
        self.start()

    def start(self):
        pf = self.data_dir.rstrip("/") + ".port"
        if os.path.exists(pf):
            os.unlink(pf)
        self.stderr = open(self.data_dir.rstrip("/") + ".log", "ab")
        self.proc = subprocess.Popen(
            [self.binary, "--listen", "127.0.0.1:0", "--data-dir", self.data_dir, "--port-file",
             pf, "--log-level", "info", *self.extra],
            stdout=subprocess.PIPE, stderr=self.stderr)
        line = self.proc.stdout.readline().decode().strip()
        if not line.startswith("http://127.0.0.1:"):
            self.proc.wait(5)
            raise RuntimeError("floe-vault did not start: %r (log %s)" % (line, self.log()))
        self.port = int(line.rsplit(":", 1)[1])
        with open(pf) as f:
            assert int(f.read()) == self.port
        self.url = "http://127.0.0.1:%d" % self.port

    def log(self):
        with open(self.data_dir.rstrip("/") + ".log", "rb") as f:
            return f.read().decode(errors="replace")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(30)
        if self.proc:
            self.proc.stdout.close()
        self.proc = None
        self.stderr.close()

    def kill9(self):
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)
        self.proc.stdout.close()
        self.proc = None
        self.stderr.close()

    def restart(self):
        self.stop()
        self.start()

    def close(self):
        self.stop()
        if self._tmp:
            self._tmp.cleanup()

    # ---- clients ----
    def aws_env(self, tmpdir):
        env = dict(os.environ)
        for name in ("config", "credentials"):
            p = os.path.join(tmpdir, name)
            open(p, "w").close()
        env.update(AWS_ACCESS_KEY_ID=ACCESS_KEY, AWS_SECRET_ACCESS_KEY=SECRET_KEY,
                   AWS_DEFAULT_REGION=REGION, AWS_CONFIG_FILE=os.path.join(tmpdir, "config"),
                   AWS_SHARED_CREDENTIALS_FILE=os.path.join(tmpdir, "credentials"),
                   AWS_PAGER="")
        env.pop("AWS_PROFILE", None)
        env.pop("AWS_SESSION_TOKEN", None)
        return env

    def session(self):
        import boto3
        return boto3.session.Session(aws_access_key_id=ACCESS_KEY,
                                     aws_secret_access_key=SECRET_KEY, region_name=REGION)

    def client(self, retries=1):
        from botocore.config import Config
        return self.session().client("glacier", endpoint_url=self.url,
                                     config=Config(retries={"max_attempts": retries}))

    def resource(self):
        return self.session().resource("glacier", endpoint_url=self.url)

    # ---- raw signed requests ----
    def request(self, method, path, body=b"", headers=None, sign=True, secret=SECRET_KEY,
                key=ACCESS_KEY, region=REGION, content_sha=None, raw_body=None,
                skip_version=False, repeated=(), unsigned=()):
        """Send one request; returns (status, headers dict (lower-case), body bytes).
        repeated: (name, value) pairs added after `headers`, signed, so a name may repeat
        (botocore joins a repeated name's values with ','); unsigned: (name, value) pairs
        added after signing."""
        hdrs = {} if skip_version else {"x-amz-glacier-version": "2012-06-01"}
        hdrs.update(headers or {})
        if content_sha is not None:
            hdrs["x-amz-content-sha256"] = content_sha
        url = self.url + path
        items = list(hdrs.items())
        if sign:
            req = botocore.awsrequest.AWSRequest(method=method, url=url, data=body,
                                                 headers=dict(hdrs))
            for k, v in repeated:
                req.headers[k] = v  # HTTPHeaders appends: a second value for the same name
            creds = botocore.credentials.Credentials(key, secret)
            botocore.auth.SigV4Auth(creds, "glacier", region).add_auth(req)
            items = list(req.headers.items())
        else:
            items += list(repeated)
        items += list(unsigned)
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        send = body if raw_body is None else raw_body
        conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        if not any(k.lower() == "host" for k, _ in items):
            conn.putheader("Host", "127.0.0.1:%d" % self.port)
        for k, v in items:
            conn.putheader(k, v)
        if not any(k.lower() == "content-length" for k, _ in items):
            conn.putheader("Content-Length", str(len(send)))
        conn.endheaders()
        if send:
            conn.send(send)
        r = conn.getresponse()
        data = r.read()
        out = (r.status, {k.lower(): v for k, v in r.getheaders()}, data)
        conn.close()
        return out

    def upload(self, vault, data, desc=None):
        """UploadArchive through a raw signed request; returns the archive id."""
        h = {"x-amz-sha256-tree-hash": tree_hash(data)}
        if desc is not None:
            h["x-amz-archive-description"] = desc
        st, hd, body = self.request("POST", "/-/vaults/%s/archives" % vault, data, h,
                                    content_sha=sha256(data))
        assert st == 201, (st, body)
        return hd["x-amz-archive-id"]


def wait_for(pred, timeout=10.0, step=0.05):
    end = time.time() + timeout
    while time.time() < end:
        v = pred()
        if v:
            return v
        time.sleep(step)
    return pred()
