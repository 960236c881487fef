// Checks the Grafana dashboard of the deploy kit, and with a Prometheus URL also runs every
// PromQL expression of the dashboard and of the loaded rules against it.
// Usage: node deploy_kit_check.mjs DASHBOARD_JSON [PROMETHEUS_URL]
// Structure: unique panel ids, a ${datasource} on every panel and query, grid positions
// inside the 24 columns and not overlapping, every variable used defined (and every one
// defined used), no ${DS_...} inputs (file provisioning ignores them).
// Queries: each dashboard query (variables set to "All"), each variable's label_values and
// each rule's expression returns data; rule health is ok. Prints one line per check.
import { readFileSync } from "node:fs";

const [file, prom] = process.argv.slice(2);
let failed = 0, passed = 0;
const check = (name, ok, detail = "") => {
  if (ok) passed++; else failed++;
  console.log(`${ok ? "ok  " : "FAIL"} ${name}${ok || !detail ? "" : ": " + detail}`);
};

const text = readFileSync(file, "utf8");
const dash = JSON.parse(text);
check("no ${DS_...} inputs", !text.includes("${DS_") && !("__inputs" in dash));
const vars = dash.templating?.list ?? [];
const dsVar = vars.find((v) => v.name === "datasource");
check("a datasource template variable of type prometheus",
      dsVar?.type === "datasource" && dsVar?.query === "prometheus");

const panels = [];
for (const p of dash.panels ?? []) {
  panels.push(p);
  for (const q of p.panels ?? []) panels.push(q);  // panels of a collapsed row
}
const ids = panels.map((p) => p.id);
check(`${panels.length} panels have unique integer ids`,
      ids.every(Number.isInteger) && new Set(ids).size === ids.length, JSON.stringify(ids));
const isDs = (d) => d?.type === "prometheus" && (d?.uid === "${datasource}" || d?.uid === "$datasource");
for (const p of panels) {
  const where = `panel ${p.id} "${p.title}"`;
  check(`${where} has the datasource variable`, isDs(p.datasource), JSON.stringify(p.datasource));
  const g = p.gridPos ?? {};
  const ints = ["x", "y", "w", "h"].every((k) => Number.isInteger(g[k]));
  check(`${where} has a valid grid position`,
        ints && g.x >= 0 && g.y >= 0 && g.w >= 1 && g.h >= 1 && g.x + g.w <= 24, JSON.stringify(g));
  if (p.type === "row") continue;
  const targets = p.targets ?? [];
  const refs = targets.map((t) => t.refId);
  check(`${where} has queries with unique refIds, each with an expr and the datasource`,
        targets.length > 0 && new Set(refs).size === refs.length &&
        targets.every((t) => typeof t.expr === "string" && t.expr.trim() && isDs(t.datasource)));
}
const overlap = (a, b) => a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
const clashes = [];
for (let i = 0; i < panels.length; i++)
  for (let j = i + 1; j < panels.length; j++)
    if (overlap(panels[i].gridPos, panels[j].gridPos)) clashes.push(`${panels[i].id}/${panels[j].id}`);
check("no two panels overlap", clashes.length === 0, clashes.join(" "));

// Variables used: $name, ${name}, ${name:format}, [[name]] in every string of the panels and
// variable queries. Built-in ones ($__...) are Grafana's.
const defined = new Set(vars.map((v) => v.name));
const used = new Set();
const scan = (v) => {
  if (typeof v === "string") {
    for (const m of v.matchAll(/\$\{([A-Za-z_]\w*)(?::\w+)?\}|\$([A-Za-z_]\w*)|\[\[([A-Za-z_]\w*)\]\]/g))
      used.add(m[1] ?? m[2] ?? m[3]);
  } else if (Array.isArray(v)) v.forEach(scan);
  else if (v && typeof v === "object") Object.values(v).forEach(scan);
};
scan(dash.panels);
for (const v of vars) scan([v.query, v.definition, v.datasource]);
const undefinedVars = [...used].filter((n) => !n.startsWith("__") && !defined.has(n));
check("every variable used is defined", undefinedVars.length === 0, undefinedVars.join(", "));
const unused = [...defined].filter((n) => !used.has(n));
check("every variable defined is used", unused.length === 0, unused.join(", "));

async function query(expr) {
  const r = await fetch(`${prom}/api/v1/query?query=${encodeURIComponent(expr)}`);
  const body = await r.json();
  if (body.status !== "success") throw new Error(body.error ?? `HTTP ${r.status}`);
  return body.data.result;
}
// Variables as "All" selects them; Grafana's own intervals as it would set them.
const expand = (e) => e.replaceAll("$__rate_interval", "1m").replaceAll("$__interval", "15s")
  .replaceAll("$__range", "10m").replace(/\$\{?(source|job|instance)\}?/g, ".*");
async function returnsData(name, expr, wantEmpty = false) {
  try {
    const r = await query(expr);
    check(`${name} ${wantEmpty ? "returns nothing" : "returns data"}`,
          wantEmpty ? r.length === 0 : r.length > 0, expr);
  } catch (e) {
    check(`${name} evaluates`, false, `${e.message}: ${expr}`);
  }
}

if (prom) {
  for (const p of panels)
    for (const t of p.targets ?? [])
      await returnsData(`panel "${p.title}" ${t.refId}`, expand(t.expr));
  for (const v of vars.filter((v) => v.type === "query")) {
    const q = typeof v.query === "string" ? v.query : v.query.query;
    const m = /^label_values\((.*),\s*(\w+)\)$/.exec(q);
    check(`variable ${v.name} is a label_values query`, !!m, q);
    if (m) await returnsData(`variable ${v.name}`, `count by (${m[2]}) (${expand(m[1])})`);
  }
  // The rules as Prometheus loaded them. Two alerts wait for hours of history; their
  // thresholds are lowered here (and must be found, so a changed rule is noticed). An
  // absent() rule returns data only when its target is gone.
  const lowered = { JobStalled: ["> 3600", "> 0"], MmsmonDataStale: ["> 1800", "> 0"] };
  const r = await (await fetch(`${prom}/api/v1/rules`)).json();
  const groups = r.data.groups.map((g) => g.name);
  check("the four rule groups are loaded",
        ["mmsmon-fleet", "mmsmon-jobs", "mmsmon-datasources", "mmsmon-daemon"].every((g) => groups.includes(g)),
        groups.join(", "));
  for (const g of r.data.groups)
    for (const rule of g.rules) {
      const name = rule.type === "alerting" ? `alert ${rule.name}` : `record ${rule.name}`;
      check(`${name} evaluates without error`, rule.health === "ok", rule.lastError);
      let expr = rule.query;
      if (lowered[rule.name]) {
        const [from, to] = lowered[rule.name];
        check(`${name}: threshold ${from} found`, expr.includes(from), expr);
        expr = expr.replace(from, to);
      }
      await returnsData(name, expr, /^absent\(/.test(expr));
    }
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
