// The machines as data the dashboard draws: every state node and every
// transition, read from the live definitions through machines/graph.ts (the
// reader the README diagrams use), so the page cannot drift from the code.
import type { AnyStateMachine } from "xstate";
import { MACHINES } from "../../machines/catalog.ts";
import { actionNames, eventLabel, type Node, stateNodes, transitions } from "../../machines/graph.ts";

export type StateJson = {
  /** XState's id: the machine id and the path, dot-joined ("dispatcher.intake.idle"). */
  id: string;
  key: string;
  /** Keys from the root down, the root itself excluded ([] for the root). */
  path: string[];
  type: "atomic" | "compound" | "parallel" | "final" | "history";
  parent: string | null;
  initial: string | null;
  entry: string[];
  invoke: string[];
};

export type TransitionJson = {
  source: string;
  /** Empty for a transition that only runs actions. */
  targets: string[];
  event: string;
  guard: string | null;
  actions: string[];
};

export type MachineGraph = {
  name: string;
  summary: string;
  states: StateJson[];
  transitions: TransitionJson[];
};

export function machineGraph(name: string, summary: string, machine: AnyStateMachine): MachineGraph {
  return {
    name,
    summary,
    states: stateNodes(machine.root).map((n: Node) => ({
      id: n.id,
      key: n.key,
      path: [...n.path],
      type: n.type,
      parent: (n.parent as Node | undefined)?.id ?? null,
      initial: (n.initial?.target?.[0] as Node | undefined)?.id ?? null,
      entry: actionNames(n.entry as unknown[]),
      invoke: n.invoke.map((inv) => inv.id),
    })),
    transitions: transitions(machine).map((t) => ({
      source: t.source.id,
      targets: t.targets.map((target) => target.id),
      event: eventLabel(t.eventType),
      guard: t.guard ?? null,
      actions: t.actions,
    })),
  };
}

/** Every machine statehook runs, in the README's order. */
export function machineGraphs(): MachineGraph[] {
  return MACHINES.map(({ name, summary, machine }) => machineGraph(name, summary, machine));
}
