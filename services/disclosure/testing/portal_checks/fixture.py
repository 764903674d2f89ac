"""A running pdao_disclosure_fixture_portal (the portal serving the demo snapshot) for the checks a
harvester and a browser make. Standard library only."""
import os
import subprocess
import sys
import urllib.request

SKIP = 77  # ctest SKIP_RETURN_CODE


def venv_python():
    cache = os.environ.get("PDAO_CACHE", os.path.expanduser("~/.cache/pdao"))
    return os.path.join(cache, "venv", "bin", "python")


def reexec_with(module):
    """Imports `module`, else re-runs this script under tools/setup's venv once, else skips."""
    try:
        __import__(module)
        return
    except ImportError:
        pass
    py = venv_python()
    if os.environ.get("PDAO_CHECK_REEXEC") != "1" and os.access(py, os.X_OK):
        os.environ["PDAO_CHECK_REEXEC"] = "1"
        os.execv(py, [py] + sys.argv)
    print(f"SKIP: Python module {module} not found (tools/setup/install-deps.sh installs it into "
          f"{os.path.dirname(os.path.dirname(py))})")
    sys.exit(SKIP)


class Portal:
    """Starts the fixture portal on a free loopback port; stops it on exit (stdin closed)."""

    def __init__(self, binary, public_url=None):
        self.binary = binary
        self.public_url = public_url

    def __enter__(self):
        args = [self.binary, "--listen", "127.0.0.1:0"]
        if self.public_url:
            args += ["--public-url", self.public_url]
        self.proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     text=True)
        line = self.proc.stdout.readline()
        if not line.startswith("listening on "):
            self.proc.kill()
            raise RuntimeError(f"fixture portal did not start: {line!r}")
        self.port = int(line.split()[-1])
        self.url = f"http://127.0.0.1:{self.port}"
        return self

    def get(self, path):
        with urllib.request.urlopen(self.url + path, timeout=10) as res:
            return res.status, res.headers.get("Content-Type"), res.read()

    def __exit__(self, *exc):
        self.proc.stdin.close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        return False
