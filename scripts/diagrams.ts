// Diagrams from the code: a Mermaid state diagram of each machine (written to
// docs/machines.md and between the `machines` markers of README.md when it has
// them) and a JSON config per machine that Stately Studio imports
// (docs/machines/*.json). Everything is read from the live definitions, so
// `npm run diagrams -- --check` (and test/diagrams.test.ts) catch a stale picture.
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { AnyStateMachine } from "xstate";
import { MACHINES } from "../machines/catalog.ts";
import {
  actionNames,
  type Node,
  stateNodes,
  type TransitionInfo,
  transitionLabel,
  transitions,
} from "../machines/graph.ts";

// Re-exported: tests and older callers read them from here.
export { MACHINES };
export { keyOfTaken, stateNodes, type TransitionInfo, transitionKey, transitions } from "../machines/graph.ts";

export const START_MARKER = "<!-- machines:start -->";
export const END_MARKER = "<!-- machines:end -->";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
export const PATHS = {
  markdown: join(ROOT, "docs/machines.md"),
  readme: join(ROOT, "README.md"),
  json: (name: string) => join(ROOT, `docs/machines/${name}.json`),
};

// ---------------------------------------------------------------------------
// Mermaid

/** A Mermaid stateDiagram-v2 of the machine, deterministic for a given definition. */
export function toMermaid(machine: AnyStateMachine): string {
  const all = stateNodes(machine.root);
  const keyCount = new Map<string, number>();
  for (const n of all) keyCount.set(n.key, (keyCount.get(n.key) ?? 0) + 1);
  // Keys are ids where they are unique; a repeated key (two regions' `idle`) takes its path.
  const idOf = (n: Node) => (keyCount.get(n.key) === 1 ? n.key : n.path.join("_"));
  const byLca = new Map<Node, TransitionInfo[]>();
  const selfOnly = new Map<Node, TransitionInfo[]>();
  for (const t of transitions(machine)) {
    if (t.targets.length === 0) {
      selfOnly.set(t.source, [...(selfOnly.get(t.source) ?? []), t]);
      continue;
    }
    const home = lca([t.source, ...t.targets]);
    byLca.set(home, [...(byLca.get(home) ?? []), t]);
  }

  const lines: string[] = ["stateDiagram-v2"];
  const emit = (depth: number, text: string) => lines.push(`${"  ".repeat(depth)}${text}`);
  const notes: string[][] = [];

  const details = (n: Node): string[] => {
    const out: string[] = [];
    const entry = actionNames(n.entry as unknown[]);
    if (entry.length) out.push(`entry / ${entry.join(", ")}`);
    for (const inv of n.invoke) out.push(`invoke ${inv.id === inv.src ? inv.id : `${inv.id} (${String(inv.src)})`}`);
    if (n.type === "atomic" || n.type === "final") {
      for (const t of selfOnly.get(n) ?? []) out.push(`on ${transitionLabel(t)}`);
    }
    return out;
  };
  const compoundNotes = (n: Node): string[] => [
    ...details(n),
    ...(n.type === "atomic" || n.type === "final"
      ? []
      : (selfOnly.get(n) ?? []).map((t) => `on ${transitionLabel(t)}`)),
  ];

  const body = (n: Node, depth: number) => {
    const children = Object.values(n.states) as Node[];
    if (n.type === "parallel") {
      children.forEach((region, i) => {
        if (i > 0) emit(depth, "--");
        block(region, depth);
      });
    } else {
      const initial = n.initial?.target?.[0] as Node | undefined;
      if (initial) emit(depth, `[*] --> ${idOf(initial)}`);
      for (const child of children) {
        if (Object.keys(child.states).length) block(child, depth);
        else {
          if (idOf(child) !== child.key) emit(depth, `state "${child.key}" as ${idOf(child)}`);
          for (const line of details(child)) emit(depth, `${idOf(child)} : ${line}`);
        }
      }
      for (const child of children) if (child.type === "final") emit(depth, `${idOf(child)} --> [*]`);
    }
    for (const t of byLca.get(n) ?? []) {
      for (const target of t.targets) emit(depth, `${idOf(t.source)} --> ${idOf(target)} : ${transitionLabel(t)}`);
    }
  };
  const block = (n: Node, depth: number) => {
    emit(depth, `state ${idOf(n)} {`);
    body(n, depth + 1);
    emit(depth, "}");
    const text = compoundNotes(n);
    if (text.length) notes.push([idOf(n), ...text]);
  };

  const root = machine.root as Node;
  const rootNeedsBox = root.type === "parallel" || compoundNotes(root).length > 0;
  if (rootNeedsBox) block(root, 1);
  else body(root, 1);
  for (const [id, ...text] of notes) {
    emit(1, `note right of ${id}`);
    for (const line of text) emit(2, line);
    emit(1, "end note");
  }
  return lines.join("\n");
}

