#!/usr/bin/env python3
"""clang-tidy over our sources, grouped: the CI gate of tools/ci/lint.sh tidy.

usage: tools/ci/tidy.py --build DIR [--jobs N] [--group N] [--per-file] [REGEX]

Most of clang-tidy's time on a PDAO file is not the file: it parses and walks the gRPC, protobuf
and Abseil headers every file includes (services/pricing/pricing_core.cc: ~6 s of its ~19 s is
the parse, and the matchers spend most of the rest in those headers). So the files of one
directory that compile with the same flags are checked together, as one translation unit that
#includes them (at most --group files each, default 8), and the headers are parsed and walked
once per group instead of once per file: 3x less CPU here (docs/benchmarks.md#ci). Every finding
still names its own file and line, and the findings are the same checks with the same
.clang-tidy: the files are included verbatim, and the header filter is widened to our *.cc so
their findings are reported.

A group that does not compile as one unit (two files define the same name in an anonymous
namespace, or two main()s) is split before the file of its first error (the later of the two
clashing files), and again, until each part compiles; a single file that does not compile is a
finding. --per-file checks every file on its own (the reference the grouping is
compared with; slower). Exits 1 when there is any finding, printing each once.
"""
import argparse
import itertools
import collections
import concurrent.futures
import json
import os
import re
import resource
import shlex
import subprocess
import sys

DIAG = re.compile(r'^(/[^:]+):(\d+):(\d+): (warning|error): (.*) \[([\w.,-]+)\]$')


def flags_of(entry):
    """The compile command without its input, output and dependency-file arguments."""
    args = shlex.split(entry['command']) if 'command' in entry else list(entry['arguments'])
    out, skip = [], False
    for a in args:
        if skip:
            skip = False
            continue
        if a in ('-o', '-MF', '-MT', '-MQ'):
            skip = True
            continue
        if a in ('-c', '-MD', '-MMD') or a == entry['file']:
            continue
        out.append(a)
    return out


def run_tidy(unit_dir, source, header_filter):
    proc = subprocess.run(['clang-tidy', '-p', unit_dir, '--quiet', '-header-filter=' + header_filter, source],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    diags = []
    for line in proc.stdout.splitlines():
        m = DIAG.match(line)
        if m:
            diags.append((m.group(1), int(m.group(2)), int(m.group(3)), m.group(5), m.group(6)))
    return diags, proc.stdout


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--build', required=True, help='build dir with compile_commands.json')
    ap.add_argument('--jobs', type=int, default=os.cpu_count() or 2)
    ap.add_argument('--group', type=int, default=8, help='files per translation unit')
    ap.add_argument('--per-file', action='store_true', help='one file per translation unit')
    ap.add_argument('regex', nargs='?', default=None, help='files to check (Python regex, full path)')
    opts = ap.parse_args()

    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    regex = re.compile(opts.regex or (r'^' + re.escape(root) + r'/(common|services|tools)/(?!.*_test\.cc$).*\.cc$'))
    header_filter = '^' + re.escape(root) + r'/(common|services|tools|tests)/[A-Za-z0-9_/]*\.(h|cc)$'
    build = os.path.abspath(opts.build)
    with open(os.path.join(build, 'compile_commands.json')) as f:
        db = json.load(f)

    groups = collections.OrderedDict()
    seen = set()
    for entry in sorted(db, key=lambda e: e['file']):
        path = entry['file']
        if not regex.match(path) or path in seen:
            continue
        seen.add(path)
        key = (os.path.dirname(path), entry['directory'], tuple(flags_of(entry)))
        groups.setdefault(key, []).append(path)
    size = 1 if opts.per_file else max(1, opts.group)
    work = []
    for (_, directory, flags), files in groups.items():
        for i in range(0, len(files), size):
            work.append((directory, list(flags), files[i:i + size]))

    unit_root = os.path.join(build, 'tidy-units')
    os.makedirs(unit_root, exist_ok=True)
    counter = itertools.count(1)
    units = []

    def check(directory, flags, files):
        """Returns the findings of FILES, splitting the unit when it does not compile as one."""
        number = next(counter)
        units.append(number)
        unit_dir = os.path.join(unit_root, 'u%04d' % number)
        os.makedirs(unit_dir, exist_ok=True)
        if len(files) == 1:
            source = files[0]
        else:
            source = os.path.join(unit_dir, 'unit.cc')
            with open(source, 'w') as f:
                f.write(''.join('#include "%s"\n' % p for p in files))
        command = ' '.join(shlex.quote(a) for a in flags + ['-c', source])
        with open(os.path.join(unit_dir, 'compile_commands.json'), 'w') as f:
            json.dump([{'directory': directory, 'command': command, 'file': source}], f)
        diags, text = run_tidy(unit_dir, source, header_filter)
        # The unit's own #include "x.cc" lines are ours, not a finding (bugprone-suspicious-include).
        diags = [d for d in diags if not d[0].startswith(unit_root + os.sep)]
        broken = [d for d in diags if d[4] == 'clang-diagnostic-error']
        if broken and len(files) > 1:
            # The first error is in the file that clashes with one before it (a redefinition):
            # the files before it compiled together, so split there; otherwise in halves.
            at = [files.index(d[0]) for d in broken if d[0] in files]
            cut = min(at) if at else len(files) // 2
            cut = max(1, cut)
            return check(directory, flags, files[:cut]) + check(directory, flags, files[cut:])
        if not diags and proc_failed(text):
            return [(source, 0, 0, 'clang-tidy failed: ' + text.strip().splitlines()[-1], 'tidy')]
        return diags

    findings = set()
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, opts.jobs)) as pool:
        for diags in pool.map(lambda w: check(*w), work):
            findings.update(diags)
    for path, line, col, message, name in sorted(findings):
        print('%s:%d:%d: error: %s [%s]' % (path, line, col, message, name))
    cpu = resource.getrusage(resource.RUSAGE_CHILDREN)
    print('tidy: %d files in %d units, %d findings, %.0f s of CPU (user %.0f s)'
          % (len(seen), len(units), len(findings), cpu.ru_utime + cpu.ru_stime, cpu.ru_utime), file=sys.stderr)
    return 1 if findings else 0


def proc_failed(text):
    return 'Error while processing' in text or 'Found compiler error' in text


if __name__ == '__main__':
    sys.exit(main())
