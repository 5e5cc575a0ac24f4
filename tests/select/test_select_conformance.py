#!/usr/bin/env python3
"""The select SQL conformance table (docs/select.md): every query runs through select_driver
(the core modules floe-vault uses) over generated CSV, and its output is compared byte for byte
with an independent reference: the rows are generated here as Python lists, written out in
each CSV dialect by this file, and each query's expected result is computed by a Python
function written for the test (not by parsing the SQL). Also every synchronous error and
runtime error with its message.

usage: test_select_conformance.py SELECT_DRIVER     (FLOE_TEST_SEED=N replays a run)
"""
import os
import random
import re
import subprocess
import sys

DRIVER = sys.argv[1]
SEED = int(os.environ.get("FLOE_TEST_SEED", random.randrange(1 << 30)))
print("# FLOE_TEST_SEED=%d" % SEED, flush=True)
rng = random.Random(SEED)

# ---------------------------------------------------------------- the data

FIRST = ["Ann", "Bob", "Zoë", "José", "Li", "O'Neil", 'Say "hi"', "a,b", "multi\nline", "",
         "  pad  ", "ümlaut", "日本", "Ed"]
CITIES = ["Oslo", "Paris", "New York", "São Paulo", "", "Tokyo", "x|y", "semi;colon"]


def gen_rows(n):
    rows = []
    for i in range(1, n + 1):
        age = rng.choice([str(rng.randrange(0, 100)), str(rng.randrange(0, 100)), "", "n/a",
                          " 42 ", "-7", "3.5"])
        score = rng.choice(["%d" % rng.randrange(-1000, 1000), "%.2f" % rng.uniform(-500, 500),
                            "1e3", "", "abc"])
        day = "20%02d-%02d-%02dT%02d:%02d:%02dZ" % (rng.randrange(0, 30), rng.randrange(1, 13),
                                                    rng.randrange(1, 29), rng.randrange(0, 24),
                                                    rng.randrange(0, 60), rng.randrange(0, 60))
        rows.append([str(i), rng.choice(FIRST), rng.choice(CITIES), age, score, day,
                     rng.choice(["true", "false", "TRUE", "x"])])
    return rows


HEADER = ["Id", "FirstName", "City", "Age", "Score", "Joined", "Flag"]


def write_csv(rows, fd=",", rd="\n", quote='"', esc='"', crlf=False, comments=None,
              always=False):
    """CSV text of rows: fields quoted when needed (or always), quotes escaped with esc."""
    out = []
    end = "\r\n" if crlf else rd
    for r in rows:
        cells = []
        for c in r:
            need = always or any(ch in c for ch in (fd, rd, quote, esc, "\r", "\n")) or \
                (comments is not None and c.startswith(comments) and not cells)
            if need:
                cells.append(quote + c.replace(quote, esc + quote) + quote)
            else:
                cells.append(c)
        out.append(fd.join(cells) + end)
        if comments is not None and rng.random() < 0.2:
            out.append(comments + " a comment, with \"quotes\" and " + fd + end)
    return "".join(out)


def out_csv(rows, fd=",", rd="\n", quote='"', esc='"', always=False):
    """What select writes: ASNEEDED quotes a field holding a delimiter, quote, escape, CR, LF."""
    lines = []
    for r in rows:
        cells = []
        for c in r:
            if always or any(ch in c for ch in (fd, rd, quote, esc, "\r", "\n")):
                cells.append(quote + c.replace(quote, esc + quote) + quote)
            else:
                cells.append(c)
        lines.append(fd.join(cells) + rd)
    return "".join(lines)


# ---------------------------------------------------------------- the reference semantics

INT_RE = re.compile(r"^[+-]?[0-9]+$")
NUM_RE = re.compile(r"^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$")


def num(s):
    """A CSV field read as a number, or None (the comparison is then NULL)."""
    if s is None:
        return None
    t = s.strip()
    if INT_RE.match(t):
        return int(t)
    if NUM_RE.match(t):
        return float(t)
    return None


