#!/usr/bin/env python3
"""floe-vault's startup errors: each names its cause with the system's reason (errno text), and
a start that fails leaves nothing on disk (no data directory, no database, no port file or its
temp file). Usage: test_startup_errors.py <floe-vault binary>."""
import os
import socket
import subprocess
import sys
import tempfile
import unittest

BIN = None


def run(*args):
    return subprocess.run([BIN, *args], capture_output=True, text=True, timeout=60)


class StartupErrors(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="floe-vault-start-")
        self.d = self.tmp.name

    def tearDown(self):
        self.tmp.cleanup()

    def assert_nothing_created(self, *keep):
        self.assertEqual(sorted(os.listdir(self.d)), sorted(keep))

    def test_port_file_dir_missing(self):
        data = os.path.join(self.d, "data")
        r = run("--listen", "127.0.0.1:0", "--data-dir", data, "--port-file",
                os.path.join(self.d, "missing", "port"))
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("cannot write --port-file", r.stderr)
        self.assertIn("No such file or directory", r.stderr)
        self.assert_nothing_created()

    def test_port_in_use(self):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        port = s.getsockname()[1]
        try:
            r = run("--listen", "127.0.0.1:%d" % port, "--data-dir",
                    os.path.join(self.d, "a", "b", "data"), "--port-file",
                    os.path.join(self.d, "port"))
        finally:
            s.close()
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("cannot listen on 127.0.0.1:%d: Address already in use" % port, r.stderr)
        self.assert_nothing_created()

    def test_abbreviated_options_refused(self):
        # getopt_long takes an unambiguous prefix: "--port 0" was "--port-file 0" (a file named
        # 0 in the working directory, the server on its default port)
        for args, bad in ((("--port", "0"), "--port"), (("--data", self.d), "--data"),
                          (("--listen", "127.0.0.1:0", "--data-dir=" + self.d, "--job-del",
                            "instant"), "--job-del"),
                          (("scrub", "--data-d", self.d), "--data-d")):
            r = subprocess.run([BIN, *args], capture_output=True, text=True, timeout=60,
                               cwd=self.d)
            self.assertEqual(r.returncode, 2, (args, r.stderr))
            self.assertIn('unknown option "%s"' % bad, r.stderr)
            self.assertIn("spelt out in full", r.stderr)
            self.assert_nothing_created()
        # an option's argument that looks like an option is not checked as one
        r = run("--listen", "127.0.0.1:0", "--data-dir", os.path.join(self.d, "--data"),
                "--port-file", os.path.join(self.d, "missing", "port"))
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("cannot write --port-file", r.stderr)

    def test_listen_address_not_local(self):
        # 192.0.2.1 (TEST-NET-1) is not an address of this machine
        r = run("--listen", "192.0.2.1:0", "--data-dir", os.path.join(self.d, "data"))
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("cannot listen on 192.0.2.1:0: Cannot assign requested address", r.stderr)
        self.assert_nothing_created()

    def test_data_dir_is_a_file(self):
        f = os.path.join(self.d, "file")
        open(f, "w").close()
        for data in (f, os.path.join(f, "sub")):
            r = run("--listen", "127.0.0.1:0", "--data-dir", data, "--port-file",
                    os.path.join(self.d, "port"))
            self.assertEqual(r.returncode, 1, r.stderr)
            self.assertIn("cannot create data dir %s: Not a directory" % data, r.stderr)
            self.assert_nothing_created("file")

    def test_existing_data_dir_left_as_it_was(self):
        # the database cannot be opened (a directory stands where its file goes): the start
        # fails naming the file, and the data dir it did not create keeps only what it held
        data = os.path.join(self.d, "data")
        os.makedirs(os.path.join(data, "floe-vault.db"))
        r = run("--listen", "127.0.0.1:0", "--data-dir", data)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("floe-vault.db", r.stderr)
        self.assertEqual(sorted(os.listdir(data)), ["floe-vault.db"])

    def test_started_server_is_unaffected(self):
        port_file = os.path.join(self.d, "port")
        p = subprocess.Popen([BIN, "--listen", "127.0.0.1:0", "--data-dir",
                              os.path.join(self.d, "x", "data"), "--port-file", port_file],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            url = p.stdout.readline().strip()
            self.assertTrue(url.startswith("http://127.0.0.1:"), url)
            with open(port_file) as f:
                self.assertEqual(url.rsplit(":", 1)[1], f.read().strip())
            self.assertFalse(os.path.exists(port_file + ".tmp"))
        finally:
            p.terminate()
            p.wait(timeout=30)
            p.stdout.close()
            p.stderr.close()


if __name__ == "__main__":
    BIN = sys.argv.pop(1)
    unittest.main(verbosity=2)
