"""Prints the ONNX node-test conformance figure, and can put it into README.md.

    python python/tools/conformance_report.py --run            # run the suite, print the figure
    python python/tools/conformance_report.py                  # print the last run's figure
    python python/tools/conformance_report.py --run --readme   # also rewrite README's section
    python python/tools/conformance_report.py --ops            # + missing ops, known failures per op
    python python/tools/conformance_report.py --stub           # KNOWN_FAILURES entries for today's failures

The figures come from tests/python/test_onnx_conformance.py, which writes them as JSON at the
end of each run ($EI_CONFORMANCE_JSON, default <tmp>/edgeinfer-conformance.json). --readme
replaces only the text between the two marker lines below, and only if README.md already has
both; a partial run (pytest -k, EI_CONFORMANCE_RUN_SKIPPED) is never written there.
"""
import argparse
import collections
import json
import os
import re
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
README = os.path.join(ROOT, "README.md")
TEST_MODULE = os.path.join("tests", "python", "test_onnx_conformance.py")
DEFAULT_JSON = os.environ.get("EI_CONFORMANCE_JSON") or os.path.join(tempfile.gettempdir(),
                                                                       "edgeinfer-conformance.json")
BEGIN = "<!-- conformance:begin -->"
END = "<!-- conformance:end -->"


def run_suite(json_path, pytest_args=()):
    """Runs the conformance module in a child pytest; returns its exit status."""
    env = dict(os.environ, EI_CONFORMANCE_JSON=json_path)
    env.pop("EI_CONFORMANCE_RUN_SKIPPED", None)
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", TEST_MODULE, *pytest_args]
    return subprocess.call(cmd, cwd=ROOT, env=env)


def load(json_path):
    with open(json_path) as f:
        return json.load(f)


def markdown(fig):
    """The README section: figure line, then a table of skips by reason."""
    total = fig["suite_total"]
    lines = [
        f"ONNX backend node tests of onnx {fig['onnx']} ({total} tests) on edgeinfer {fig['edgeinfer']}: "
        f"**{fig['passed']} pass ({fig['percent_passing']:.1f}%)**, {fig['failed']} fail, "
        f"{fig['xfailed']} known failures, {fig['skipped']} skipped.",
        "",
        "| skipped | reason |",
        "|---:|---|",
    ]
    for r in fig["skipped_by_reason"]:
        lines.append(f"| {r['count']} | {r['reason']} |")
    lines += ["", f"Re-run: `python -m pytest {TEST_MODULE}` (the figure prints at the end); "
              "the skip list with its reasons is tests/python/conformance_skips.py."]
    return "\n".join(lines)


def text(fig, with_ops=False):
    total = fig["suite_total"]
    out = []
    if not fig.get("complete"):
        out.append(f"(partial run: {fig['ran']} of {total} node tests)")
    out.append(f"onnx {fig['onnx']} node tests: {total}; edgeinfer {fig['edgeinfer']} ({fig.get('isa', '?')})")
    out.append(f"passed  {fig['passed']:5d}  ({fig['percent_passing']:.1f}% of the whole suite)")
    out.append(f"failed  {fig['failed']:5d}")
    out.append(f"xfailed {fig['xfailed']:5d}  (KNOWN_FAILURES)")
    out.append(f"skipped {fig['skipped']:5d}")
    for r in fig["skipped_by_reason"]:
        share = 100.0 * r["count"] / total if total else 0.0
        out.append(f"   {r['count']:5d} {share:5.1f}%  [{r['key']}] {r['reason']}")
    if fig.get("stale_skips"):
        out.append("explicit skips that pass now: " + " ".join(fig["stale_skips"]))
    if with_ops:
        if fig.get("missing_ops"):
            out.append("")
            out.append("missing ops, by the number of tests each one blocks:")
            sole = fig.get("sole_missing_ops", {})
            out.append("   tests  (only this op missing)  op")
            for op, n in sorted(fig["missing_ops"].items(), key=lambda kv: (-kv[1], kv[0])):
                out.append(f"   {n:5d}  ({sole.get(op, 0):4d})  {op}")
        failing = collections.defaultdict(list)
        for name, reason in sorted(fig.get("known_failures", {}).items()):
            failing[reason.split(":", 1)[0]].append((name, reason))
        if failing:
            out.append("")
            out.append("KNOWN_FAILURES by op:")
            for op in sorted(failing):
                out.append(f"  {op} ({len(failing[op])}):")
                for name, reason in failing[op]:
                    out.append(f"     {name}: {reason.split(':', 1)[-1].strip()}")
    return "\n".join(out)


