// Offline validation of rendered Kubernetes manifests (helm template output) against the
// Kubernetes OpenAPI schemas shipped in the npm package kubernetes-models.
//
//   node tools/ci/validate-manifests.mjs FILE.yaml...
//
// NODE_PATH is not used by ESM: set PDAO_NPM_DIR to the folder holding node_modules
// (tools/setup/install-deps.sh installs them into ${PDAO_CACHE:-$HOME/.cache/pdao}/npm).
// Kinds outside kubernetes-models (CRDs such as monitoring.coreos.com ServiceMonitor) get a
// structural check only. Exit status: 0 when every document is valid; 1 otherwise, with one line
// per invalid document naming the file, kind, name and the schema error.
import { readFileSync, existsSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const npmDir = process.env.PDAO_NPM_DIR ||
  join(process.env.PDAO_CACHE || join(process.env.HOME, ".cache/pdao"), "npm");
const require = createRequire(join(npmDir, "package.json"));
const yaml = require("js-yaml");
const modelsRoot = join(npmDir, "node_modules/kubernetes-models");

// Structural checks for custom resources that kubernetes-models does not know.
const crdChecks = {
  "monitoring.coreos.com/v1/ServiceMonitor": (o) => {
    const errs = [];
    if (!o.spec?.selector) errs.push("spec.selector is required");
    if (!Array.isArray(o.spec?.endpoints) || o.spec.endpoints.length === 0)
      errs.push("spec.endpoints must be a non-empty list");
    for (const e of o.spec?.endpoints ?? [])
      if (!e.port && !e.targetPort) errs.push("each endpoint needs port or targetPort");
    return errs;
  },
};

async function modelFor(apiVersion, kind) {
  const file = join(modelsRoot, ...apiVersion.split("/"), `${kind}.js`);
  if (!existsSync(file)) return null;
  const mod = await import(pathToFileURL(file).href);
  return mod[kind] ?? mod.default ?? null;
}

let bad = 0, good = 0;
for (const file of process.argv.slice(2)) {
  const docs = yaml.loadAll(readFileSync(file, "utf8")).filter((d) => d && typeof d === "object");
  for (const doc of docs) {
    const id = `${file}: ${doc.apiVersion}/${doc.kind} ${doc.metadata?.name ?? "<no name>"}`;
    if (!doc.apiVersion || !doc.kind || !doc.metadata?.name) {
      console.error(`INVALID ${id}: apiVersion, kind and metadata.name are required`);
      bad++;
      continue;
    }
    const Model = await modelFor(doc.apiVersion, doc.kind);
    if (Model) {
      try {
        new Model(doc).validate();
        good++;
      } catch (e) {
        console.error(`INVALID ${id}: ${e.message}`);
        bad++;
      }
      continue;
    }
    const check = crdChecks[`${doc.apiVersion}/${doc.kind}`];
    if (!check) {
      console.error(`INVALID ${id}: unknown kind (no schema in kubernetes-models, no CRD check)`);
      bad++;
      continue;
    }
    const errs = check(doc);
    if (errs.length) {
      console.error(`INVALID ${id}: ${errs.join("; ")}`);
      bad++;
    } else {
      good++;
    }
  }
}
console.log(`validate-manifests: ${good} valid, ${bad} invalid`);
process.exit(bad ? 1 : 0);
