"""The portal's Atom feed (rule 41: new and changed disclosures) as a feed reader takes it:
GET /feed.atom from a running portal; parse it with feedparser (a standard feed parser) and check
the RFC 4287 requirements with an XML parser: atom:feed has exactly one atom:id, atom:title and
atom:updated and an atom:author; each atom:entry has exactly one atom:id (an absolute IRI, unique),
atom:title and atom:updated (RFC 3339), and a link; entries newest first.

  atom_feed.py FIXTURE_PORTAL_BIN
Exit 0 valid, 1 otherwise, 77 (skip) without feedparser."""
import os
import re
import sys
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fixture  # noqa: E402

fixture.reexec_with("feedparser")
import feedparser  # noqa: E402

A = "{http://www.w3.org/2005/Atom}"
RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")
errors = []


def check(cond, what):
    if not cond:
        errors.append(what)


def one(parent, tag, where):
    found = parent.findall(A + tag)
    check(len(found) == 1, f"{where}: {len(found)} atom:{tag}, RFC 4287 requires exactly one")
    return found[0] if found else None


def main():
    with fixture.Portal(sys.argv[1], public_url="https://portal.example.org") as portal:
        status, ctype, body = portal.get("/feed.atom")
    check(status == 200 and ctype == "application/atom+xml", f"GET /feed.atom: {status} {ctype}")

    parsed = feedparser.parse(body)
    check(not parsed.bozo, f"feedparser: not well-formed: {parsed.get('bozo_exception')}")
    check(parsed.version == "atom10", f"feedparser: version {parsed.version!r}, want atom10")
    check(len(parsed.entries) == 3, f"feedparser: {len(parsed.entries)} entries, want 3")
    for e in parsed.entries:
        check(e.get("id") and e.get("title") and e.get("updated_parsed"), f"entry {e.get('id')}")
    print(f"feedparser {feedparser.__version__}: {parsed.version}, {len(parsed.entries)} entries, "
          f"feed title {parsed.feed.get('title')!r}")

    root = ET.fromstring(body)
    check(root.tag == A + "feed", f"root element {root.tag}")
    one(root, "id", "feed")
    one(root, "title", "feed")
    updated = one(root, "updated", "feed")
    check(updated is not None and RFC3339.match(updated.text or ""), "feed updated not RFC 3339")
    check(root.findall(A + "author"), "feed: no atom:author (required when entries have none)")
    ids, times = set(), []
    for i, entry in enumerate(root.findall(A + "entry")):
        eid = one(entry, "id", f"entry {i}")
        one(entry, "title", f"entry {i}")
        eupd = one(entry, "updated", f"entry {i}")
        if eid is not None:
            check(re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", eid.text or ""), f"entry id {eid.text}")
            check(eid.text not in ids, f"duplicate entry id {eid.text}")
            ids.add(eid.text)
        if eupd is not None:
            check(RFC3339.match(eupd.text or ""), f"entry updated {eupd.text} not RFC 3339")
            times.append(eupd.text)
        check(entry.findall(A + "link") or entry.findall(A + "content"),
              f"entry {i}: neither atom:link nor atom:content")
    check(times == sorted(times, reverse=True), "entries are not newest first")
    summaries = [e.findtext(A + "summary") or "" for e in root.findall(A + "entry")]
    check(any("added" in s for s in summaries), "no entry says what was added")
    if errors:
        print("\n".join("FAIL: " + e for e in errors))
        return 1
    print(f"OK: RFC 4287 checks hold for {len(ids)} entries")
    return 0


if __name__ == "__main__":
    sys.exit(main())