def _observed(entry):
    """'<Op>: <what failed>' from a failed test's message (op from 'node ... (Op):' or the model)."""
    msg = entry.get("message", "")
    m = re.search(r"node '[^']*' \((\w+)\): (.*)", msg)
    if m:
        return f"{m.group(1)}: {m.group(2)}"
    ops = entry.get("ops") or ["?"]
    msg = re.sub(r"^AssertionError: ", "", msg)
    return f"{'+'.join(ops) if len(ops) <= 3 else ops[0] + '+...'}: {msg}"


def known_failures_stub(fig):
    """Python dict entries for conformance_skips.KNOWN_FAILURES, one per failing test, with
    what was observed, grouped by op. For op owners: fix the op, or paste and keep honest."""
    known = fig.get("known_failures", {})
    rows = sorted((_observed(e), n) for n, e in fig["tests"].items()
                  if e["outcome"] == "failed" and n not in known)
    fixed = sorted(n for n, e in fig["tests"].items() if e["outcome"] == "failed" and n in known)
    out, cur = [], None
    if fixed:
        out.append(f"    # delete these {len(fixed)} entries: they pass now (XPASS strict): " + " ".join(fixed))
    for reason, name in sorted(rows, key=lambda r: (r[0].split(":", 1)[0], r[1])):
        op = reason.split(":", 1)[0]
        if op != cur:
            out.append(f"    # {op}")
            cur = op
        out.append(f"    {json.dumps(name)}:\n        {json.dumps(reason)},")
    return "\n".join(out)


def update_readme(fig, path=README):
    """Rewrites the text between the markers. Returns a message; changes nothing unless both
    markers are there and the run was complete."""
    if not fig.get("complete"):
        return "README.md not updated: the figures come from a partial run"
    try:
        with open(path) as f:
            content = f.read()
    except OSError as e:
        return f"README.md not updated: {e}"
    i, j = content.find(BEGIN), content.find(END)
    if i < 0 or j < 0 or j < i:
        return f"README.md not updated: it has no {BEGIN} ... {END} section"
    new = content[: i + len(BEGIN)] + "\n" + markdown(fig) + "\n" + content[j:]
    if new == content:
        return "README.md already up to date"
    with open(path, "w") as f:
        f.write(new)
    return "README.md updated"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", action="store_true", help="run the conformance suite first")
    ap.add_argument("--json", default=None, help=f"figures file (default {DEFAULT_JSON})")
    ap.add_argument("--readme", action="store_true", help="rewrite README.md's conformance section")
    ap.add_argument("--markdown", action="store_true", help="print the README section instead")
    ap.add_argument("--ops", action="store_true", help="also list missing ops and known failures per op")
    ap.add_argument("--stub", action="store_true",
                    help="print KNOWN_FAILURES entries (observed reasons) for the tests failing now")
    args = ap.parse_args(argv)

    json_path = args.json or DEFAULT_JSON
    if args.run:
        if args.json is None:
            fd, json_path = tempfile.mkstemp(prefix="edgeinfer-conformance-", suffix=".json")
            os.close(fd)
        status = run_suite(json_path)
        if status not in (0, 1):  # 1 = some test failed: still report the figure
            print(f"pytest exited with status {status}", file=sys.stderr)
            return status
    try:
        fig = load(json_path)
    except (OSError, ValueError) as e:
        print(f"no conformance figures at {json_path} ({e}); run with --run", file=sys.stderr)
        return 2
    if args.stub:
        print(known_failures_stub(fig))
        return 0
    print(markdown(fig) if args.markdown else text(fig, with_ops=args.ops))
    if args.readme:
        print(update_readme(fig))
    return 1 if fig["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
