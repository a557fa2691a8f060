// Reading a machine definition: its state nodes and transitions, with the
// names of their events, guards and actions. The README diagrams
// (scripts/diagrams.ts) and the dashboard's machine view (src/dashboard/)
// both draw from here, so the two pictures cannot disagree.
import type { AnyStateMachine, StateNode } from "xstate";

// deno-lint-ignore no-explicit-any -- any machine's state nodes
export type Node = StateNode<any, any>;
export type Transition = Node["transitions"] extends Map<string, (infer T)[]> ? T : never;

/** Every state node under `node`, itself included, in document order. */
export function stateNodes(node: Node): Node[] {
  return [node, ...Object.values(node.states).flatMap((child) => stateNodes(child as Node))];
}

export type TransitionInfo = {
  /** Stable across provide(): source id, event type ("" for always) and position among that event's candidates. */
  key: string;
  source: Node;
  transition: Transition;
  eventType: string;
  guard: string | undefined;
  targets: Node[];
  actions: string[];
};

/** Every transition a machine defines: `on`, `always`, `after`, and invoke `onDone`/`onError`. */
export function transitions(machine: AnyStateMachine): TransitionInfo[] {
  return stateNodes(machine.root).flatMap((source) => {
    const lists: [string, Transition[]][] = [...source.transitions.entries()];
    if (source.always?.length) lists.push(["", source.always as Transition[]]);
    return lists.flatMap(([eventType, list]) =>
      list.map((transition, index) => ({
        key: transitionKey(source, eventType, index),
        source,
        transition,
        eventType,
        guard: guardName(transition.guard),
        targets: (transition.target ?? []) as Node[],
        actions: actionNames(transition.actions),
      }))
    );
  });
}

export function transitionKey(source: { id: string }, eventType: string, index: number): string {
  return `${source.id} ${eventType === "" ? "(always)" : eventType} #${index}`;
}

/** The key of a transition definition taken at run time (as `@xstate.microstep` reports it). */
export function keyOfTaken(transition: Transition): string {
  const source = transition.source as Node;
  const list = transition.eventType === ""
    ? (source.always ?? [])
    : (source.transitions.get(transition.eventType) ?? []);
  return transitionKey(source, transition.eventType, (list as Transition[]).indexOf(transition));
}

function guardName(guard: unknown): string | undefined {
  if (guard === undefined) return undefined;
  if (typeof guard === "string") return guard;
  if (typeof guard === "function") {
    const combined = guard as { guards?: unknown[]; name?: string };
    const parts = (combined.guards ?? []).map(guardName);
    if (combined.name === "and") return parts.join(" and ");
    if (combined.name === "or") return parts.join(" or ");
    if (combined.name === "not") return `not ${parts.join("")}`;
    if (combined.name === "stateIn") return "stateIn";
    return combined.name || "inline guard";
  }
  if (typeof guard === "object" && guard && "type" in guard) return String((guard as { type: unknown }).type);
  return "inline guard";
}

export function actionNames(actions: readonly unknown[]): string[] {
  return actions.flatMap((action) => {
    if (typeof action === "string") return [action];
    if (action && typeof action === "object" && "type" in action) return [String((action as { type: unknown }).type)];
    if (typeof action === "function" && "type" in action) return [String((action as { type: unknown }).type)];
    return [];
  }).filter((name) => !name.startsWith("xstate."));
}

export function eventLabel(eventType: string): string {
  if (eventType === "") return "always";
  let match = /^xstate\.(done|error)\.actor\.(.+)$/.exec(eventType);
  if (match) return match[2] === "*" ? `any child ${match[1]}` : `${match[2]} ${match[1]}`;
  match = /^xstate\.after\.([^.]+)\./.exec(eventType);
  if (match) return `after ${match[1]}`;
  match = /^xstate\.done\.state\.(.+)$/.exec(eventType);
  if (match) return `${match[1]} done`;
  return eventType;
}

export function transitionLabel(t: TransitionInfo): string {
  let label = eventLabel(t.eventType);
  if (t.guard) label += ` [${t.guard}]`;
  if (t.actions.length) label += ` / ${t.actions.join(", ")}`;
  return label;
}
