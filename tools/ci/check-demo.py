#!/usr/bin/env python3
"""Checks what tools/demo.sh printed (the README's first command), step by step.

    tools/ci/check-demo.py [--browser] DEMO_OUTPUT   (stdout and stderr of tools/demo.sh)

--browser: step 34 (the page in headless Chromium) must have run and passed; without it a step 34
that says it was skipped (PDAO_DEMO_BROWSER_CHECK unset) is accepted. tools/test.sh runs the demo
with PDAO_DEMO_BROWSER_CHECK=1 and checks it with --browser.

tools/test.sh runs the demo and then this. Each "== N. ..." step of the demo must show the outcome
the README promises; a reply the demo prints whole (step 14) is parsed as JSON. Exit status 0 when
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
        try:
            found.append(json.loads(m.group(1)))
        except ValueError:  # not a show() line (e.g. a reply printed whole): kept as text
            found.append(m.group(1))
    return found


def main():
    args = sys.argv[1:]
    browser = "--browser" in args
    args = [a for a in args if a != "--browser"]
    if len(args) != 1:
        sys.exit(__doc__)
    with open(args[0], encoding="utf-8", errors="replace") as f:
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
    six = step(6)
    expect(values(six, "state") == ["PLAN_STATE_DRAFT", "PLAN_STATE_SUBMITTED", "PLAN_STATE_APPROVED"],
           "6: the plan did not go DRAFT, SUBMITTED, APPROVED (rule 13)")
    seven = step(7)
    expect(values(seven, "credit_code") == ["91220101MA0Y00002K"],
           "7: the operator was not registered with its credit code (rule 14)")
    expect(values(seven, "operator_org") == ["demo-operator"] and values(seven, "id"),
           "7: the operator was not selected")
    expect(values(step(8), "state") == ["AGREEMENT_STATE_DRAFT", "AGREEMENT_STATE_SIGNED"],
           "8: the agreement did not go DRAFT, SIGNED")
    expect("FAILED_PRECONDITION" in step(9) and "rule 15" in step(9),
           "9: activating an agreement that is not filed was not refused with rule 15")
    ten = step(10)
    expect(values(ten, "state") == ["AGREEMENT_STATE_FILED", "AGREEMENT_STATE_ACTIVE"],
           "10: the agreement is not FILED then ACTIVE")
    expect(values(ten, "decision") == ["DECISION_ALLOW"],
           "10: the entitlement Check does not allow the operator on the resource (rule 16)")
    eleven = step(11)
    expect(values(eleven, "status") == ["PRODUCT_STATUS_DRAFT"] and values(eleven, "id"),
           "11: the operator's product was not registered")
    expect(values(eleven, "state") == ["REGISTRATION_STATE_ACCEPTED", "REGISTRATION_STATE_REVIEWED",
                                       "REGISTRATION_STATE_PUBLICITY"],
           "11: the product's registration did not go ACCEPTED, REVIEWED, PUBLICITY")
    expect(values(step(12), "now"), "12: the dev clock did not report the new time")
    thirteen = step(13)
    expect(values(thirteen, "state") == ["REGISTRATION_STATE_CODED"],
           "13: the registration is not CODED")
    codes = values(thirteen, "query_code")
    expect(codes and codes[0].startswith("DJ-"), "13: no query code was issued")
    try:
        notice = json.loads(step(14))["notice"]
        expect(codes and notice.get("query_code") == codes[0],
               "14: the code lookup returned another registration")
        expect(notice.get("state") == "REGISTRATION_STATE_CODED", "14: the notice is not CODED")
        public = {"registration_id", "type", "subject_kind", "subject_name", "applicant_org",
                  "state", "publicity_start", "publicity_end", "query_code", "valid_until"}
        expect(set(notice) <= public,
               "14: the notice shows more than the publicity fields: %s" % sorted(set(notice) - public))
    except (ValueError, KeyError, TypeError) as e:
        errors.append("14: the code lookup did not print a JSON notice (%s)" % e)
    fifteen = step(15)
    expect(values(fifteen, "eligible") == [True], "15: the coded resource is not eligible")
    expect(values(fifteen, "grade") == ["GRADE_IMPORTANT"], "15: CheckEligibility lost the grade")
    sixteen = step(16)
    expect(values(sixteen, "state") == ["REGISTRATION_STATE_CODED"] and
           any(c.startswith("DJ-") for c in values(sixteen, "query_code")),
           "16: the product's registration is not CODED with a query code")
    expect(values(sixteen, "status") == ["PRODUCT_STATUS_CODED"], "16: the product is not CODED")
    expect(values(step(17), "state") == ["SCENARIO_STATE_DRAFT", "SCENARIO_STATE_ENDORSEMENT_PENDING",
                                         "SCENARIO_STATE_SUBMITTED"],
           "17: the scenario did not go DRAFT, ENDORSEMENT_PENDING, SUBMITTED (rule 19)")
    eighteen = step(18)
    outcomes = values(eighteen, "outcome")
    expect(len(outcomes) == 9 and set(outcomes) == {"VERDICT_OUTCOME_PASS"} and
           values(eighteen, "passed") == [True],
           "18: the assessment did not record 9 passing verdicts (rule 20)")
    expect(values(eighteen, "state") == ["SCENARIO_STATE_UNDER_ASSESSMENT",
                                         "SCENARIO_STATE_APPROVED"],
           "18: the scenario is not UNDER_ASSESSMENT then APPROVED")
    nineteen = step(19)
    expect(values(nineteen, "state") == ["GRANT_STATE_ACTIVE"] and
           values(nineteen, "consumer_org") == ["demo-business-entity"],
           "19: no ACTIVE grant for the business entity (rules 21, 24)")
    expect([int(v) for v in values(step(20), "max_rate_fen")] == [10],
           "20: the price cap of 10 fen was not set (rule 26)")
    expect("FAILED_PRECONDITION" in step(21) and "rule 26" in step(21),
           "21: the price above the cap was not refused with rule 26")
    twentytwo = step(22)
    expect([int(v) for v in values(twentytwo, "rate_fen")] == [8] and
           values(twentytwo, "stage") == ["PRICE_STAGE_TRIAL"],
           "22: the operator's trial price of 8 fen per call was not set")
    twentythree = step(23)
    expect(values(twentythree, "decision") == ["USAGE_DECISION_ALLOW", "USAGE_DECISION_DENY"],
           "23: CheckUsage did not answer ALLOW for the granted use, then DENY")
    reasons = values(twentythree, "reason")
    expect(len(reasons) == 2 and "rule 24" in reasons[1],
           "23: the denied use does not name rule 24")
    expect(values(twentythree, "usage_event_id"), "23: the allowed use emitted no usage event")
    twentyfour = step(24)
    expect(values(twentyfour, "kind") == ["ENTRY_KIND_USAGE_CHARGE"],
           "24: the operator's statement does not hold the one usage charge")
    balances = {b.get("account"): int(b.get("balance_fen", 0))
                for listed in values(twentyfour, "balances") for b in listed}
    revenue = [b for a, b in balances.items() if "/revenue/" in a]
    expect(revenue == [-40],
           "24: the operator's statement does not show 40 fen of revenue (5 calls x 8 fen, rule 30): "
           "%s" % balances)
    expect([int(v) for v in values(twentyfour, "metered_revenue_fen")] == [40] and
           [int(v) for v in values(twentyfour, "ledger_revenue_fen")] == [40] and
           values(twentyfour, "clean") == [True],
           "24: the reconciliation is not clean at 40 fen (rule 30)")
    twentyfive = step(25)
    m = re.search(r"^(\d+) log entries about registration", twentyfive, re.M)
    expect(m and int(m.group(1)) >= 5, "25: fewer than 5 audit log entries about the registration")
    sizes = values(twentyfive, "tree_size")
    expect(sizes and int(sizes[0]) >= 5, "25: the signed checkpoint covers fewer than 5 entries")
    expect(re.search(r"^OK: checkpoint at size \d+ verified", step(26), re.M),
           "26: pdaoctl audit verify-log did not verify the log")
    expect(re.search(r'^pdao_grpc_server_handled_total\{code="PERMISSION_DENIED",'
                     r'method="RegisterResource"', step(27), re.M),
           "27: /metrics does not count the refused RegisterResource")
    for method in ("ActivateAgreement", "SetPrice"):
        expect(re.search(r'^pdao_grpc_server_handled_total\{code="FAILED_PRECONDITION",'
                         r'method="%s"' % method, step(27), re.M),
               "27: /metrics does not count the refused %s" % method)
    twentyeight = step(28)
    expect(re.search(r"^GET /log/checkpoint -> 200$", twentyeight, re.M) and
           re.search(r"^\u2014 \S+ \S+$", twentyeight, re.M),
           "28: the portal did not serve a signed checkpoint note")
    expect(re.search(r"^GET /log/key -> 200\n\S+\+[0-9a-f]{8}\+\S+$", twentyeight, re.M),
           "28: the portal did not serve the note verifier key")
    expect(re.search(r"^OK: snapshot \d+ .* is in the audit log at entry \d+", step(29), re.M),
           "29: pdaoctl disclosure verify did not verify the latest snapshot")
    expect(re.search(r"^operator demo-operator agreement \S+: ACTIVE$", step(29), re.M),
           "29: the disclosure snapshot does not show the operator's ACTIVE agreement (rule 37)")
    expect(re.search(r"^operator demo-operator product \S+ in \d{4}-\d{2}: \d+ uses, 5 units, "
                     r"revenue 40 fen$", step(29), re.M),
           "29: the disclosure snapshot does not show the metered use and its 40 fen (rule 38)")
    thirty = step(30)
    expect("INVALID_ARGUMENT" in thirty and "profit_fen" in thirty,
           "30: a report whose profit is not revenue - cost was not refused naming profit_fen")
    expect(values(thirty, "status") == ["REPORT_STATUS_FLAGGED"] and
           values(thirty, "year") == [2025] and values(thirty, "operator_org") == ["demo-operator"],
           "30: the operator's 2025 report was not published FLAGGED (rule 39)")
    expect(values(thirty, "late") in ([], [False]), "30: the 2025 report is late")
    for figure, reported in (("revenue_fen", 1200000), ("cost_fen", 800000),
                             ("profit_fen", 400000)):
        expect(re.search(r"^flag %s: reported %d fen, ledger 0 fen" % (figure, reported), thirty,
                         re.M),
               "30: no flag on %s with both values (reported %d, ledger 0)" % (figure, reported))
    thirtyone = step(31)
    expect(any(str(v).startswith("2027-04-01T01:00:") for v in values(thirtyone, "now")),
           "31: the sandbox clock did not move to 1 April 2027, 09:00 China Standard Time")
    expect(values(thirtyone, "status") == ["REPORT_STATUS_MISSING"] and
           values(thirtyone, "year") == [2026] and
           values(thirtyone, "operator_org") == ["demo-operator"],
           "31: ListReports does not show the operator's 2026 report MISSING (rule 39)")
    expect(re.search(r"^alert \S+ ALERT_RULE_REPORT_MISSING: .*demo-operator.* 2026 ", thirtyone,
                     re.M),
           "31: the audit log raised no ALERT_RULE_REPORT_MISSING for demo-operator's 2026 report "
           "(rules 35, 39)")
    thirtytwo = step(32)
    expect(values(thirtytwo, "kind") == ["EVALUATION_KIND_PERFORMANCE", "DATA_BUREAU_OF_AGENCY"] and
           values(thirtytwo, "result") == ["EVALUATION_RESULT_PASS", "GOOD"],
           "32: the two evaluations (agency of operator: PASS; bureau of agency: GOOD) were not "
           "recorded (rule 40)")
    expect(values(thirtytwo, "evaluator_org") == ["demo-implementing-agency", "demo-data-bureau"],
           "32: the evaluations do not name their evaluators")
    thirtythree = step(33)
    expect(re.search(r"^report demo-operator 2025: FLAGGED \(revenue_fen reported 1200000 ledger "
                     r"0[;)]", thirtythree, re.M),
           "33: the snapshot does not disclose the flagged 2025 report with both values")
    expect(re.search(r"^report demo-operator 2026: MISSING$", thirtythree, re.M),
           "33: the snapshot does not disclose the missing 2026 report")
    expect(re.search(r"^evaluation AGENCY_OF_OPERATOR demo-implementing-agency of demo-operator "
                     r"for 2026: PASS$", thirtythree, re.M),
           "33: the snapshot does not disclose the agency's evaluation of the operator")
    expect(re.search(r"^evaluation DATA_BUREAU_OF_AGENCY demo-data-bureau of "
                     r"demo-implementing-agency for 2026: GOOD$", thirtythree, re.M),
           "33: the snapshot does not disclose the bureau's evaluation of the agency")
    expect(re.search(r"^OK: snapshot \d+ .* is in the audit log at entry \d+", thirtythree, re.M),
           "33: pdaoctl disclosure verify did not verify the snapshot")
    expect(re.search(r"^portal: http://127\.0\.0\.1:\d+/ ", thirtythree, re.M),
           "33: the portal URL was not printed")
    thirtyfour = step(34)
    if "browser check skipped" in thirtyfour:
        expect(not browser, "34: the browser check was skipped (PDAO_DEMO_BROWSER_CHECK=1 not set)")
    else:
        expect(re.search(r"^OK: the page shows both sets, a flagged and a missing report", thirtyfour,
                         re.M) and "FAIL:" not in thirtyfour,
               "34: the page did not pass the headless Chromium check")
        expect(re.search(r"^screenshot: /\S+\.png \(\d+ bytes\)$", thirtyfour, re.M),
               "34: no screenshot was saved")
    thirtyfive = step(35)
    expect(values(thirtyfive, "state") == ["SCENARIO_STATE_DRAFT", "SCENARIO_STATE_ENDORSEMENT_PENDING",
                                           "SCENARIO_STATE_SUBMITTED",
                                           "SCENARIO_STATE_UNDER_ASSESSMENT",
                                           "SCENARIO_STATE_APPROVED", "GRANT_STATE_ACTIVE"],
           "35: the PUBLIC_GOOD scenario was not approved and granted (rules 19-21, 24)")
    outcomes = values(thirtyfive, "outcome")
    expect(len(outcomes) == 9 and set(outcomes) == {"VERDICT_OUTCOME_PASS"} and
           values(thirtyfive, "passed") == [True],
           "35: the PUBLIC_GOOD scenario's assessment did not record 9 passing verdicts (rule 20)")
    expect(values(thirtyfive, "decision") == ["USAGE_DECISION_ALLOW"] and
           values(thirtyfive, "usage_event_id"),
           "35: CheckUsage did not allow the public-good use with a usage event")
    thirtysix = step(36)
    m = re.search(r"^pdao_pricing_usage_metered_total: (.*)$", thirtysix, re.M)
    metered = dict(kv.split("=", 1) for kv in m.group(1).split()) if m else {}
    expect(metered.get("public_good") == "1" and metered.get("priced") == "1",
           "36: /metrics does not count one PUBLIC_GOOD and one priced metered use (rules 25, 30): "
           "%s" % metered)
    expect(re.search(r"^operator statement for \d{4}-\d{2}: 0 entries$", thirtysix, re.M),
           "36: the public-good use posted a ledger entry (it is charged 0, rule 25)")
    expect(re.search(r"^reconcile \d{4}-\d{2}: metered revenue 0 fen, ledger revenue 0 fen, "
                     r"clean true$", thirtysix, re.M),
           "36: the public-good use's month does not reconcile clean at 0 fen (rule 30)")
    thirtyseven = step(37)
    expect("INVALID_ARGUMENT" in thirtyseven and "rule 31" in thirtyseven and
           "not exactly 10000 bp" in thirtyseven,
           "37: shares that do not sum to 10,000 bp were not refused naming rule 31")
    expect([int(v) for v in values(thirtyseven, "share_bp")] == [4000, 4500, 1500] and
           values(thirtyseven, "version") == ["1"],
           "37: the distribution rule 4000/4500/1500 bp was not recorded")
    parts = dict(zip(values(thirtyseven, "contributor_org")[3:],
                     [int(v) for v in values(thirtyseven, "amount_fen")]))
    expect(values(thirtyseven, "total_fen") == ["40"] and
           parts == {"demo-department": 16, "demo-operator": 18, "demo-implementing-agency": 6},
           "37: the distribution of step 24's month is not 40 fen split 16/18/6 (rule 31): %s" % parts)
    own = re.findall(r"^share of (\S+): 4000 bp of 40 fen = 16 fen \(entry (\S+)\)$", thirtyseven,
                     re.M)
    expect(len(re.findall(r"^share of ", thirtyseven, re.M)) == 1 and own and
           own[0][0] == "demo-department",
           "37: the department does not read exactly its own share of 16 fen")
    if own:
        entry = re.escape(own[0][1])
        expect(re.search(r"^posting %s: debit demo-operator/revenue/operations 16 fen$" % entry,
                         thirtyseven, re.M) and
               re.search(r"^posting %s: credit demo-operator/distribution-payable/demo-department "
                         r"16 fen$" % entry, thirtyseven, re.M),
               "37: the department does not see the balanced posting behind its share")
    thirtyeight = step(38)
    expect("FAILED_PRECONDITION" in thirtyeight and "2024" in thirtyeight and
           "rule 27" in thirtyeight,
           "38: MAR inputs without the prior year's treasury yield were not refused naming rule 27")
    expect(values(thirtyeight, "yield_year") == [2025] and
           values(thirtyeight, "rate_cap_bp") == ["770"] and
           values(thirtyeight, "mar_fen") == ["38", "38"],
           "38: the 2026 MAR is not 38 fen from the 2025 yield + 600 bp (rule 27)")
    expect(values(thirtyeight, "actual_revenue_fen") == ["40"] and
           values(thirtyeight, "deviation_fen") == ["2"] and
           values(thirtyeight, "outcome") == ["REVIEW_OUTCOME_OPERATOR_ADJUSTS_PRICES"] and
           values(thirtyeight, "task_assignee") == ["demo-operator"] and
           values(thirtyeight, "due_date") and values(thirtyeight, "excess_to_deduct_fen") == ["2"],
           "38: the 2026 review does not classify 40 fen against a MAR of 38 (5.3 %) as the "
           "operator's price adjustment with a due date and 2 fen to deduct (rule 29)")
    thirtynine = step(39)
    expect(re.search(r"^portal: http://127\.0\.0\.1:\d+/ ", thirtynine, re.M),
           "39: the demo did not end by printing the portal's URL")
    expect(re.search(r"^OK: snapshot \d+ .* is in the audit log at entry \d+", thirtynine, re.M),
           "39: pdaoctl disclosure verify did not verify the latest snapshot")
    expect("done" in s, "the demo did not reach its end")

    for e in errors:
        print("check-demo: FAIL %s" % e, file=sys.stderr)
    if errors:
        sys.exit(1)
    print("check-demo: ok (39 steps%s)" % (", browser check passed" if browser else ""))


if __name__ == "__main__":
    main()
