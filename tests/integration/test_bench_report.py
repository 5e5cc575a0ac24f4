#!/usr/bin/env python3
"""floe bench --report in a real browser: the HTML page and the SVG file are opened by Debian's
chromium headless (tools/install-deps.sh installs it), which renders a screenshot and dumps
the DOM it built; the test asserts the three charts are there with a series for every run
of every concurrency setting, that the page has no script and loads nothing from outside, and that the screenshot
is a real image. Skipped (exit 77) only when no chromium is installed.

usage: test_bench_report.py FLOE_BINARY FLOE_VAULT_BINARY
"""
import os
import re
import shutil
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "helpers"))
import servers  # noqa: E402

FLOE = VAULT_BIN = None
CHROMIUM = None


def chromium(*args, home):
    """chromium headless with a profile, cache and crash directory of its own under home."""
    env = dict(os.environ, HOME=home, XDG_CONFIG_HOME=home, XDG_CACHE_HOME=home)
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
           "--disable-extensions", "--user-data-dir=" + os.path.join(home, "profile"),
           "--crash-dumps-dir=" + os.path.join(home, "crash"), *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=env)


class ReportTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = servers.tempdir("floe-bench-report-")
        cls.vault = servers.start_vault(VAULT_BIN)
        env = servers.client_env(cls.tmp)
        env["TMPDIR"] = cls.tmp
        cls.html = os.path.join(cls.tmp, "r.html")
        cls.svg = os.path.join(cls.tmp, "r.svg")
        cls.json = os.path.join(cls.tmp, "r.json")
        for path in (cls.html, cls.svg):
            r = subprocess.run([FLOE, "--endpoint-url", cls.vault.url, "--json", "bench", "small",
                                "--duration", "2", "--warmup", "0", "--concurrency", "1,2,4", "--runs", "2",
                                "--size", "1KiB", "--report", path], capture_output=True,
                               text=True, timeout=300, env=env)
            assert r.returncode == 0, r.stderr
        cls.home = servers.tempdir("floe-chromium-home-")

    @classmethod
    def tearDownClass(cls):
        cls.vault.stop()

    def check_dom(self, dom):
        for chart in ("throughput", "cdf", "sweep"):
            self.assertRegex(dom, r'<svg[^>]* id="%s"' % chart, chart)
        # one line per run of each concurrency setting in the two line charts (3 settings x
        # 2 runs x 2 charts), one bar per setting with a dot per run
        self.assertEqual(len(re.findall(r'<polyline class="series"', dom)), 12)
        for n in (1, 2, 4):
            for run in (1, 2):
                self.assertEqual(len(re.findall(r'<polyline class="series" data-concurrency="%d" '
                                                r'data-run="%d"' % (n, run), dom)), 2, (n, run))
                self.assertEqual(len(re.findall(r'<circle class="run" data-concurrency="%d" '
                                                r'data-run="%d"' % (n, run), dom)), 1, (n, run))
        self.assertEqual(len(re.findall(r'<rect class="bar', dom)), 3)
        self.assertEqual(len(re.findall(r'<rect class="bar best"', dom)), 1)
        for n in (1, 2, 4):
            self.assertIn("concurrency %d" % n, dom)
        # every series has points inside its chart
        for pts in re.findall(r'<polyline class="series"[^>]* points="([^"]*)"', dom):
            xy = [tuple(map(float, p.split(","))) for p in pts.split()]
            self.assertGreater(len(xy), 0)
            self.assertTrue(all(0 <= x <= 720 and 0 <= y <= 320 for x, y in xy), pts[:80])

    def test_html_page_in_chromium(self):
        with open(self.html) as f:
            page = f.read()
        # self-contained: no script, no link, no external reference of any kind
        self.assertNotIn("<script", page)
        self.assertNotIn("<link", page)
        self.assertIsNone(re.search(r'(src|href)=|url\(|@import|@font-face', page))
        r = chromium("--dump-dom", "file://" + self.html, home=self.home)
        self.assertEqual(r.returncode, 0, r.stderr[-2000:])
        self.check_dom(r.stdout)
        self.assertIn("<table>", r.stdout)
        self.assertRegex(r.stdout, r"Best: concurrency [124], [\d.]+ operations/s")
        png = os.path.join(self.tmp, "r.png")
        r = chromium("--screenshot=" + png, "--window-size=900,1400", "file://" + self.html,
                     home=self.home)
        self.assertEqual(r.returncode, 0, r.stderr[-2000:])
        with open(png, "rb") as f:
            data = f.read()
        self.assertEqual(data[:8], b"\x89PNG\r\n\x1a\n")
        self.assertGreater(len(data), 20000)  # three charts and a table, not a blank page

    def test_svg_file_in_chromium(self):
        r = chromium("--dump-dom", "file://" + self.svg, home=self.home)
        self.assertEqual(r.returncode, 0, r.stderr[-2000:])
        self.check_dom(r.stdout)


if __name__ == "__main__":
    FLOE, VAULT_BIN = sys.argv[1], sys.argv[2]
    CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
    if not CHROMIUM:
        print("test_bench_report: SKIP: chromium is not installed (bash tools/install-deps.sh "
              "installs it)")
        sys.exit(77)
    unittest.main(argv=[sys.argv[0]] + sys.argv[3:], verbosity=2)
