#!/usr/bin/env python3
"""`floe hash` end to end: output checked against botocore's calculate_tree_hash and hashlib,
text and --json forms, stdin, and the error paths (missing / unreadable file, no files, bad
option) with the other files still printed."""
import hashlib
import io
import json
import os
import subprocess
import sys
import tempfile
import unittest

import botocore.utils

FLOE = None


def ref(data):
    return botocore.utils.calculate_tree_hash(io.BytesIO(data)), hashlib.sha256(data).hexdigest()


class FloeHash(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="floe-cli-hash-")
        cls.files = {}
        for name, size in [("empty", 0), ("one", 1), ("mib", 1 << 20), ("odd", 3 * (1 << 20) + 5),
                           ("big", 70 * (1 << 20) + 17)]:
            data = os.urandom(size)
            path = os.path.join(cls.tmp.name, name)
            with open(path, "wb") as f:
                f.write(data)
            cls.files[name] = (path, data)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def run_floe(self, *args, stdin=None):
        return subprocess.run([FLOE, *args], input=stdin, capture_output=True, timeout=300)

    def test_text_output_matches_botocore(self):
        paths = [p for p, _ in self.files.values()]
        r = self.run_floe("hash", *paths)
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = r.stdout.decode().splitlines()
        self.assertEqual(len(lines), len(paths))
        for line, (path, data) in zip(lines, self.files.values()):
            tree, lin, size, name = line.split(None, 3)
            self.assertEqual((tree, lin), ref(data), path)
            self.assertEqual(int(size), len(data))
            self.assertEqual(name, path)

    def test_json_output(self):
        path, data = self.files["odd"]
        r = self.run_floe("--json", "hash", path)
        self.assertEqual(r.returncode, 0, r.stderr)
        doc = [json.loads(line) for line in r.stdout.decode().splitlines()]
        self.assertEqual(len(doc), 1)
        self.assertEqual(doc[0]["file"], path)
        self.assertEqual((doc[0]["tree_hash"], doc[0]["sha256"]), ref(data))
        self.assertEqual(doc[0]["size"], len(data))
        # --json after the command works too (aws-cli style)
        r2 = self.run_floe("hash", path, "--json")
        self.assertEqual([json.loads(x) for x in r2.stdout.decode().splitlines()], doc)

    def test_stdin(self):
        _, data = self.files["big"]
        r = self.run_floe("hash", "-", stdin=data)
        self.assertEqual(r.returncode, 0, r.stderr)
        tree, lin, size, name = r.stdout.decode().split()
        self.assertEqual((tree, lin), ref(data))
        self.assertEqual((int(size), name), (len(data), "-"))

    def test_missing_file_reported_others_printed(self):
        good, data = self.files["one"]
        missing = os.path.join(self.tmp.name, "does-not-exist")
        r = self.run_floe("hash", missing, good)
        self.assertEqual(r.returncode, 3)  # partial success (docs/cli.md)
        self.assertIn(missing, r.stderr.decode())
        self.assertIn("No such file", r.stderr.decode())
        out = r.stdout.decode().splitlines()
        self.assertEqual(len(out), 1)
        self.assertEqual(out[0].split()[0], ref(data)[0])
        rj = self.run_floe("--json", "hash", missing, good)
        self.assertEqual(rj.returncode, 3)
        doc = [json.loads(line) for line in rj.stdout.decode().splitlines()]
        self.assertIn("error", doc[0])
        self.assertEqual(doc[1]["tree_hash"], ref(data)[0])

    def test_unreadable_file(self):
        path = os.path.join(self.tmp.name, "noperm")
        with open(path, "wb") as f:
            f.write(b"x")
        os.chmod(path, 0)
        cmd = [FLOE, "hash", path]
        if os.geteuid() == 0:  # root reads anything: run floe as nobody
            if not os.path.exists("/usr/bin/setpriv"):
                self.skipTest("running as root without setpriv")
            os.chmod(self.tmp.name, 0o755)
            cmd = ["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] + cmd
        r = subprocess.run(cmd, capture_output=True, timeout=60)
        self.assertEqual(r.returncode, 1)
        self.assertIn("Permission denied", r.stderr.decode())
        self.assertIn(path, r.stderr.decode())

    def test_directory_is_an_error(self):
        r = self.run_floe("hash", self.tmp.name)
        self.assertEqual(r.returncode, 1)
        self.assertIn(self.tmp.name, r.stderr.decode())
        self.assertIn("Is a directory", r.stderr.decode())

    def test_usage_errors(self):
        r = self.run_floe("hash")
        self.assertEqual(r.returncode, 2)
        self.assertIn("no files given", r.stderr.decode())
        r = self.run_floe("hash", "--bogus", self.files["one"][0])
        self.assertEqual(r.returncode, 2)
        self.assertIn("unknown option '--bogus'", r.stderr.decode())
        r = self.run_floe("frobnicate")
        self.assertEqual(r.returncode, 2)
        self.assertIn("unknown command 'frobnicate'", r.stderr.decode())

    def test_portable_path_gives_same_output(self):
        paths = [p for p, _ in self.files.values()]
        a = self.run_floe("hash", *paths)
        b = subprocess.run([FLOE, "hash", *paths], capture_output=True,
                           env={**os.environ, "FLOE_SHA256": "portable"})
        self.assertEqual(a.returncode, 0)
        self.assertEqual(a.stdout, b.stdout)


if __name__ == "__main__":
    FLOE = sys.argv.pop(1)
    unittest.main(verbosity=2)
