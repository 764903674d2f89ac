#!/usr/bin/env python3
"""Checks what tools/demo.sh printed (the README's first command), step by step.

    tools/ci/check-demo.py DEMO_OUTPUT      (stdout and stderr of tools/demo.sh)

tools/test.sh runs the demo and then this. Each "== N. ..." step of the demo must show the outcome
the README promises; a reply the demo prints whole (step 8) is parsed as JSON. Exit status 0 when
every step shows it, 1 otherwise with one line per missing outcome.
"""
import json
import re
import sys

ANSI = re.compile(r"\x1b\[[0-9;]*m")


def sections(text):
    """{step number (0 = before step 1, 'done'): text of that step}."""
    out = {0: ""}
    key = 0
    for line in text.splitlines():
        m = re.match(r"== (\d+)\. ", line)
        if m:
            key = int(m.group(1))
            out[key] = ""
            continue
        if line.startswith("== done"):
            key = "done"
            out[key] = ""
            continue
        out[key] += line + "\n"
    return out


def values(section, key):
    """Values of the `"key": value` lines the demo's show() prints (JSON-encoded values)."""
    found = []
    for m in re.finditer(r'^  "%s": (.*)$' % re.escape(key), section, re.M):
        found.append(json.loads(m.group(1)))
    return found


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    with open(sys.argv[1], encoding="utf-8", errors="replace") as f:
        s = sections(ANSI.sub("", f.read()))
    errors = []

    def expect(cond, what):
        if not cond:
            errors.append(what)

    def step(n):
        if n not in s:
            errors.append("step %s is missing" % n)
            return ""
        return s[n]

    expect('"pdao-standalone ready"' in s[0], "pdao-standalone did not log that it is ready")
    one = step(1)
    expect(values(one, "id") and values(one, "id")[0].startswith("res-"),
           "1: RegisterResource returned no resource id")
    expect("GRADE_IMPORTANT" in values(one, "grade"),
           "1: the resource is not graded IMPORTANT (its highest field grade, rule 2)")
    expect("PERMISSION_DENIED" in step(2), "2: the operator's RegisterResource was not refused")
    expect(values(step(3), "state") == ["REGISTRATION_STATE_SUBMITTED"],
           "3: the registration is not SUBMITTED")
    expect(values(step(4), "state") == ["REGISTRATION_STATE_ACCEPTED", "REGISTRATION_STATE_REVIEWED",
                                        "REGISTRATION_STATE_PUBLICITY"],
           "4: the registration did not go ACCEPTED, REVIEWED, PUBLICITY")
    expect(values(step(4), "publicity_end"), "4: no publicity end date")
    expect("FAILED_PRECONDITION" in step(5) and "rule 6" in step(5),
           "5: coding before the publicity ended was not refused with rule 6")
    expect(values(step(6), "now"), "6: the dev clock did not report the new time")
    seven = step(7)
    expect(values(seven, "state") == ["REGISTRATION_STATE_CODED"], "7: the registration is not CODED")
    codes = values(seven, "query_code")
    expect(codes and codes[0].startswith("DJ-"), "7: no query code was issued")
    try:
        notice = json.loads(step(8))["notice"]
        expect(codes and notice.get("query_code") == codes[0],
               "8: the code lookup returned another registration")
        expect(notice.get("state") == "REGISTRATION_STATE_CODED", "8: the notice is not CODED")
        public = {"registration_id", "type", "subject_kind", "subject_name", "applicant_org",
                  "state", "publicity_start", "publicity_end", "query_code", "valid_until"}
        expect(set(notice) <= public,
               "8: the notice shows more than the publicity fields: %s" % sorted(set(notice) - public))
    except (ValueError, KeyError, TypeError) as e:
        errors.append("8: the code lookup did not print a JSON notice (%s)" % e)
    nine = step(9)
    expect(values(nine, "eligible") == [True], "9: the coded resource is not eligible")
    expect(values(nine, "grade") == ["GRADE_IMPORTANT"], "9: CheckEligibility lost the grade")
    ten = step(10)
    m = re.search(r"^(\d+) log entries about registration", ten, re.M)
    expect(m and int(m.group(1)) >= 5, "10: fewer than 5 audit log entries about the registration")
    sizes = values(ten, "tree_size")
    expect(sizes and int(sizes[0]) >= 5, "10: the signed checkpoint covers fewer than 5 entries")
    expect(re.search(r"^OK: checkpoint at size \d+ verified", step(11), re.M),
           "11: pdaoctl audit verify-log did not verify the log")
    expect(re.search(r'^pdao_grpc_server_handled_total\{code="PERMISSION_DENIED",'
                     r'method="RegisterResource"', step(12), re.M),
           "12: /metrics does not count the refused RegisterResource")
    thirteen = step(13)
    expect(re.search(r"^GET /log/checkpoint -> 200$", thirteen, re.M) and
           re.search(r"^\u2014 \S+ \S+$", thirteen, re.M),
           "13: the portal did not serve a signed checkpoint note")
    expect(re.search(r"^GET /log/key -> 200\n\S+\+[0-9a-f]{8}\+\S+$", thirteen, re.M),
           "13: the portal did not serve the note verifier key")
    expect("done" in s, "the demo did not reach its end")

    for e in errors:
        print("check-demo: FAIL %s" % e, file=sys.stderr)
    if errors:
        sys.exit(1)
    print("check-demo: ok (13 steps)")


if __name__ == "__main__":
    main()
