#!/usr/bin/env python3
"""check_man.py FLOE FLOE_VAULT MAN_DIR - the manual pages agree with the --help texts.

man/floe.1 and man/floe-vault.8 are hand-written roff, the one source of each page; this test
keeps them honest against the programs (CTest install_man_sync):
  - `floe --help` lists the same commands as floe.1 has `.SS "floe CMD"` sections, and the same
    options as its GLOBAL OPTIONS section;
  - for each section "floe CMD" (and "floe CMD SUB" for the groups a --help names, such as
    `floe vault policy`), the options of `floe CMD [SUB] --help` and of the section are the same
    (the section may also name global options), and so are the subcommands of its usage lines;
  - the options of `floe-vault --help` and of floe-vault.8 are the same;
  - both pages carry the version the programs print, and groff finds nothing to warn about.
A failure names the page, the section and the option: change the page (or the --help text) so
they agree.
"""
import os
import re
import shutil
import subprocess
import sys

OPT_RE = re.compile(r"(?<![\w-])(--[a-z][a-z0-9-]*[a-z0-9]|-[a-zA-Z])(?![\w-])")
ALWAYS_ALLOWED = {"--help", "-h", "--version"}  # in a page without being in the usage text
ALTERNATING = {"BR", "RB", "BI", "IB", "IR", "RI"}

failures = []


def fail(msg):
    failures.append(msg)


def run_help(argv):
    p = subprocess.run(argv + ["--help"], capture_output=True, text=True, timeout=30)
    if p.returncode != 0:
        fail(f"`{' '.join(argv)} --help` exited {p.returncode}: {p.stderr.strip()}")
    return p.stdout


def roff_to_text(line):
    """A roff source line as plain words: macros' arguments joined, escapes removed."""
    line = line.replace("\\-", "-").replace("\\(em", "-").replace("\\(en", "-").replace("\\e", "\\")
    line = re.sub(r"\\f(\(..|\[[^\]]*\]|.)", "", line)  # font changes
    line = re.sub(r"\\[&/,]", "", line)
    m = re.match(r"^\.([A-Za-z]+)\s*(.*)$", line)
    if not m:
        return line
    macro, rest = m.group(1), m.group(2)
    args = [a[1:-1] if a.startswith('"') else a for a in re.findall(r'"[^"]*"|\S+', rest)]
    if macro in ALTERNATING:
        return "".join(args)
    if macro in ("B", "I", "SM", "SB"):
        return " ".join(args)
    return ""  # .TP .PP .br .nf ... carry no text (.SH/.SS titles are read separately)


def read_page(path):
    """{section title: text}; .SH titles as is, .SS titles too (e.g. 'floe vault policy')."""
    sections, title, th = {}, None, None
    with open(path, encoding="utf-8") as f:
        for raw in f:
            raw = raw.rstrip("\n")
            if raw.startswith('.\\"'):
                continue
            m = re.match(r'^\.(SH|SS)\s+"?([^"]*)"?\s*$', raw)
            if m:
                title = m.group(2).replace("\\-", "-").strip()
                sections.setdefault(title, "")
                continue
            if raw.startswith(".TH "):
                th = raw
                continue
            if title is not None:
                sections[title] += roff_to_text(raw) + "\n"
    return th, sections


def options(text):
    return set(OPT_RE.findall(text))


def verbs(text, words):
    """Subcommands on usage lines 'floe [--json] CMD [SUB] verb|verb ...'."""
    prefix = r"floe (?:\[[^\]]*\] )?" + r" ".join(re.escape(w) for w in words)
    found = set()
    for m in re.finditer(prefix + r" ([a-z][a-z-]*(?:\|[a-z][a-z-]*)*)", text):
        found.update(m.group(1).split("|"))
    return found


def compare(page, where, helped, documented, allowed_extra=frozenset()):
    for o in sorted(helped - documented - ALWAYS_ALLOWED):
        fail(f"{page}: {where}: {o} is in --help but not in the page")
    for o in sorted(documented - helped - ALWAYS_ALLOWED - allowed_extra):
        fail(f"{page}: {where}: {o} is in the page but not in --help")