def fmt(v):
    if v is None:
        return ""
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, float):
        if v == int(v) and abs(v) < 2 ** 53:
            return str(int(v))
        for p in range(1, 18):
            s = "%.*g" % (p, v)
            if float(s) == v:
                return s
    return str(v)


def col(r, i):
    return r[i] if i < len(r) else None


def cmp3(a, b, op):
    """Three-valued comparison of a CSV field a (or value) with literal b."""
    if a is None or b is None:
        return None
    if isinstance(b, (int, float)) and not isinstance(b, bool):
        a = num(a) if isinstance(a, str) else a
        if a is None:
            return None
    return {"=": a == b, "<>": a != b, "<": a < b, ">": a > b, "<=": a <= b, ">=": a >= b}[op]


def and3(a, b):
    if a is False or b is False:
        return False
    if a is None or b is None:
        return None
    return True


def or3(a, b):
    if a is True or b is True:
        return True
    if a is None or b is None:
        return None
    return False


def not3(a):
    return None if a is None else not a


def like(s, pat, esc=None):
    rx = ""
    i = 0
    while i < len(pat):
        c = pat[i]
        if esc and c == esc and i + 1 < len(pat):
            rx += re.escape(pat[i + 1])
            i += 2
            continue
        rx += ".*" if c == "%" else "." if c == "_" else re.escape(c)
        i += 1
    return re.fullmatch(rx, s, re.S) is not None


def cast_int(s):
    n = num(s)
    if n is None:
        raise ValueError(s)
    return int(n)


# ---------------------------------------------------------------- running

failures = []
count = 0


def run(sql, data, args=(), pieces=None):
    pieces = pieces or rng.choice([1, 1, 2, 3, 7])
    p = subprocess.run([DRIVER, *args, "--pieces", str(pieces), sql], input=data.encode(),
                       capture_output=True, timeout=60)
    return p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")


def check(name, sql, data, expected, args=()):
    global count
    count += 1
    rc, out, err = run(sql, data, args)
    if rc != 0 or out != expected:
        failures.append("%s: %s\n  rc=%d err=%s\n  got:      %r\n  expected: %r" %
                        (name, sql, rc, err.strip(), out[:400], expected[:400]))


def check_error(name, sql, data, rc_want, msg_want, args=(), out_want=None):
    global count
    count += 1
    rc, out, err = run(sql, data, args)
    if rc != rc_want or msg_want not in err or (out_want is not None and out != out_want):
        failures.append("%s: %s\n  rc=%d (want %d) err=%r (want %r) out=%r" %
                        (name, sql, rc, rc_want, err.strip(), msg_want, out[:200]))


def table(rows, data, args, prefix, where_items, select_items):
    """Every WHERE condition with its Python twin, crossed with a select list."""
    for i, (cond, pred) in enumerate(where_items):
        sel_sql, sel_fn = select_items[i % len(select_items)]
        sql = "SELECT %s FROM archive s WHERE %s" % (sel_sql, cond)
        exp = [sel_fn(r) for r in rows if pred(r) is True]
        check("%s where %d" % (prefix, i), sql, data, out_csv([[fmt(v) for v in e] for e in exp]),
              args)


rows = gen_rows(300)
plain = write_csv(rows)
with_header = write_csv([HEADER] + rows)

SEL = [
    ("s._1, s._2", lambda r: [r[0], r[1]]),
    ("_1", lambda r: [r[0]]),
    ("s._3, s._1", lambda r: [r[2], r[0]]),
    ("UPPER(_2), CHAR_LENGTH(_2)", lambda r: [
        "".join(c.upper() if ord(c) < 128 else c for c in r[1]), len(r[1])]),
]

WHERE = []
for op in ["=", "<>", "<", ">", "<=", ">="]:
    for k in [0, 42, 50, -7, 3.5]:
        WHERE.append(("s._4 %s %s" % (op, k), lambda r, op=op, k=k: cmp3(r[3], k, op)))
