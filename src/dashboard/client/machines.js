// The live machinery: the machines drawn from their definitions
// (/dashboard/machines.json, made from machines/*.ts by the same reader as
// the README diagrams) as nested boxes, one per state, each listing the
// transitions that leave it. The live stream fills in how many actors are in
// each state, the dispatcher's and the result writer's current states, and
// the state of one chosen endpoint's webhook actor: the built-in, offline
// counterpart of the Stately inspector.
import { useEffect, useState } from "preact/hooks";
import { html } from "htm/preact";
import { useResource } from "./resource.js";
import { navigate } from "./route.js";

let graphs;
function loadGraphs() {
  graphs ??= fetch("/dashboard/machines.json", { credentials: "omit" }).then((r) => {
    if (!r.ok) throw new Error(`machines.json answered ${r.status}`);
    return r.json();
  }).catch((error) => {
    graphs = undefined;
    throw error;
  });
  return graphs;
}

/**
 * The ids of the states a snapshot value names. A value is what XState's
 * snapshot.value is ("open", or { intake: "idle", writer: "flushing" }), or
 * the same as text: a dotted path ("intake.claiming.active"), several of
 * them, or JSON.
 */
export function activeIds(rootId, value) {
  const ids = new Set();
  const walk = (prefix, v) => {
    if (v === null || v === undefined) return;
    if (typeof v === "object") {
      for (const [key, child] of Object.entries(v)) {
        ids.add(`${prefix}.${key}`);
        walk(`${prefix}.${key}`, child);
      }
      return;
    }
    const text = String(v).trim();
    if (text.startsWith("{")) {
      try {
        return walk(prefix, JSON.parse(text));
      } catch {
        return;
      }
    }
    for (const path of text.split(/[\s,]+/).filter(Boolean)) {
      let id = prefix;
      for (const key of path.split(".")) {
        if (key === rootId && id === rootId) continue;
        id = `${id}.${key}`;
        ids.add(id);
      }
    }
  };
  walk(rootId, value);
  return ids;
}

/** Actor counts per state id, from the stream's { "<state>": count }. */
function countsById(rootId, counts) {
  const byId = new Map();
  for (const [state, count] of Object.entries(counts ?? {})) {
    const ids = [...activeIds(rootId, state)];
    const leaf = ids[ids.length - 1];
    if (leaf) byId.set(leaf, (byId.get(leaf) ?? 0) + Number(count));
  }
  return byId;
}

export function MachinesView({ api, snapshot, params }) {
  const [data, setData] = useState(undefined);
  const [problem, setProblem] = useState(undefined);
  useEffect(() => {
    loadGraphs().then(setData, (error) => setProblem(error.message));
  }, []);

  // Names for the endpoint picker: the first page of every webhook, by URL.
  const webhooks = useResource(() => api.get("/webhooks", { limit: 100 }), [api]);
  const urls = new Map((webhooks.data?.data ?? []).map((w) => [w.id, w.url]));
  const liveWebhooks = snapshot?.webhooks ?? {};
  const chosen = params.webhook ?? "";
  const choices = Object.keys(liveWebhooks);
  if (chosen && !choices.includes(chosen)) choices.unshift(chosen);
  const chosenActor = chosen ? liveWebhooks[chosen] : undefined;

  if (problem) return html`<p class="error" role="alert">Could not load the machines: ${problem}</p>`;
  if (!data) return html`<p>Loading…</p>`;

  const machines = snapshot?.machines ?? {};
  const dispatcher = machines.dispatcher;
  const writer = machines["result-writer"];
  return html`
    <section class="machines">
      <div class="toolbar">
        <h2>Machines</h2>
        <label>Endpoint's webhook actor
          <select name="webhook" value=${chosen} onChange=${(e) =>
            navigate("machines", undefined, { webhook: e.currentTarget.value })}>
            <option value="">none</option>
            ${choices.map((id) =>
              html`<option value=${id}>${urls.has(id) ? `${urls.get(id)} (${id.slice(0, 8)})` : id}</option>`
            )}
          </select>
        </label>
        ${chosen && !chosenActor
          ? html`<span class="muted">No actor runs for this endpoint now (none is kept while it has nothing to send).</span>`
          : null}
        <span class="muted">${snapshot?.at
          ? `as of ${new Date(snapshot.at).toLocaleTimeString()}`
          : "waiting for the live stream…"}</span>
      </div>
      ${snapshot?.totals ? html`<${Totals} totals=${snapshot.totals} />` : null}
      ${data.machines.map((graph) => {
        const root = graph.states[0].id;
        let active = new Set();
        let counts;
        let current = new Set();
        let note = null;
        if (graph.name === "dispatcher" && dispatcher) {
          active = activeIds(root, dispatcher.state);
          note = `in flight: ${dispatcher.in_flight ?? "—"}`;
        } else if (graph.name === "result-writer" && writer) {
          active = activeIds(root, writer.state);
          note = `unwritten: ${writer.unwritten ?? "—"}`;
        } else if (graph.name === "delivery" || graph.name === "webhook") {
          counts = countsById(root, machines[graph.name]);
          const total = [...counts.values()].reduce((a, b) => a + b, 0);
          note = `${total} ${graph.name} ${total === 1 ? "actor" : "actors"}`;
          if (graph.name === "webhook" && chosenActor) {
            current = activeIds(root, chosenActor.value ?? chosenActor.state);
          }
        }
        return html`
          <${Machine} key=${graph.name} graph=${graph} active=${active} counts=${counts} current=${current}
            note=${note} />
        `;
      })}
    </section>
  `;
}

