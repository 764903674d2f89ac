"""DCAT-AP 3.0.1 conformance of the portal's catalogue (rule 41), as a harvester takes it:
GET /dcat/catalog.jsonld from a running portal, validate with pyshacl against the official SEMIC
shapes (dcat-ap-SHACL.ttl + ranges.ttl, rdfs inference, as their README says). Then the same
catalogue with dct:title dropped from one dataset must NOT conform: the check can fail.

  dcat_conformance.py FIXTURE_PORTAL_BIN SHAPES_DIR
Exit 0 conforming (and the broken copy rejected), 1 otherwise, 77 (skip) without pyshacl."""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fixture  # noqa: E402

fixture.reexec_with("pyshacl")
import pyshacl  # noqa: E402
import rdflib  # noqa: E402

DCT_TITLE = "http://purl.org/dc/terms/title"


def validate(shapes_dir, jsonld_text):
    data = rdflib.Graph().parse(data=jsonld_text, format="json-ld")
    shapes = rdflib.Graph().parse(os.path.join(shapes_dir, "dcat-ap-SHACL.ttl"), format="turtle")
    ranges = rdflib.Graph().parse(os.path.join(shapes_dir, "ranges.ttl"), format="turtle")
    # As `pyshacl -s dcat-ap-SHACL.ttl -e ranges.ttl -i rdfs` (the shapes' README): ranges.ttl is
    # the extra ontology graph.
    conforms, report, text = pyshacl.validate(data, shacl_graph=shapes, ont_graph=ranges,
                                         inference="rdfs", abort_on_first=False)
    sh = rdflib.Namespace("http://www.w3.org/ns/shacl#")
    paths = {str(p) for p in report.objects(None, sh.resultPath)}
    return conforms, text, len(data), paths


def main():
    binary, shapes_dir = sys.argv[1], sys.argv[2]
    print(f"pyshacl {pyshacl.__version__}, shapes {shapes_dir}")
    with fixture.Portal(binary, public_url="https://portal.example.org") as portal:
        status, ctype, body = portal.get("/dcat/catalog.jsonld")
    assert status == 200 and ctype == "application/ld+json", (status, ctype)
    catalog = body.decode("utf-8")
    conforms, text, triples, _ = validate(shapes_dir, catalog)
    print(f"served catalogue: {triples} triples, conforms={conforms}")
    if not conforms:
        print(text)
        return 1
    doc = json.loads(catalog)
    datasets = [n for n in doc["@graph"] if n.get("@type") == "dcat:Dataset"]
    if len(datasets) < 1:
        print("the catalogue has no dcat:Dataset")
        return 1
    del datasets[0]["dct:title"]
    broken_conforms, broken_text, _, paths = validate(shapes_dir, json.dumps(doc))
    print(f"with dct:title dropped from {datasets[0]['@id']}: conforms={broken_conforms}")
    if broken_conforms or DCT_TITLE not in paths:
        print("a dataset without dct:title was not reported: the check cannot fail")
        print(broken_text)
        return 1
    print("OK: the served catalogue conforms to DCAT-AP 3.0.1 and a non-conforming one is caught")
    return 0


if __name__ == "__main__":
    sys.exit(main())