for op in ["=", "<>", "<", ">="]:
    for s_ in ["Oslo", "Paris", "", "São Paulo"]:
        WHERE.append(("_3 %s '%s'" % (op, s_), lambda r, op=op, s_=s_: cmp3(r[2], s_, op)))
for lo, hi in [(10, 20), (0, 99), (50, 10), (-10, 0)]:
    WHERE.append(("_4 BETWEEN %d AND %d" % (lo, hi),
                  lambda r, lo=lo, hi=hi: and3(cmp3(r[3], lo, ">="), cmp3(r[3], hi, "<="))))
    WHERE.append(("_4 NOT BETWEEN %d AND %d" % (lo, hi),
                  lambda r, lo=lo, hi=hi: not3(and3(cmp3(r[3], lo, ">="), cmp3(r[3], hi, "<=")))))
for items in [["Oslo", "Tokyo"], ["", "x|y"], ["nowhere"]]:
    lit = ", ".join("'%s'" % x for x in items)
    WHERE.append(("_3 IN (%s)" % lit, lambda r, items=items: r[2] in items))
    WHERE.append(("_3 NOT IN (%s)" % lit, lambda r, items=items: r[2] not in items))
for nums in [[1, 2, 3], [42, 7]]:
    lit = ", ".join(str(x) for x in nums)

    def inpred(r, nums=nums):
        n = num(r[3])
        return None if n is None else n in nums
    WHERE.append(("_4 IN (%s)" % lit, inpred))
for pat, esc in [("A%", None), ("%o%", None), ("_o_", None), ("%!%%", "!"), ("", None),
                 ("Z_ë", None), ("%\n%", None), ("%,%", None), ("J%é", None), ("a!_b", "!")]:
    sql_pat = pat.replace("'", "''")
    cond = "_2 LIKE '%s'" % sql_pat + (" ESCAPE '%s'" % esc if esc else "")
    WHERE.append((cond, lambda r, pat=pat, esc=esc: like(r[1], pat, esc)))
    WHERE.append(("NOT " + cond, lambda r, pat=pat, esc=esc: not like(r[1], pat, esc)))
