// The API documentation page (/api/docs): /api/openapi.json rendered by the page itself
// (no CDN, no third-party viewer). Every text comes from the document as Preact text nodes.
import { useEffect, useState } from "preact/hooks";
import { getJson } from "./api.js";
import { html } from "./util.js";
import { ErrorNote, TopBar } from "./widgets.js";

const ACCESS = { open: "open", read: "read", token: "token" };

/** One line describing a JSON Schema: type, enum, limits, format, default. */
function describe(s) {
  if (!s || typeof s !== "object") return "any";
  if (s.enum) return s.enum.map((v) => JSON.stringify(v)).join(" | ");
  if (s.const !== undefined) return JSON.stringify(s.const);
  const alts = s.anyOf ?? s.oneOf;
  if (alts) return alts.map(describe).join(" or ");
  let type = Array.isArray(s.type) ? s.type.join(" | ") : s.type ?? "any";
  if (type === "array") type = `array of ${describe(s.items)}`;
  const notes = [];
  if (s.format) notes.push(s.format);
  else if (s.pattern && s.pattern.length <= 40) notes.push(`pattern ${s.pattern}`);
  if (s.minLength !== undefined || s.maxLength !== undefined) {
    notes.push(`length ${s.minLength ?? 0}–${s.maxLength ?? "∞"}`);
  }
  if (s.minimum !== undefined || s.maximum !== undefined) {
    notes.push(`${s.minimum ?? "−∞"}–${s.maximum ?? "∞"}`);
  }
  if (s.minItems) notes.push(`at least ${s.minItems}`);
  if (s.default !== undefined) notes.push(`default ${JSON.stringify(s.default)}`);
  return notes.length ? `${type} (${notes.join(", ")})` : type;
}

/** The fields of an object schema (nested objects indented), or one line. */
function SchemaView({ schema, depth = 0 }) {
  const s = schema?.type === "array" && schema.items?.properties ? schema.items : schema;
  if (!s?.properties) return html`<code class="schema-line">${describe(schema)}</code>`;
  const required = new Set(s.required ?? []);
  return html`<ul class="schema" data-depth=${depth}>
    ${schema !== s ? html`<li class="muted">array of:</li>` : null}
    ${
    Object.entries(s.properties).map(([name, p]) =>
      html`<li key=${name}>
        <code class="field">${name}</code>${
        required.has(name) ? null : html`<span class="muted">?</span>`
      } <span class="type">${
        p.properties || p.items?.properties
          ? (p.type === "array" ? "array of" : "object")
          : describe(p)
      }</span>
        ${p.description ? html`<span class="muted"> — ${p.description}</span>` : null}
        ${
        (p.properties || p.items?.properties) && depth < 4
          ? html`<${SchemaView} schema=${p.items?.properties ? p.items : p} depth=${depth + 1} />`
          : null
      }
      </li>`
    )
  }
  </ul>`;
}

function Operation({ method, path, op }) {
  const params = op.parameters ?? [];
  const body = op.requestBody?.content?.["application/json"]?.schema;
  const access = op["x-access"];
  return html`<article class="op" id=${op.operationId} data-method=${method} data-path=${path}>
    <h3 class="op-head">
      <span class=${`method m-${method}`}>${method.toUpperCase()}</span>
      <code class="op-path">${path}</code>
      ${
    access ? html`<span class=${`tag access-${access}`}>${ACCESS[access] ?? access}</span>` : null
  }
    </h3>
    <p class="op-summary">${op.summary}</p>
    ${
    (op.description ?? "").split("\n\n").filter(Boolean).map((p) =>
      html`<p class="muted op-desc">${p}</p>`
    )
  }
    ${
    params.length
      ? html`
        <h4>Parameters</h4>
        <table class="kv params">
          <tbody>${params.map((p) =>
            html`
              <tr key=${p.in + p.name}>
                <th scope="row"><code>${p.name}</code> <span class="muted">${p.in}${p.required
                  ? ", required"
                  : ""}</span></th>
                <td>${describe(p.schema)}${p.description
                  ? html`<div class="muted">${p.description}</div>`
                  : null}</td>
              </tr>
            `
          )}</tbody>
        </table>
      `
      : null
  }
    ${
    body
      ? html`
        <h4>Body (JSON)</h4>
        <div class="op-body">
          <${SchemaView} schema=${body} />
        </div>
      `
      : null
  }
    <h4>Answers</h4>
    <ul class="answers">${
    Object.entries(op.responses ?? {}).map(([status, r]) => {
      const json = r.content?.["application/json"]?.schema;
      const other = r.content && !json ? Object.keys(r.content)[0] : null;
      return html`<li key=${status}>
        <span class=${`status s${status[0]}`}>${status}</span> ${r.description}${
        other
          ? html`
            <span class="muted">(${other})</span>
          `
          : null
      }
        ${
        json
          ? html`
            <details>
              <summary>JSON</summary>
              <${SchemaView} schema=${json} />
            </details>
          `
          : null
      }
      </li>`;
    })
  }</ul>
  </article>`;
}

/** The documentation page. */
export function ApiDocs() {
  const [doc, setDoc] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => {
    document.title = "Vigil · API";
    getJson("/api/openapi.json").then(setDoc, setError);
  }, []);
  const ops = [];
  for (const [path, item] of Object.entries(doc?.paths ?? {})) {
    for (const [method, op] of Object.entries(item)) ops.push({ path, method, op });
  }
  const tags = doc?.tags?.map((t) => t.name) ?? [];
  return html`
    <div class="page docs-page">
      <${TopBar} />
      <main class="page-main">
          <${ErrorNote} error=${error} />
          ${doc
            ? html`
                <section class="card docs-intro">
                <h2>${doc.info.title} <span class="muted">OpenAPI ${doc.openapi}</span></h2>
                <p>${doc.info.description}</p>
                <p class="muted">Access: <b>open</b> never needs a token; <b>read</b> needs it only with
                    WEB_PUBLIC_READ=false; <b>token</b> always needs <code>Authorization: Bearer
                    $VIGIL_API_TOKEN</code>. The machine-readable document: <a
              href="/api/openapi.json">/api/openapi.json</a>.</p>
                <nav class="toc">${tags.map((t) =>
                  html`<a key=${t} href=${`#tag-${t}`}>${t}</a>`
                )}</nav>
              </section>
                ${tags.map((t) =>
                  html`<section class="card docs-tag" id=${`tag-${t}`} key=${t}>
            <div class="card-head"><h2>${t}</h2></div>
            ${
                    ops.filter((o) => o.op.tags?.[0] === t).map((o) =>
                      html`<${Operation} key=${o.method + o.path} ...${o} />`
                    )
                  }
          </section>`
                )}
            `
            : error
            ? null
            : html`<p class="muted pad">Loading…</p>`}
        </main>
    </div>
  `;
}
