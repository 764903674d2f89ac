"""The portal page as a person sees it (rule 41): Debian's headless Chromium, driven over the
DevTools protocol through --remote-debugging-pipe (no WebDriver, no websocket library: standard
library only), loads / and /en/ from a running portal, asserts on the DOM — lang, both sets, the
flagged report showing both values, the missing report, the evaluations, charts as <svg> with a
<title> and drawn bars, no script — and saves a full-page screenshot.

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
  const rect = document.querySelector('#chart-revenue_by_product_year svg');
  return JSON.stringify({
    lang: document.documentElement.lang,
    h1: document.querySelector('h1')?.textContent,
    h2: all('h2').map(e => e.textContent),
    resources: all('#table-resources tbody tr').length,
    query_codes: all('#table-resources tbody tr').map(r => r.children[4].textContent),
    col_headers: all('#table-resources thead th[scope=col]').length,
    operators: all('section.operator h3').map(e => e.textContent),
    flagged: all('#table-reports td.flagged').map(e => e.innerText),
    flagged_visible: all('#table-reports td.flagged mark').every(e => e.offsetWidth > 0),
    missing: all('#table-reports .missing').length,
    evaluations: all('#table-evaluations tbody tr').length,
    svg_titles: all('figure svg[role=img] > title').map(e => e.textContent),
    svg_labelled: all('figure svg[role=img]').every(e => e.getAttribute('aria-labelledby')),
    bars: all('#chart-uses_by_scenario svg rect').map(e => +e.getAttribute('width')),
    chart_width: rect ? rect.getBoundingClientRect().width : 0,
    scripts: document.scripts.length,
  });
})()
"""


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
            zh = probe(dt, session, base + "/")
            print("zh-CN page:", json.dumps(zh, ensure_ascii=False))
            check(zh["lang"] == "zh-CN", f"lang {zh['lang']}")
            check(zh["h1"] == "公共数据授权运营信息公开", f"h1 {zh['h1']}")
            check("实施机构公开信息" in zh["h2"] and "运营机构公开信息" in zh["h2"],
                  f"headings {zh['h2']}")
            check(zh["resources"] >= 1 and zh["col_headers"] >= 5, "the agency's resource table")
            check(any(zh["query_codes"]), "no registration query code shown")
            check(len(zh["operators"]) >= 1, "no operator set")
            check(any("申报" in f and "账簿" in f for f in zh["flagged"]),
                  f"no flagged figure with both values: {zh['flagged']}")
            check(zh["flagged_visible"], "a flagged figure is not visible")
            check(zh["missing"] >= 1, "no missing report marked")
            check(zh["evaluations"] >= 1, "no evaluation")
            check(len(zh["svg_titles"]) == 3 and all(zh["svg_titles"]),
                  f"charts: {zh['svg_titles']}")
            check(zh["svg_labelled"], "a chart without aria-labelledby")
            check(any(w > 0 for w in zh["bars"]), f"no bar drawn: {zh['bars']}")
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
            check(any("reported" in f and "ledger" in f for f in en["flagged"]),
                  f"/en/: flagged {en['flagged']}")
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
