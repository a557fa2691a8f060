// The pictures cannot go stale: docs/machines.md, README.md's marked block
// (when it has one) and the Stately Studio exports must equal what the live
// machine definitions produce, and each export must load back into XState
// with the same states and transitions.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { createMachine } from "xstate";
import {
  diagramsBlock,
  END_MARKER,
  expectedFiles,
  MACHINES,
  machinesMarkdown,
  markedBlock,
  PATHS,
  START_MARKER,
  stateNodes,
  studioJsonText,
  toMermaid,
  transitions,
} from "../scripts/diagrams.ts";

const STALE = "stale: run `npm run diagrams` and commit the result";

test("docs/machines.md matches the machines", async () => {
  assert.equal(await readFile(PATHS.markdown, "utf8"), machinesMarkdown(), STALE);
});

test("README.md's diagrams block, when it has one, matches the machines", async () => {
  const readme = await readFile(PATHS.readme, "utf8").catch(() => "");
  const block = markedBlock(readme);
  if (block === undefined) {
    assert.ok(!readme.includes(START_MARKER) && !readme.includes(END_MARKER), "README has only one of the two markers");
    return;
  }
  assert.equal(block, diagramsBlock(), STALE);
});

test("the script would change nothing", async () => {
  for (const { path, content } of await expectedFiles()) {
    assert.equal(await readFile(path, "utf8").catch(() => undefined), content, `${path} is ${STALE}`);
  }
});

test("docs/machines/*.json match the machines", async () => {
  for (const { name, machine } of MACHINES) {
    assert.equal(await readFile(PATHS.json(name), "utf8"), studioJsonText(machine), `${name}.json is ${STALE}`);
  }
});

test("each Studio export loads back into XState with the same states and transitions", () => {
  for (const { name, machine } of MACHINES) {
    const loaded = createMachine(JSON.parse(studioJsonText(machine)));
    assert.deepEqual(
      stateNodes(loaded.root).map((n) => `${n.id}:${n.type}`),
      stateNodes(machine.root).map((n) => `${n.id}:${n.type}`),
      name,
    );
    const shape = (m: typeof machine) =>
      transitions(m).map((t) =>
        `${t.key} -> ${t.targets.map((x) => x.id).join(",")} [${t.guard ?? ""}] ${
          t.transition.reenter ? "reenter" : ""
        }`
      );
    assert.deepEqual(shape(loaded), shape(machine), name);
  }
});

test("every state and every transition appears in its diagram", () => {
  for (const { name, machine } of MACHINES) {
    const diagram = toMermaid(machine);
    assert.match(diagram, /^stateDiagram-v2\n/);
    // The root is the diagram itself; it is drawn as a box only when it needs one.
    for (const node of stateNodes(machine.root).slice(1)) {
      assert.ok(diagram.includes(node.key), `${name}: state ${node.id} is missing`);
    }
    // An edge line per target, or an "on …" line in the state's box or note for targetless ones.
    const edgeLines = diagram.split("\n").filter((l) => / --> /.test(l) && !l.includes("[*]")).length;
    const onLines = diagram.split("\n").filter((l) => /(: | )on /.test(l)).length;
    const expected = transitions(machine).reduce((n, t) => n + Math.max(1, t.targets.length), 0);
    assert.equal(edgeLines + onLines, expected, `${name}: ${edgeLines} edges + ${onLines} on-lines`);
  }
});

test("the block sits between the markers, once", () => {
  const block = diagramsBlock();
  assert.ok(block.startsWith(START_MARKER) && block.endsWith(END_MARKER));
  assert.equal(block.split(START_MARKER).length, 2);
  assert.equal(markedBlock(`intro\n${block}\noutro`), block);
  assert.equal(markedBlock("no markers here"), undefined);
});