/** Lowest state node that contains all of `nodes` as proper descendants (or is the root). */
function lca(nodes: Node[]): Node {
  const chains = nodes.map((n) => {
    const chain: Node[] = [];
    for (let p: Node | undefined = n.parent as Node | undefined; p; p = p.parent as Node | undefined) chain.unshift(p);
    return chain;
  });
  let common = chains[0][0];
  for (let i = 0; chains.every((c) => i < c.length && c[i] === chains[0][i]); i++) common = chains[0][i];
  return common;
}

// ---------------------------------------------------------------------------
// Stately Studio JSON (a plain machine config: names instead of functions)

type JsonTransition = { target?: string[] | string; guard?: string; actions?: string[]; reenter?: true };

function targetRef(source: Node, target: Node): string {
  if (target.parent && target.parent === source.parent) return target.key;
  if (target.parent === source) return `.${target.key}`;
  return `#${target.id}`;
}

function jsonTransition(t: TransitionInfo): JsonTransition {
  const out: JsonTransition = {};
  if (t.targets.length) {
    const refs = t.targets.map((target) => targetRef(t.source, target));
    out.target = refs.length === 1 ? refs[0] : refs;
  }
  if (t.guard) out.guard = t.guard;
  if (t.actions.length) out.actions = t.actions;
  if (t.transition.reenter) out.reenter = true;
  return out;
}

const one = (list: JsonTransition[]) => (list.length === 1 ? list[0] : list);

/** A JSON machine config of `machine` that Stately Studio can import and XState can load. */
export function toStudioJson(machine: AnyStateMachine): Record<string, unknown> {
  const all = transitions(machine);
  const convert = (n: Node): Record<string, unknown> => {
    const out: Record<string, unknown> = {};
    if (n === machine.root) out.id = machine.id;
    if (n.type === "parallel" || n.type === "final") out.type = n.type;
    const initial = n.initial?.target?.[0] as Node | undefined;
    if (initial && n.type === "compound") out.initial = initial.key;
    const entry = actionNames(n.entry as unknown[]);
    if (entry.length) out.entry = entry;
    const exit = actionNames(n.exit as unknown[]);
    if (exit.length) out.exit = exit;
    const own = all.filter((t) => t.source === n);
    const on: Record<string, unknown> = {};
    const after: Record<string, unknown> = {};
    const always: JsonTransition[] = [];
    const invokeIds = new Set(n.invoke.map((i) => i.id));
    const invokes = n.invoke.map((inv) => ({ id: inv.id, src: String(inv.src) } as Record<string, unknown>));
    for (const eventType of new Set(own.map((t) => t.eventType))) {
      const list = own.filter((t) => t.eventType === eventType).map(jsonTransition);
      if (eventType === "") {
        always.push(...list);
        continue;
      }
      const delay = /^xstate\.after\.([^.]+)\./.exec(eventType);
      const child = /^xstate\.(done|error)\.actor\.(.+)$/.exec(eventType);
      if (delay) after[delay[1]] = one(list);
      else if (child && invokeIds.has(child[2])) {
        invokes.find((i) => i.id === child[2])![child[1] === "done" ? "onDone" : "onError"] = one(list);
      } else on[eventType] = one(list);
    }
    if (invokes.length) out.invoke = invokes.length === 1 ? invokes[0] : invokes;
    if (always.length) out.always = one(always);
    if (Object.keys(after).length) out.after = after;
    if (Object.keys(on).length) out.on = on;
    const children = Object.values(n.states) as Node[];
    if (children.length) out.states = Object.fromEntries(children.map((c) => [c.key, convert(c)]));
    return out;
  };
  return convert(machine.root as Node);
}