function Totals({ totals }) {
  const entries = Object.entries(totals).filter(([, v]) => typeof v === "number" || typeof v === "string");
  return html`<dl class="totals" data-testid="totals">
    ${
    entries.map(([k, v]) =>
      html`
        <div>
          <dt>${k.replaceAll("_", " ")}</dt>
          <dd>${v}</dd>
        </div>
      `
    )
  }
  </dl>`;
}

function Machine({ graph, active, counts, current, note }) {
  const byId = new Map(graph.states.map((s) => [s.id, s]));
  const children = new Map();
  for (const s of graph.states) {
    if (s.parent) children.set(s.parent, [...(children.get(s.parent) ?? []), s]);
  }
  const outgoing = new Map();
  for (const t of graph.transitions) outgoing.set(t.source, [...(outgoing.get(t.source) ?? []), t]);
  const context = { byId, children, outgoing, active, counts, current };
  return html`
    <article class="machine" data-machine=${graph.name}>
      <h3>${graph.name} <span class="muted">machines/${graph.name}.ts</span></h3>
      <p class="muted">${graph.summary}. ${note
        ? html`<strong data-testid=${`${graph.name}-note`}>${note}</strong>`
        : null}</p>
      <${StateBox} state=${graph.states[0]} context=${context} />
    </article>
  `;
}

function StateBox({ state, context, initial }) {
  const { byId, children, outgoing, active, counts, current } = context;
  const kids = children.get(state.id) ?? [];
  const leaving = outgoing.get(state.id) ?? [];
  const count = counts && kids.length === 0 ? counts.get(state.id) ?? 0 : undefined;
  const classes = [
    "state",
    `type-${state.type}`,
    active.has(state.id) ? "active" : "",
    current.has(state.id) ? "current" : "",
    count ? "occupied" : "",
  ].filter(Boolean).join(" ");
  return html`
    <div class=${classes} data-state=${state.id}>
      <div class="state-head">
        ${initial ? html`<span class="initial" title="initial state">●→</span>` : null}
        <span class="state-name">${state.key}</span>
        ${count !== undefined ? html`<span class="count" data-count=${state.id}>${count}</span>` : null}
        ${current.has(state.id) && kids.length === 0 ? html`<span class="you">this endpoint</span>` : null}
      </div>
      ${state.entry.length ? html`<div class="state-note">entry / ${state.entry.join(", ")}</div>` : null}
      ${state.invoke.length ? html`<div class="state-note">invoke ${state.invoke.join(", ")}</div>` : null}
      ${kids.length
        ? html`<div class=${state.type === "parallel" ? "regions" : "substates"}>
            ${
          kids.map((kid) =>
            html`<${StateBox} key=${kid.id} state=${kid} context=${context} initial=${state.initial === kid.id} />`
          )
        }
          </div>`
        : null}
      ${leaving.length
        ? html`<ul class="transitions">${
          leaving.map((t) => html`<${TransitionItem} transition=${t} byId=${byId} />`)
        }</ul>`
        : null}
    </div>
  `;
}

/** "SENT [succeeded] / recordResult → delivered": one transition leaving a state. */
function TransitionItem({ transition: t, byId }) {
  const guard = t.guard ? ` [${t.guard}]` : "";
  const actions = t.actions.length ? ` / ${t.actions.join(", ")}` : "";
  const targets = t.targets.map((id) => byId.get(id)?.key ?? id).join(", ");
  return html`<li>
    <span class="event">${t.event}</span><span class="guard">${guard}</span><span class="actions">${actions}</span>
    <span class="arrow"> → ${targets || html`<em>stays</em>`}</span>
  </li>`;
}
