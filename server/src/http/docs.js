"use strict";
const el = (tag, attrs = {}, ...kids) => {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  for (const kid of kids) node.append(kid);
  return node;
};
const resolve = (spec, schema) =>
  schema && schema.$ref ? spec.components.schemas[schema.$ref.split("/").pop()] : schema;
function example(spec, schema, depth = 0) {
  schema = resolve(spec, schema);
  if (!schema || depth > 4) return null;
  const type = Array.isArray(schema.type) ? schema.type.find(t => t !== "null") : schema.type;
  if (type === "object" || schema.properties) {
    const out = {};
    for (const [k, v] of Object.entries(schema.properties || {})) out[k] = example(spec, v, depth + 1);
    return out;
  }
  if (type === "array") return [example(spec, schema.items, depth + 1)].filter(x => x !== null);
  if (type === "integer" || type === "number") return 0;
  if (type === "boolean") return false;
  return "";
}
function operation(spec, path, method, op) {
  const params = op.parameters || [];
  const inputs = params.map(p => {
    const input = el("input", { "data-in": p.in, "data-name": p.name, placeholder: p.description || "" });
    return { p, input, label: el("label", {}, `${p.name} (${p.in}${p.required ? ", required" : ""}) `, input) };
  });
  const bodySchema = op.requestBody && op.requestBody.content["application/json"].schema;
  const body = bodySchema ? el("textarea", {}) : null;
  if (body) body.value = JSON.stringify(example(spec, bodySchema), null, 2);
  const out = el("pre", {}, "");
  const send = el("button", {}, "Send");
  send.onclick = async () => {
    let url = path;
    const query = new URLSearchParams();
    for (const { p, input } of inputs) {
      if (!input.value) continue;
      if (p.in === "path") url = url.replace(`{${p.name}}`, encodeURIComponent(input.value));
      else if (p.in === "query") query.set(p.name, input.value);
    }
    if ([...query].length) url += "?" + query;
    const headers = { "Content-Type": "application/json" };
    const token = document.getElementById("token").value.trim();
    const tenant = document.getElementById("tenant").value.trim();
    if (token) headers.Authorization = "Bearer " + token;
    if (tenant) headers["X-Tenant-ID"] = tenant;
    out.textContent = "…";
    try {
      const res = await fetch(url, { method: method.toUpperCase(), headers, body: body ? body.value : undefined });
      const text = await res.text();
      let shown = text;
      try { shown = JSON.stringify(JSON.parse(text), null, 2); } catch (_) {}
      out.textContent = `${res.status} ${res.statusText}\n\n${shown}`;
    } catch (e) { out.textContent = String(e); }
  };
  const responses = Object.keys(op.responses || {}).join(", ");
  return el("details", {},
    el("summary", {}, el("span", { class: "m " + method }, method), ` ${path} — ${op.summary || ""}`),
    el("div", { class: "op" },
      el("p", {}, op.description || ""), el("p", {}, "Responses: " + responses),
      ...inputs.map(i => i.label), ...(body ? [el("label", {}, "JSON body"), body] : []), send, out));
}
fetch("/api/docs-json").then(r => r.json()).then(spec => {
  const root = document.getElementById("ops");
  root.textContent = "";
  root.append(el("p", {}, spec.info.description || ""));
  const byTag = {};
  for (const [path, item] of Object.entries(spec.paths))
    for (const [method, op] of Object.entries(item))
      (byTag[(op.tags || ["other"])[0]] ||= []).push([path, method, op]);
  for (const [tag, ops] of Object.entries(byTag)) {
    root.append(el("h2", {}, tag));
    for (const [path, method, op] of ops) root.append(operation(spec, path, method, op));
  }
}).catch(e => { document.getElementById("ops").textContent = "Cannot load the API description: " + e; });
