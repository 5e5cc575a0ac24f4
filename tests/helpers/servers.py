"""Start and stop the servers floe's Python tests talk to: floe-vault, moto, and the fault
proxy. Each binds 127.0.0.1 on a free port chosen by the server itself (port 0 + port file),
is started by the test and stopped by PID."""
import atexit
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
LOCAL_AK = "AKIDFLOEVAULTLOCAL"
LOCAL_SK = "floe-vault-local-secret"
LOCAL_ACCOUNT = "123456789012"


def _wait_port_file(path, proc, what, timeout=60):
    # 60 s: a server under ASan starting beside other tests on a loaded 2-core machine (the
    # wait ends as soon as the port is written, or the process exits)
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode} before listening")
        try:
            with open(path) as f:
                text = f.read().strip()
            if text:
                return int(text)
        except (FileNotFoundError, ValueError):
            pass
        time.sleep(0.02)
    raise RuntimeError(f"{what} did not write {path} within {timeout}s")


_SERVERS = []
_TEMPDIRS = []


def tempdir(prefix):
    """A temporary directory removed when the test process exits, pass or fail."""
    d = tempfile.mkdtemp(prefix=prefix)
    _TEMPDIRS.append(d)
    return d


def tempdir_for_others(prefix):
    """A temporary directory (removed at exit) that another user, such as nobody under setpriv,
    can use: mode 0777, and each of its ancestors that this process owns made traversable
    (o+x) - the suite's private TMPDIR is 0700."""
    d = tempdir(prefix)
    os.chmod(d, 0o777)
    parent = os.path.dirname(d)
    while parent and parent != "/":
        st = os.stat(parent)
        if st.st_uid == os.geteuid() and not st.st_mode & 0o001:
            os.chmod(parent, (st.st_mode & 0o7777) | 0o001)
        parent = os.path.dirname(parent)
    return d


@atexit.register
def _cleanup():
    """Every server a test started is stopped and every work directory removed at exit, pass or
    fail (a test that forgot, or failed before its tearDown, leaves nothing behind)."""
    for s in _SERVERS:
        try:
            s.stop(sig=signal.SIGKILL)
        except Exception:  # noqa: BLE001 - best effort at exit
            pass
    for d in _TEMPDIRS + [s.workdir for s in _SERVERS]:
        shutil.rmtree(d, ignore_errors=True)


class Server:
    def __init__(self, proc, port, workdir, log_path=None):
        self.proc, self.port, self.workdir, self.log_path = proc, port, workdir, log_path
        self.url = f"http://127.0.0.1:{port}"
        _SERVERS.append(self)

    def stop(self, sig=signal.SIGTERM):
        if self.proc.poll() is None:
            os.kill(self.proc.pid, sig)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait()

    def log(self):
        if self.log_path and os.path.exists(self.log_path):
            with open(self.log_path) as f:
                return f.read()
        return ""


def start_vault(binary, data_dir=None, extra=()):
    workdir = tempdir("floe-vault-test-")
    data_dir = data_dir or os.path.join(workdir, "data")
    port_file = os.path.join(workdir, "port")
    log_path = os.path.join(workdir, "vault.log")
    log = open(log_path, "w")
    proc = subprocess.Popen([binary, "--listen", "127.0.0.1:0", "--data-dir", data_dir,
                             "--port-file", port_file, "--job-delay", "instant", *extra],
                            stdout=log, stderr=subprocess.STDOUT)
    log.close()  # the child keeps its own descriptor
    port = _wait_port_file(port_file, proc, "floe-vault")
    s = Server(proc, port, workdir, log_path)
    s.data_dir = data_dir
    return s