// ---------------------------------------------------------------------------
// The generated documents

export function counts(machine: AnyStateMachine): { states: number; transitions: number } {
  return { states: stateNodes(machine.root).length, transitions: transitions(machine).length };
}

/** The block that sits between the markers, in docs/machines.md and README.md. */
export function diagramsBlock(): string {
  const sections = MACHINES.map(({ name, summary, machine }) => {
    const { states, transitions } = counts(machine);
    return [
      `#### \`${name}\` machine (\`machines/${name}.ts\`)`,
      "",
      `${summary[0].toUpperCase()}${summary.slice(1)}. ${states} state nodes, ${transitions} transitions.`,
      "",
      "```mermaid",
      toMermaid(machine),
      "```",
    ].join("\n");
  });
  return [
    START_MARKER,
    "<!-- Generated by `npm run diagrams` from machines/*.ts: edit the machines, not this block. -->",
    "",
    ...sections.flatMap((s) => [s, ""]),
    "To open a machine in Stately Studio, import its config from `docs/machines/<name>.json`.",
    "",
    END_MARKER,
  ].join("\n");
}

export function machinesMarkdown(): string {
  return [
    "# statehook's machines",
    "",
    "The XState machines in `machines/`, drawn from their definitions.",
    "",
    diagramsBlock(),
    "",
  ].join("\n");
}

export function studioJsonText(machine: AnyStateMachine): string {
  return `${JSON.stringify(toStudioJson(machine), null, 2)}\n`;
}

/** The text between (and including) the markers, or undefined when `text` has none. */
export function markedBlock(text: string): string | undefined {
  const start = text.indexOf(START_MARKER);
  const end = text.indexOf(END_MARKER);
  if (start === -1 || end === -1 || end < start) return undefined;
  return text.slice(start, end + END_MARKER.length);
}

/** Every generated file and its expected content; README only when it has the markers. */
export async function expectedFiles(): Promise<{ path: string; content: string }[]> {
  const files = [
    { path: PATHS.markdown, content: machinesMarkdown() },
    ...MACHINES.map(({ name, machine }) => ({ path: PATHS.json(name), content: studioJsonText(machine) })),
  ];
  const readme = await readFile(PATHS.readme, "utf8").catch(() => undefined);
  const current = readme === undefined ? undefined : markedBlock(readme);
  if (readme !== undefined && current !== undefined) {
    files.push({ path: PATHS.readme, content: readme.replace(current, () => diagramsBlock()) });
  }
  return files;
}

async function main(args: string[]) {
  const check = args.includes("--check");
  const stale: string[] = [];
  for (const { path, content } of await expectedFiles()) {
    const current = await readFile(path, "utf8").catch(() => undefined);
    if (current === content) continue;
    stale.push(path);
    if (!check) {
      await mkdir(dirname(path), { recursive: true });
      await writeFile(path, content);
    }
  }
  const names = stale.map((p) => p.slice(ROOT.length + 1));
  if (check) {
    if (stale.length) {
      console.error(`diagrams are stale: ${names.join(", ")} (run npm run diagrams)`);
      process.exit(1);
    }
    console.log("diagrams are up to date");
  } else {
    console.log(stale.length ? `wrote ${names.join(", ")}` : "diagrams are up to date");
  }
}

if ((import.meta as { main?: boolean }).main) await main(process.argv.slice(2));