def lint(path):
    if not shutil.which("groff"):
        print(f"check_man: groff not installed; {path} not linted")
        return
    p = subprocess.run(["groff", "-man", "-ww", "-z", "-Tutf8", path], capture_output=True,
                       text=True, timeout=60)
    if p.returncode != 0 or p.stderr.strip():
        fail(f"{path}: groff warns: {p.stderr.strip()}")


def check_version(page, th, binary):
    out = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=30).stdout
    version = out.split()[-1] if out.split() else "?"
    if th is None or f'"floe {version}"' not in th:
        fail(f"{page}: .TH does not say \"floe {version}\" (`{os.path.basename(binary)} "
             f"--version` prints {out.strip()!r})")


def check_floe(floe, page):
    th, sections = read_page(page)
    check_version(page, th, floe)
    top = run_help([floe])
    commands = re.findall(r"^  ([a-z][a-z-]*)\s{2,}", top, re.M)
    if not commands:
        fail(f"`floe --help` lists no commands (format changed?): {top!r}")
    global_opts = options(sections.get("GLOBAL OPTIONS", ""))
    compare(page, "GLOBAL OPTIONS", options(top.split("\ncommands:")[0]), global_opts)

    cmd_sections = {t: body for t, body in sections.items() if t.startswith("floe ")}
    documented_cmds = {t.split()[1] for t in cmd_sections}
    for c in sorted(set(commands) - documented_cmds):
        fail(f'{page}: no .SS "floe {c}" section for the command `floe {c}`')
    for c in sorted(documented_cmds - set(commands)):
        fail(f'{page}: .SS "floe {c}" documents a command `floe --help` does not list')

    wanted = {("floe " + c) for c in commands}
    helps = {}
    for c in commands:
        text = run_help([floe, c])
        helps["floe " + c] = text
        # groups with a --help of their own: "'floe vault policy|lock|tag --help' ..."
        for m in re.finditer(r"'floe " + re.escape(c) + r" ([a-z|]+) --help'", text):
            for sub in m.group(1).split("|"):
                wanted.add(f"floe {c} {sub}")
    for title in sorted(set(cmd_sections) | wanted):
        if title not in cmd_sections:
            fail(f'{page}: no .SS "{title}" section (`{title} --help` exists)')
            continue
        words = title.split()[1:]
        if words[0] not in commands:
            continue  # reported above
        text = helps.get(title)
        if text is None:
            text = run_help([floe] + words)
            if not re.search(r"\b" + re.escape(title) + r"\b", text.splitlines()[0] if text else ""):
                fail(f'{page}: .SS "{title}": `{title} --help` is not about {title}: {text!r}')
                continue
        body = cmd_sections[title]
        compare(page, f'section "{title}"', options(text), options(body), global_opts)
        hv, mv = verbs(text, words), verbs(body, words)
        subgroups = {t.split()[2] for t in cmd_sections if len(t.split()) == 3 and
                     t.split()[1] == words[0]} if len(words) == 1 else set()
        for v in sorted(hv - mv - subgroups):
            fail(f'{page}: section "{title}": subcommand `{title} {v}` is in --help but not in '
                 f"the page's usage lines")
        for v in sorted(mv - hv - subgroups):
            fail(f'{page}: section "{title}": `{title} {v}` is in the page but not in --help')
    lint(page)


def check_vault(vault, page):
    th, sections = read_page(page)
    check_version(page, th, vault)
    text = run_help([vault])
    compare(page, "OPTIONS", options(text), options(sections.get("OPTIONS", "")))
    compare(page, "SYNOPSIS", options(text), options(sections.get("SYNOPSIS", "")))
    lint(page)


def main():
    if len(sys.argv) != 4:
        print("usage: check_man.py FLOE FLOE_VAULT MAN_DIR", file=sys.stderr)
        return 2
    floe, vault, man_dir = sys.argv[1:]
    check_floe(floe, os.path.join(man_dir, "floe.1"))
    check_vault(vault, os.path.join(man_dir, "floe-vault.8"))
    for f in failures:
        print("check_man: " + f, file=sys.stderr)
    if failures:
        print(f"check_man: {len(failures)} difference(s) between the manual pages and --help",
              file=sys.stderr)
        return 1
    print("check_man: floe.1 and floe-vault.8 agree with --help")
    return 0


if __name__ == "__main__":
    sys.exit(main())