def free_port():
    """A loopback port nothing listens on (bound and released at once)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return port


def start_moto():
    """moto's server on 127.0.0.1, on a port it binds itself (tests/helpers/motoserver.py:
    port 0 and a port file, never a port picked here and bound later)."""
    workdir = tempdir("floe-moto-")
    port_file = os.path.join(workdir, "port")
    log_path = os.path.join(workdir, "moto.log")
    with open(log_path, "w") as log:
        proc = subprocess.Popen([sys.executable, os.path.join(HERE, "motoserver.py"),
                                 "--port-file", port_file], stdout=log, stderr=subprocess.STDOUT)
    try:
        port = _wait_port_file(port_file, proc, "moto's server", timeout=60)  # its imports
    except RuntimeError as e:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        with open(log_path) as f:
            raise RuntimeError("%s: %s" % (e, f.read())) from None
    s = Server(proc, port, workdir, log_path)
    # serving: the port file is written before serve_forever(), and the socket listens
    deadline = time.time() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=5).close()
            return s
        except OSError:
            if time.time() > deadline:
                raise
            time.sleep(0.1)


def start_faultproxy(upstream_port, rules, port=0, inflight=False):
    workdir = tempdir("floe-proxy-")
    port_file = os.path.join(workdir, "port")
    log_path = os.path.join(workdir, "proxy.log")
    args = [sys.executable, os.path.join(HERE, "faultproxy.py"), "--upstream",
            f"127.0.0.1:{upstream_port}", "--port-file", port_file, "--log", log_path,
            "--port", str(port)]
    for r in rules:
        args += ["--rule", r]
    if inflight:  # each log line ends with " inflight=N" (faultproxy.py)
        args.append("--inflight")
    # a given port (a proxy started again where another one was) may be held for a moment by
    # another test's connection under ctest -j2: tried again for up to 30 s
    deadline = time.time() + 30
    while True:
        proc = subprocess.Popen(args)
        try:
            port = _wait_port_file(port_file, proc, "faultproxy")
            return Server(proc, port, workdir, log_path)
        except RuntimeError:
            if port == 0 or proc.poll() is None or time.time() > deadline:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
                raise
            time.sleep(0.5)


def start_linkem(binary, upstream_port, *extra):
    """tools/linkem.c between a client and 127.0.0.1:upstream_port: round-trip delay, rate cap,
    window, loss and resets (--rtt-ms, --rate, --up-rate, --down-rate, --window, --loss,
    --reset, --rate-log: see its header comment). Stopped by PID like the others."""
    workdir = tempdir("floe-linkem-")
    port_file = os.path.join(workdir, "port")
    log_path = os.path.join(workdir, "linkem.log")
    with open(log_path, "w") as log:
        proc = subprocess.Popen([binary, "--upstream", f"127.0.0.1:{upstream_port}",
                                 "--port-file", port_file, *extra], stdout=log,
                                stderr=subprocess.STDOUT)
    port = _wait_port_file(port_file, proc, "linkem")
    return Server(proc, port, workdir, log_path)


def client_env(tmpdir, ak=LOCAL_AK, sk=LOCAL_SK):
    """Environment for floe / aws / boto3 subprocesses: explicit credentials, empty aws config
    files, a private cache dir for floe's checkpoints."""
    env = dict(os.environ)
    for k in list(env):
        if k.startswith("AWS_"):
            del env[k]
    cfg = os.path.join(tmpdir, "aws-config")
    cred = os.path.join(tmpdir, "aws-credentials")
    for p in (cfg, cred):
        open(p, "a").close()
    env.update(AWS_ACCESS_KEY_ID=ak, AWS_SECRET_ACCESS_KEY=sk, AWS_DEFAULT_REGION="us-east-1",
               AWS_CONFIG_FILE=cfg, AWS_SHARED_CREDENTIALS_FILE=cred,
               XDG_CACHE_HOME=os.path.join(tmpdir, "cache"), FLOE_RETRY_BASE_MS="20")
    return env


def glacier_client(url):
    """A boto3 Glacier client for the floe-vault at url: its local keys, no retries."""
    import boto3
    from botocore.config import Config
    return boto3.client("glacier", endpoint_url=url, region_name="us-east-1",
                        aws_access_key_id=LOCAL_AK, aws_secret_access_key=LOCAL_SK,
                        config=Config(retries={"max_attempts": 1}))


def read_archive(glacier, vault, archive_id, timeout=20):
    """An archive's bytes through a boto3 Glacier client: an Expedited retrieval job (floe-vault
    with --job-delay instant completes it at once), waited for, its output read."""
    job = glacier.initiate_job(vaultName=vault, jobParameters={
        "Type": "archive-retrieval", "ArchiveId": archive_id, "Tier": "Expedited"})
    deadline = time.time() + timeout
    while True:
        d = glacier.describe_job(vaultName=vault, jobId=job["jobId"])
        if d["Completed"] or time.time() > deadline:
            break
        time.sleep(0.05)
    if d["StatusCode"] != "Succeeded":
        raise AssertionError("retrieval job of %s: %s" % (archive_id, d["StatusCode"]))
    return glacier.get_job_output(vaultName=vault, jobId=job["jobId"])["body"].read()


def start_credserver(*extra):
    """tests/helpers/credserver.py: fake IMDSv2, container, SSO portal and a recording Glacier
    ListVaults; GET /_stats counts the credential fetches."""
    workdir = tempfile.mkdtemp(prefix="floe-creds-")
    port_file = os.path.join(workdir, "port")
    proc = subprocess.Popen([sys.executable, os.path.join(HERE, "credserver.py"), "--port-file",
                             port_file, *extra])
    port = _wait_port_file(port_file, proc, "credserver")
    return Server(proc, port, workdir)
