"""The portal page as a person sees it (rule 41): Debian's headless Chromium, driven over the
DevTools protocol through --remote-debugging-pipe (no WebDriver, no websocket library: standard
library only), loads / and /en/ from a running portal, asserts on the DOM — lang, both sets, the
flagged report showing both values, the missing report, the evaluations, charts as <svg> with a
<title> and drawn bars, no script — and saves a full-page screenshot.

The assertions are data-driven: the expected values come from the same portal's JSON
(/api/agency.json, /api/operators.json, /api/reports/<year>.json, /api/evaluations.json,
/api/charts.json), so the same script checks the fixture portal (ctest) and the demo's running
pdao-standalone (tools/demo.sh with PDAO_DEMO_BROWSER_CHECK=1). Besides matching the JSON, the page
must show at least one resource, operator set, flagged figure, missing report, evaluation and drawn
chart bar: a portal without them does not pass (issue 13's "done when").

  chromium_page.py PORTAL_BIN_OR_URL SCREENSHOT_DIR
PORTAL_BIN_OR_URL: the fixture portal binary (started here), or the http:// URL of a running
portal (e.g. pdao-standalone --portal-listen with the demo data). Exit 0 when every assertion
holds, 1 otherwise, 77 (skip) when no chromium is installed."""
import base64
import fcntl
import json
import os
import select
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fixture  # noqa: E402

TIMEOUT_S = 60