WHERE += [
    ("_4 > 10 AND _5 < 0", lambda r: and3(cmp3(r[3], 10, ">"), cmp3(r[4], 0, "<"))),
    ("_4 > 10 OR _5 < 0", lambda r: or3(cmp3(r[3], 10, ">"), cmp3(r[4], 0, "<"))),
    ("NOT (_4 > 10)", lambda r: not3(cmp3(r[3], 10, ">"))),
    ("NOT (_4 > 10) OR _3 = 'Oslo'", lambda r: or3(not3(cmp3(r[3], 10, ">")), r[2] == "Oslo")),
    ("_4 > 10 AND (_3 = 'Oslo' OR _3 = 'Paris')",
     lambda r: and3(cmp3(r[3], 10, ">"), r[2] in ("Oslo", "Paris"))),
    ("_8 IS NULL", lambda r: True),
    ("_8 IS NOT NULL", lambda r: False),
    ("_2 IS NULL", lambda r: False),
    ("_2 = ''", lambda r: r[1] == ""),
    ("COALESCE(_9, _3) = 'Oslo'", lambda r: r[2] == "Oslo"),
    ("NULLIF(_3, 'Oslo') IS NULL", lambda r: r[2] == "Oslo"),
    ("LOWER(_7) = 'true'", lambda r: r[6].lower() == "true"),
    ("UPPER(_3) = 'OSLO'", lambda r: r[2] == "Oslo"),
    ("CHAR_LENGTH(_2) > 3", lambda r: len(r[1]) > 3),
    ("CHARACTER_LENGTH(_2) = 2", lambda r: len(r[1]) == 2),
    ("SUBSTRING(_3, 1, 2) = 'Os'", lambda r: r[2][:2] == "Os"),
    ("SUBSTRING(_3 FROM 2) = 'aris'", lambda r: r[2][1:] == "aris"),
    ("SUBSTRING(_3 FROM 2 FOR 2) = 'ar'", lambda r: r[2][1:3] == "ar"),
    ("TRIM(_2) = 'pad'", lambda r: r[1].strip(" ") == "pad"),
    ("TRIM(LEADING FROM _2) = 'pad  '", lambda r: r[1].lstrip(" ") == "pad  "),
    ("TRIM(TRAILING FROM _2) = '  pad'", lambda r: r[1].rstrip(" ") == "  pad"),
    ("_4 + 1 > 50", lambda r: cmp3(r[3], 49, ">") if num(r[3]) is not None else None),
    ("_4 * 2 = 84", lambda r: None if num(r[3]) is None else num(r[3]) * 2 == 84),
    ("_1 % 7 = 0", lambda r: int(r[0]) % 7 == 0),
    ("_1 / 10 = 3", lambda r: int(r[0]) // 10 == 3),
    ("_1 - 100 < 0", lambda r: int(r[0]) < 100),
    ("-_1 < -250", lambda r: -int(r[0]) < -250),
    ("_2 || _3 = 'AnnOslo'", lambda r: r[1] + r[2] == "AnnOslo"),
    ("CAST(_1 AS INT) BETWEEN 100 AND 120", lambda r: 100 <= int(r[0]) <= 120),
    ("CAST(_1 AS FLOAT) > 299.5", lambda r: int(r[0]) > 299.5),
    ("CAST(_1 AS DECIMAL) < 3", lambda r: int(r[0]) < 3),
    ("CAST(_1 AS STRING) = '17'", lambda r: r[0] == "17"),
    ("EXTRACT(YEAR FROM CAST(_6 AS TIMESTAMP)) = 2010",
     lambda r: r[5].startswith("2010-")),
    ("EXTRACT(MONTH FROM TO_TIMESTAMP(_6)) = 2", lambda r: r[5][5:7] == "02"),
    ("CAST(_6 AS TIMESTAMP) < CAST('2005-01-01T' AS TIMESTAMP)", lambda r: r[5] < "2005-01-01"),
    ("TO_STRING(TO_TIMESTAMP(_6), 'yyyy') = '2003'", lambda r: r[5][:4] == "2003"),
    ("DATE_DIFF(year, TO_TIMESTAMP('2000-01-01T'), TO_TIMESTAMP(_6)) >= 25",
     lambda r: int(r[5][:4]) >= 2025),
    ("_7 = true", lambda r: True if r[6].lower() == "true" else (False if r[6].lower() == "false" else None)),
    ("TRUE AND _1 = '5'", lambda r: r[0] == "5"),
    ("FALSE OR _1 = '6'", lambda r: r[0] == "6"),
    ("NULL OR _1 = '7'", lambda r: True if r[0] == "7" else None),
    ("NULL AND _1 = '7'", lambda r: False if r[0] != "7" else None),
]
table(rows, plain, [], "plain", WHERE, SEL)

# positions and header names, the reference's three examples
check("example 1", "SELECT * FROM archive", plain, out_csv(rows))
check("example 1, OBJECT", "select * from OBJECT", plain, out_csv(rows))
check("example 2", "SELECT s._1, s._2 FROM archive s WHERE s._3 > 100",
      write_csv([[r[0], r[1], r[4]] for r in rows]),
      out_csv([[r[0], r[1]] for r in rows if cmp3(r[4], 100, ">") is True]))
check("example 3", "SELECT s.Id, s.FirstName, s.SSN FROM archive s",
      write_csv([["Id", "FirstName", "SSN"]] + [[r[0], r[1], r[3]] for r in rows]),
      out_csv([[r[0], r[1], r[3]] for r in rows]), ["--header", "use"])
check("header use, case-insensitive", "SELECT id, CITY FROM archive WHERE age > 50",
      with_header, out_csv([[r[0], r[2]] for r in rows if cmp3(r[3], 50, ">") is True]),
      ["--header", "use"])
check("header use, quoted", 'SELECT "FirstName" FROM archive AS t WHERE t."Id" = \'3\'',
      with_header, out_csv([[rows[2][1]]]), ["--header", "use"])
check("header use, star", "SELECT * FROM archive", with_header, out_csv(rows),
      ["--header", "use"])
check("header ignore", "SELECT _1 FROM archive", with_header, out_csv([[r[0]] for r in rows]),
      ["--header", "ignore"])
check("header none", "SELECT _1 FROM archive", with_header,
      out_csv([["Id"]] + [[r[0]] for r in rows]), ["--header", "none"])
check("header use, positions", "SELECT _2 FROM archive", with_header,
      out_csv([[r[1]] for r in rows]), ["--header", "use"])
check("alias star", "SELECT s.* FROM archive s", plain, out_csv(rows))
check("projection of literals", "SELECT 1, 'x', 2.5, 1e3, TRUE, NULL, -3 FROM archive WHERE _1 = '1'",
      plain, "1,x,2.5,1000,true,,-3\n")
check("arith types", "SELECT 7 / 2, 7 % 3, 7.0 / 2, 1 + 2 * 3, (1 + 2) * 3, 2 - -2 FROM archive WHERE _1 = '1'",
      plain, "3,1,3.5,7,9,4\n")
check("concat", "SELECT _1 || '-' || _3 FROM archive WHERE _1 < 4", plain,
      out_csv([[r[0] + "-" + r[2]] for r in rows[:3]]))
check("missing column is null", "SELECT _1, _9, COALESCE(_9, 'none') FROM archive WHERE _1 = '2'",
      plain, "2,,none\n")
check("keywords any case", "sElEcT _1 FrOm ArChIvE wHeRe _1 = '9'", plain, "9\n")
check("comment and semicolon", "SELECT _1 FROM archive -- the first column\n WHERE _1 = '9';",
      plain, "9\n")
check("timestamps", "SELECT TO_TIMESTAMP('2007-02-23T12:14:33.079-08:00'), "
      "CAST('2007T' AS TIMESTAMP), DATE_ADD(day, 1, TO_TIMESTAMP('2007-12-31T')), "
      "DATE_ADD(month, 1, TO_TIMESTAMP('2007-01-31T')), DATE_ADD(hour, -1, TO_TIMESTAMP('2007-01-01T00:30Z')), "
      "DATE_DIFF(month, TO_TIMESTAMP('2007-01-31T'), TO_TIMESTAMP('2007-03-30T')), "
      "DATE_DIFF(second, TO_TIMESTAMP('2007-01-01T00:00Z'), TO_TIMESTAMP('2007-01-01T01:00Z')), "
      "EXTRACT(TIMEZONE_HOUR FROM TO_TIMESTAMP('2007-02-23T12:14:33-08:30')), "
      "EXTRACT(TIMEZONE_MINUTE FROM TO_TIMESTAMP('2007-02-23T12:14:33-08:30')), "
      "TO_STRING(TO_TIMESTAMP('2007-02-03T04:05:06.7Z'), 'MMMM d, yyyy h:mm:ss a SSS XXX') "
      "FROM archive WHERE _1 = '1'", plain,
      "2007-02-23T12:14:33.079-08:00,2007T,2008-01-01T,2007-02-28T,2006-12-31T23:30Z,1,3600,"
      "-8,-30,\"February 3, 2007 4:05:06 AM 700 Z\"\n")
check("utcnow", "SELECT UTCNOW() FROM archive WHERE _1 = '1'", plain,
      "2023-11-14T22:13:20.000Z\n")
check("casts", "SELECT CAST('12.7' AS INT), CAST(' 5 ' AS INTEGER), CAST('true' AS BOOL), "
      "CAST(0 AS BOOLEAN), CAST('1.50' AS DECIMAL), CAST(3 AS FLOAT), CAST(2.5 AS STRING), "
      "CAST(NULL AS INT), CAST('x' AS STRING) FROM archive WHERE _1 = '1'", plain,
      "12,5,true,false,1.5,3,2.5,,x\n")

# dialects: the same rows in other characters, read back
small = gen_rows(60)
DIALECTS = [
    ("tab", dict(fd="\t"), ["--fd", "\\t"]),
    ("pipe-semicolon", dict(fd="|", rd=";"), ["--fd", "|", "--rd", ";"]),
    ("single quote", dict(quote="'", esc="'"), ["--quote", "'", "--esc", "'"]),
    ("backslash escape", dict(esc="\\"), ["--esc", "\\"]),
    ("crlf", dict(crlf=True), []),
    ("comments", dict(comments="#"), ["--comments", "#"]),
    ("always quoted input", dict(always=True), []),
]
for name, kw, args in DIALECTS:
    data = write_csv(small, **kw)
    check("dialect %s star" % name, "SELECT * FROM archive", data, out_csv(small), args)
    check("dialect %s where" % name, "SELECT _2, _3 FROM archive WHERE _4 >= 30", data,
          out_csv([[r[1], r[2]] for r in small if cmp3(r[3], 30, ">=") is True]), args)
OUT_DIALECTS = [
    ("always", dict(always=True), ["--always"]),
    ("tab out", dict(fd="\t"), ["--ofd", "\\t"]),
    ("pipe-semicolon out", dict(fd="|", rd=";"), ["--ofd", "|", "--ord", ";"]),
    ("quote out", dict(quote="'", esc="\\"), ["--oquote", "'", "--oesc", "\\"]),
]
for name, kw, args in OUT_DIALECTS:
    check("output %s" % name, "SELECT _1, _2, _3 FROM archive", plain,
          out_csv([r[:3] for r in rows], **kw), args)

# odd inputs
check("empty input", "SELECT * FROM archive", "", "")
check("no final newline", "SELECT _2 FROM archive", "a,b\nc,d", "b\nd\n")
check("blank lines skipped", "SELECT _1 FROM archive", "a\n\n\nb\n", "a\nb\n")
check("quoted empty", "SELECT _1, _2 FROM archive WHERE _1 = ''", '"",x\n', ",x\n")
check("unclosed quote", "SELECT _1 FROM archive", 'a\n"b,c\nd', 'a\n"b,c\nd"\n')
check("quote mid-field literal", "SELECT _1 FROM archive", 'ab"c,d\n', '"ab""c"\n')
check("after closing quote", "SELECT _1 FROM archive", '"ab"cd,e\n', "abcd\n")
check("lone cr kept", "SELECT _1 FROM archive", "a\rb,c\n", '"a\rb"\n')

# synchronous errors: exit 1 and the message naming the problem and its position
ERRORS = [
    ("SELECT _1 FROM archive LIMIT 5", "LIMIT is not supported by select jobs at position 24"),
    ("SELECT _1 FROM archive GROUP BY _1", "GROUP BY is not supported by select jobs at position 24"),
    ("SELECT _1 FROM archive ORDER BY _1", "ORDER BY is not supported by select jobs at position 24"),
    ("SELECT DISTINCT _1 FROM archive", "DISTINCT is not supported by select jobs at position 8"),
    ("SELECT _1 FROM archive a JOIN archive b", "JOIN is not supported by select jobs at position 26"),
    ("SELECT _1 FROM archive a, archive b", "JOIN is not supported by select jobs (one source only) at position 25"),
    ("SELECT COUNT(*) FROM archive", "aggregate function COUNT is not supported by select jobs at position 8"),
    ("SELECT SUM(_1) FROM archive", "aggregate function SUM is not supported by select jobs at position 8"),
    ("SELECT avg(_1) FROM archive", "aggregate function AVG is not supported"),
    ("SELECT MAX(_1) FROM archive", "aggregate function MAX is not supported"),
    ("SELECT MIN(_1) FROM archive", "aggregate function MIN is not supported"),
    ("SELECT _1 FROM archive WHERE", "expected an expression, found end of expression at position 29"),
    ("SELECT FROM archive", "expected an expression, found 'FROM' at position 8"),
    ("SELECT _1 archive", "expected FROM after the select list, found 'archive' at position 11"),
    ("SELECT _1 FROM table1", "expected ARCHIVE or OBJECT after FROM, found 'table1' at position 16"),
    ("UPDATE archive", "the expression must start with SELECT, found 'UPDATE' at position 1"),
    ("", "the expression must start with SELECT, found end of expression at position 1"),
    ("SELECT 'abc FROM archive", "unterminated string literal at position 8"),
    ("SELECT \"abc FROM archive", "unterminated quoted identifier at position 8"),
    ("SELECT _1 FROM archive WHERE _1 = 1 = 2", "comparisons do not chain"),
    ("SELECT _0 FROM archive", "column position _0 is out of range"),
    ("SELECT x._1 FROM archive s", "unknown alias 'x' (the FROM clause names 's') at position 8"),
    ("SELECT x._1 FROM archive", "unknown alias 'x' (the FROM clause names no alias"),
    ("SELECT FOO(_1) FROM archive", "unknown function FOO at position 8"),
    ("SELECT CAST(_1 AS BLOB) FROM archive", "unknown CAST type 'BLOB'"),
    ("SELECT CAST(_1 INT) FROM archive", "expected AS in CAST, found 'INT' at position 16"),
    ("SELECT NULLIF(_1) FROM archive", "NULLIF takes 2 arguments, not 1 at position 8"),
    ("SELECT SUBSTRING(_1) FROM archive", "expected ',' in SUBSTRING"),
    ("SELECT DATE_ADD(week, 1, _1) FROM archive", "DATE_ADD needs a date part"),
    ("SELECT EXTRACT(YEAR _1) FROM archive", "expected FROM in EXTRACT"),
    ("SELECT _1 FROM archive WHERE _1 IS 3", "expected NULL after IS, found '3'"),
    ("SELECT _1 FROM archive WHERE _1 NOT 3", "expected BETWEEN, IN or LIKE after NOT"),
    ("SELECT _1 FROM archive WHERE _1 BETWEEN 1 OR 2", "expected AND in BETWEEN"),
    ("SELECT _1 FROM archive WHERE _1 IN (SELECT _1 FROM archive)", "subqueries are not supported"),
    ("SELECT _1, * FROM archive", "'*' is only allowed alone as the select list at position 12"),
    ("SELECT _1 FROM archive WHERE _1 = 1 extra", "unexpected 'extra' after the end of the query at position 37"),
    ("SELECT _1 FROM archive WHERE _1 = #", "unexpected character '#' at position 35"),
    ("SELECT 12abc FROM archive", "unexpected 'a' after number at position 10"),
    ("SELECT CASE WHEN _1 THEN 1 END FROM archive", "CASE is not supported by select jobs at position 8"),
    ("SELECT _1 FROM archive WHERE _1 IS MISSING", "IS MISSING is not supported"),
]
for sql, msg in ERRORS:
    check_error("sync error", sql, plain, 1, msg)
check_error("mix names and positions", "SELECT s.Id, s._2 FROM archive s", with_header, 1,
            "a query may not mix header names and positions (_1, _2, ...) at position 14",
            ["--header", "use"])
check_error("unknown column", "SELECT s.Nope FROM archive s", with_header, 1,
            "unknown column name 'Nope' at position 8 (not in the header)", ["--header", "use"])
check_error("quoted name is case-sensitive", 'SELECT "id" FROM archive', with_header, 1,
            "unknown column name 'id' at position 8", ["--header", "use"])
check_error("names need USE", "SELECT Id FROM archive", with_header, 1,
            "column name 'Id' at position 8 needs FileHeaderInfo USE", ["--header", "ignore"])

# the evaluator's fast paths (src/core/seleval.c: a WHERE "[CAST(col AS INT)] OP n" decided on
# a plain-integer field, a select list of columns written straight out) against the reference,
# over fields on both sides of the plain-integer rule: signs, leading zeros, spaces, 18 and 19
# digits, decimals, text, empty and missing fields, quoted and CRLF records (the CSV slow path)
fast_fields = ["12", "5", "4", " 12", "+5", "-0", "-7", "007", "123456789012345678",
               "1234567890123456789", "-999999999999999999", "1.5", "abc", "", None]
fast_rows = [["r%d" % i, f, "x%d" % i] if f is not None else ["r%d" % i]
             for i, f in enumerate(fast_fields)]
fast_data = "".join(",".join(r) + ("\r\n" if i % 5 == 3 else "\n") if i % 4 != 2 else
                    '"%s",%s\n' % (r[0], ",".join(r[1:])) for i, r in enumerate(fast_rows))
for op in ["=", "<>", "<", ">", "<=", ">="]:
    for lit in [5, -7, 12, 0]:
        want = "".join("%s,%s\n" % (r[0], r[2] if len(r) > 2 else "") for r in fast_rows
                       if cmp3(col(r, 1), lit, op))
        check("fast where %s %d" % (op, lit), "SELECT _1, _3 FROM archive WHERE _2 %s %d" % (op, lit),
              fast_data, want)
cast_rows = [r for r in fast_rows if len(r) > 1 and num(r[1]) is not None]
cast_data = "".join(",".join(r) + "\n" for r in cast_rows)
for op in [">", "<=", "<>"]:
    want = "".join("%s,%s\n" % (r[0], r[2]) for r in cast_rows if cmp3(cast_int(r[1]), 5, op))
    check("fast cast where %s" % op, "SELECT _1, _3 FROM archive WHERE CAST(_2 AS INT) %s 5" % op,
          cast_data, want)
check("fast columns, missing ones empty", "SELECT _3, _1, _9 FROM archive", fast_data,
      "".join("%s,%s,\n" % (r[2] if len(r) > 2 else "", r[0]) for r in fast_rows))

# runtime errors: exit 3, the rows before the failing record written, the message
check_error("cast fails", "SELECT CAST(_2 AS INT) FROM archive", "a,1\nb,2\nc,x\nd,4\n", 3,
            "CAST of 'x' to INT failed at position 8 (record 3)", out_want="1\n2\n")
check_error("cast of empty fails", "SELECT _1 FROM archive WHERE CAST(_2 AS INT) > 1", "a,\n", 3,
            "CAST of '' to INT failed at position 30 (record 1)")
check_error("cast to timestamp fails", "SELECT CAST(_1 AS TIMESTAMP) FROM archive", "2020-13-01T\n",
            3, "CAST of '2020-13-01T' to TIMESTAMP failed")
check_error("to_timestamp fails", "SELECT TO_TIMESTAMP(_1) FROM archive", "yesterday\n", 3,
            "TO_TIMESTAMP of 'yesterday' failed")
check_error("division by zero", "SELECT _1 / _2 FROM archive", "4,2\n1,0\n", 3,
            "division by zero at position 11 (record 2)", out_want="2\n")
check_error("overflow", "SELECT _1 * 2 FROM archive", "9223372036854775807\n", 3,
            "integer overflow at position 11")
check_error("where not boolean", "SELECT _1 FROM archive WHERE 1 + 1", "a\n", 3,
            "WHERE needs a boolean, not INT")
check_error("incomparable", "SELECT _1 FROM archive WHERE TRUE > 1", "a\n", 3,
            "cannot compare BOOL with INT")
check_error("like escape", "SELECT _1 FROM archive WHERE _1 LIKE 'a' ESCAPE 'xy'", "a\n", 3,
            "the LIKE escape must be one character, not 2")
check_error("record too long", "SELECT _1 FROM archive", "a\n" + "b" * (1 << 20 + 1) + "\nc\n", 3,
            "record 2 is longer than 1048576 bytes")

print("%d cases, %d failed" % (count, len(failures)))
for f in failures:
    print("FAIL", f)
sys.exit(1 if failures else 0)
