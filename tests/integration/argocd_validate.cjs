// Validate Argo CD objects with the validators @kubernetes-models/argo-cd generates from Argo CD's
// own CRDs (their OpenAPI schemas). Usage: node argocd_validate.cjs <npm prefix> < objects.json
// Prints one JSON result per object: {"name", "kind", "errors": [...]} (errors empty when valid).
const path = require("node:path");
const { createRequire } = require("node:module");

const prefix = process.argv[2];
const load = createRequire(path.join(path.resolve(prefix), "package.json"));
const models = {
  Application: load("@kubernetes-models/argo-cd/argoproj.io/v1alpha1/Application").Application,
  AppProject: load("@kubernetes-models/argo-cd/argoproj.io/v1alpha1/AppProject").AppProject,
};

let input = "";
process.stdin.on("data", (chunk) => (input += chunk));
process.stdin.on("end", () => {
  const results = JSON.parse(input).map((obj) => {
    const Model = models[obj.kind];
    if (!Model) return { name: obj.metadata?.name, kind: obj.kind, errors: [`no model for kind ${obj.kind}`] };
    try {
      new Model(obj).validate();
      return { name: obj.metadata?.name, kind: obj.kind, errors: [] };
    } catch (err) {
      const details = (err.errors || []).map((e) => `${e.instancePath || "/"} ${e.message}`);
      return { name: obj.metadata?.name, kind: obj.kind, errors: details.length ? details : [String(err.message)] };
    }
  });
  process.stdout.write(JSON.stringify(results));
});