class DevTools:
    """The DevTools protocol over Chromium's --remote-debugging-pipe: JSON messages ended by NUL,
    commands on the browser's fd 3, replies and events on its fd 4."""

    def __init__(self, chromium, profile):
        to_r, self.to_w = os.pipe()
        self.from_r, from_w = os.pipe()
        # Move the browser's ends off 3 and 4, where the shell puts them.
        to_r, from_w = self._above_4(to_r), self._above_4(from_w)
        args = [chromium, "--headless=new", "--remote-debugging-pipe", "--disable-gpu",
                "--no-first-run", "--no-default-browser-check", "--disable-extensions",
                "--disable-dev-shm-usage", "--hide-scrollbars", f"--user-data-dir={profile}",
                "--window-size=1280,900", "--lang=zh-CN"]
        if os.geteuid() == 0:
            # Chromium refuses to run as root with its sandbox (CI containers run as root).
            args.append("--no-sandbox")
        # bash puts the two pipe ends on fds 3 and 4, where Chromium expects them.
        self.proc = subprocess.Popen(
            ["bash", "-c", f'exec "$0" "$@" 3<&{to_r} 4>&{from_w} {to_r}<&- {from_w}>&-'] + args,
            pass_fds=(to_r, from_w), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        os.close(to_r)
        os.close(from_w)
        self.buf = b""
        self.next_id = 0
        self.events = []

    @staticmethod
    def _above_4(fd):
        moved = fcntl.fcntl(fd, fcntl.F_DUPFD, 10)
        os.close(fd)
        return moved

    def _read_message(self, deadline):
        while b"\0" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no answer from Chromium's DevTools pipe")
            ready, _, _ = select.select([self.from_r], [], [], left)
            if ready:
                chunk = os.read(self.from_r, 1 << 20)
                if not chunk:
                    err = self.proc.stderr.read().decode(errors="replace")[-2000:]
                    raise RuntimeError(f"Chromium closed the DevTools pipe: {err}")
                self.buf += chunk
        msg, self.buf = self.buf.split(b"\0", 1)
        return json.loads(msg)

    def call(self, method, params=None, session=None):
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self.to_w, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + TIMEOUT_S
        while True:
            reply = self._read_message(deadline)
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply["result"]
            self.events.append(reply)

    def wait_event(self, method, session):
        deadline = time.monotonic() + TIMEOUT_S
        while True:
            for i, e in enumerate(self.events):
                if e.get("method") == method and e.get("sessionId") == session:
                    return self.events.pop(i)
            self.events.append(self._read_message(deadline))

    def close(self):
        try:
            self.call("Browser.close")
        except Exception:  # noqa: BLE001 - the browser may be gone already
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


DOM_PROBE = r"""
(() => {
  const all = s => [...document.querySelectorAll(s)];
  const text = e => e.textContent.replace(/\s+/g, ' ').trim();
  const rect = document.querySelector('#chart-revenue_by_product_year svg');
  return JSON.stringify({
    lang: document.documentElement.lang,
    h1: document.querySelector('h1')?.textContent,
    h2: all('h2').map(e => e.textContent),
    resources: all('#table-resources tbody tr').length,
    resources_text: all('#table-resources tbody tr').map(r => [...r.children].map(text).join(' | '))
                      .join(' || '),
    col_headers: all('#table-resources thead th[scope=col]').length,
    operators: all('section.operator h3').map(text),
    flagged: all('#table-reports td.flagged').map(text),
    flagged_visible: all('#table-reports td.flagged mark').every(e => e.offsetWidth > 0),
    missing_rows: all('#table-reports tbody tr').filter(r => r.querySelector('.missing'))
                    .map(r => [...r.children].slice(0, 2).map(text)),
    evaluations: all('#table-evaluations tbody tr').map(r => [...r.children].map(text)),
    svg_titles: all('figure svg[role=img] > title').map(e => e.textContent),
    svg_labelled: all('figure svg[role=img]').every(e => e.getAttribute('aria-labelledby')),
    bars: Object.fromEntries(all('figure[id^=chart-]').map(f =>
      [f.id.slice(6), [...f.querySelectorAll('svg rect')].map(e => +e.getAttribute('width'))])),
    chart_width: rect ? rect.getBoundingClientRect().width : 0,
    scripts: document.scripts.length,
  });
})()
"""


def id_token(s):
    """render/text.cc IdToken: the element id of a name."""
    return "".join(c if c.isascii() and (c.isalnum() or c in "_-") else "-" for c in s)


def yuan(fen):
    """render/text.cc FormatYuan: fen as yuan with two decimals, no grouping."""
    sign = "-" if fen < 0 else ""
    return "%s%d.%02d" % (sign, abs(fen) // 100, abs(fen) % 100)


def number(text):
    """A chart value as the page parses it (render/html.cc BarsOf: commas dropped)."""
    try:
        return float(text.replace(",", ""))
    except ValueError:
        return 0.0


def expected_from_api(base):
    """What the page must show, read from the same portal's JSON API (one snapshot: the check
    fails, rather than guesses, if a new snapshot is published between two reads)."""
    def get(path):
        with urllib.request.urlopen(base + path, timeout=10) as res:
            return json.load(res)

    agency = get("/api/agency.json")
    sequence = agency["snapshot"]
    docs = {"agency": agency, "operators": get("/api/operators.json"),
            "evaluations": get("/api/evaluations.json"), "charts": get("/api/charts.json")}
    reports = []
    for year in get("/api/reports.json")["years"]:
        reports += get(year["url"])["reports"]
    want = {
        "resources": docs["agency"]["agency"].get("resources", []),
        "operators": docs["operators"]["operators"],
        # (operator, year, figure, reported, ledger) of every cross-checked figure flagged.
        "flags": [(r["operator_org"], r["year"], f["figure"], int(f.get("reported", 0)),
                   int(f.get("ledger", 0)))
                  for r in reports if r.get("status") == "REPORT_STATUS_FLAGGED"
                  for f in r.get("flags", [])
                  if f["figure"] in ("revenue_fen", "cost_fen", "profit_fen")],
        "missing": sorted([r["operator_org"], str(r["year"])] for r in reports
                          if r.get("status") == "REPORT_STATUS_MISSING"),
        "evaluations": docs["evaluations"]["evaluations"],
        "charts": docs["charts"]["charts"],
    }
    for name, doc in docs.items():
        if doc["snapshot"]["sequence"] != sequence["sequence"]:
            raise RuntimeError(f"/api/{name}.json is of another snapshot than /api/agency.json")
    want["sequence"] = sequence["sequence"]
    return want


def latest_sequence(base):
    with urllib.request.urlopen(base + "/api/index.json", timeout=10) as res:
        return json.load(res)["snapshot"]["sequence"]


def probe(dt, session, url):
    dt.call("Page.navigate", {"url": url}, session)
    dt.wait_event("Page.loadEventFired", session)
    got = dt.call("Runtime.evaluate", {"expression": DOM_PROBE, "returnByValue": True}, session)
    return json.loads(got["result"]["value"])


def main():
    target, shot_dir = sys.argv[1], sys.argv[2]
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if not chromium:
        print("SKIP: no chromium on PATH (Debian package `chromium`; tools/setup installs it)")
        return fixture.SKIP
    errors = []

    def check(cond, what):
        if not cond:
            errors.append(what)

    with tempfile.TemporaryDirectory(prefix="pdao-chromium-") as profile:
        portal = fixture.Portal(target) if not target.startswith("http") else None
        base = portal.__enter__().url if portal else target.rstrip("/")
        dt = DevTools(chromium, profile)
        try:
            version = dt.call("Browser.getVersion")
            print(f"{version['product']} over --remote-debugging-pipe; portal {base}")
            target_id = dt.call("Target.createTarget", {"url": "about:blank"})["targetId"]
            session = dt.call("Target.attachToTarget",
                              {"targetId": target_id, "flatten": True})["sessionId"]
            dt.call("Page.enable", {}, session)
            # The page and the JSON must be of one snapshot: read the JSON, load the page, and
            # start again (at most 5 times) if a new snapshot was published meanwhile.
            for _ in range(5):
                want = expected_from_api(base)
                zh = probe(dt, session, base + "/")
                if latest_sequence(base) == want["sequence"]:
                    break
            print(f"snapshot {want['sequence']}")
            print("zh-CN page:", json.dumps(zh, ensure_ascii=False))
            check(zh["lang"] == "zh-CN", f"lang {zh['lang']}")
            check(zh["h1"] == "公共数据授权运营信息公开", f"h1 {zh['h1']}")
            check("实施机构公开信息" in zh["h2"] and "运营机构公开信息" in zh["h2"],
                  f"headings {zh['h2']}")
            # Rule 37: the agency's set, every resource of the JSON with its query code.
            check(zh["col_headers"] >= 5, "the agency's resource table has no column headers")
            check(zh["resources"] == len(want["resources"]) >= 1,
                  f"resource rows {zh['resources']}, /api/agency.json has "
                  f"{len(want['resources'])} (at least 1 expected)")
            for r in want["resources"]:
                for key in ("resource_id", "query_code"):  # no query code before registration
                    check(not r.get(key) or r[key] in zh["resources_text"],
                          f"resource {r.get('resource_id')}: {key} {r.get(key)!r} not shown")
            check(any(r.get("query_code") for r in want["resources"]),
                  "no resource with a registration query code")
            # Rule 38: one section per operator set.
            check(len(zh["operators"]) == len(want["operators"]) >= 1,
                  f"operator sets {zh['operators']}, /api/operators.json has "
                  f"{len(want['operators'])} (at least 1 expected)")
            for o in want["operators"]:
                check(any(o["operator_org"] in h and o["name"] in h for h in zh["operators"]),
                      f"operator {o['operator_org']} ({o['name']}) has no section")
            # Rule 39: every flagged figure shows both values; every missing report is marked.
            check(len(want["flags"]) >= 1, "no flagged report in /api/reports/*.json")
            check(len(zh["flagged"]) == len(want["flags"]),
                  f"{len(zh['flagged'])} flagged cells, the JSON has {len(want['flags'])} flags")
            for op, year, figure, reported, ledger in want["flags"]:
                both = f"申报 {yuan(reported)} / 账簿 {yuan(ledger)}"
                check(any(both in f for f in zh["flagged"]),
                      f"{op} {year} {figure}: no flagged cell showing '{both}': {zh['flagged']}")
            check(zh["flagged_visible"], "a flagged figure is not visible")
            check(len(want["missing"]) >= 1, "no missing report in /api/reports/*.json")
            check(sorted(zh["missing_rows"]) == want["missing"],
                  f"missing rows {zh['missing_rows']}, the JSON has {want['missing']}")
            # Rule 40: every evaluation (kind, evaluator, evaluated, year, result).
            check(len(zh["evaluations"]) == len(want["evaluations"]) >= 1,
                  f"{len(zh['evaluations'])} evaluation rows, /api/evaluations.json has "
                  f"{len(want['evaluations'])} (at least 1 expected)")
            for e in want["evaluations"]:
                row = [e.get("kind"), e.get("evaluator_org"), e.get("evaluated_org"),
                       str(e.get("year")), e.get("result")]
                check(any(r[:5] == row for r in zh["evaluations"]),
                      f"evaluation {row} not shown: {zh['evaluations']}")
            # Charts: one labelled <svg> per chart of /api/charts.json, a bar per data row.
            check(len(zh["svg_titles"]) == len(want["charts"]) >= 1 and all(zh["svg_titles"]),
                  f"charts: {zh['svg_titles']}, /api/charts.json has {sorted(want['charts'])}")
            check(zh["svg_labelled"], "a chart without aria-labelledby")
            for chart_id, chart in want["charts"].items():
                bars = zh["bars"].get(id_token(chart_id), [])
                check(len(bars) == len(chart["rows"]),
                      f"chart {chart_id}: {len(bars)} bars for {len(chart['rows'])} data rows")
                if any(number(row[-1]) > 0 for row in chart["rows"]):
                    check(any(w > 0 for w in bars), f"chart {chart_id}: no bar drawn: {bars}")
            check(any(w > 0 for bars in zh["bars"].values() for w in bars),
                  f"no bar drawn: {zh['bars']}")
            check(zh["chart_width"] > 100, f"chart width {zh['chart_width']}")
            check(zh["scripts"] == 0, "the page has script elements")

            metrics = dt.call("Page.getLayoutMetrics", {}, session)
            size = metrics.get("cssContentSize") or metrics["contentSize"]
            shot = dt.call("Page.captureScreenshot",
                           {"format": "png", "captureBeyondViewport": True,
                            "clip": {"x": 0, "y": 0, "width": size["width"],
                                     "height": min(size["height"], 16000), "scale": 1}},
                           session)
            os.makedirs(shot_dir, exist_ok=True)
            path = os.path.join(os.path.abspath(shot_dir), "portal-zh-CN.png")
            with open(path, "wb") as f:
                f.write(base64.b64decode(shot["data"]))
            print(f"screenshot: {path} ({os.path.getsize(path)} bytes)")

            en = probe(dt, session, base + "/en/")
            print("en page: lang", en["lang"], "| h2", en["h2"])
            check(en["lang"] == "en", f"/en/ lang {en['lang']}")
            for op, year, figure, reported, ledger in want["flags"]:
                both = f"reported {yuan(reported)} / ledger {yuan(ledger)}"
                check(any(both in f for f in en["flagged"]),
                      f"/en/ {op} {year} {figure}: no flagged cell showing '{both}'")
            check(sorted(en["missing_rows"]) == want["missing"],
                  f"/en/: missing rows {en['missing_rows']}")
        finally:
            dt.close()
            if portal:
                portal.__exit__(None, None, None)
    if errors:
        print("\n".join("FAIL: " + e for e in errors))
        return 1
    print("OK: the page shows both sets, a flagged and a missing report, evaluations and charts")
    return 0


if __name__ == "__main__":
    sys.exit(main())
