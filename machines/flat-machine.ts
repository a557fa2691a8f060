// A flat XState machine at the price of a reducer. XState's interpreter is
// general (nested and parallel states, history, delays, spawned children):
// every microstep builds sets of state nodes, a state value and a whole
// snapshot, and creating a machine actor runs a macrostep before its first
// event. For the delivery actor, one per delivery, that was most of what the
// process spent per delivery beyond fetch and Postgres (BENCHMARKS.md,
// "Service CPU per delivery"). flatMachine(machine) runs the same definition
// (its config, guards and actions, provide()d effects included) as a plain
// ActorLogic for the subset it uses: top-level atomic and final states,
// exact event types, `always`, named or inline guards and actions with
// params, and assign. Anything else is refused when the logic is built, not
// misread later. The actor is still an XState actor in the same system: the
// inspector sees it, its events and snapshots, and draws the machine's own
// config; its parent gets the usual done event with the output.
//
// test/flat-machine.test.ts runs random event sequences through XState's
// interpreter and this one side by side and requires the same states,
// context, output and effects after every event.
import type { AnyActorLogic, AnyActorScope, AnyEventObject, AnyStateMachine } from "xstate";

// XState's own shapes, as it normalises a machine (StateNode, TransitionDefinition).
type ActionRef = string | { type: string; params?: unknown } | ((...args: unknown[]) => unknown);
type GuardRef = string | { type: string; params?: unknown } | ((...args: unknown[]) => boolean);
type TransitionDef = {
  target?: { key: string; parent?: unknown }[];
  guard?: GuardRef;
  actions: ActionRef[];
  reenter?: boolean;
};
type StateNodeLike = {
  key: string;
  type: string;
  parent?: StateNodeLike;
  states: Record<string, StateNodeLike>;
  entry: ActionRef[];
  exit: ActionRef[];
  transitions: Map<string, TransitionDef[]>;
  always?: TransitionDef[];
  after: unknown[];
  invoke: unknown[];
  output?: unknown;
  initial?: { target: StateNodeLike[] };
};
type Implementation = ((args: unknown, params: unknown) => unknown) & {
  resolve?: unknown;
  type?: string;
  assignment?: unknown;
  check?: unknown;
};

type Transition = { target: string | undefined; guard: GuardRef | undefined; actions: ActionRef[] };
type Node = {
  final: boolean;
  entry: ActionRef[];
  exit: ActionRef[];
  on: Map<string, Transition[]>;
  always: Transition[];
};

export type FlatSnapshot = {
  status: "active" | "done" | "error" | "stopped";
  value: string;
  context: Record<string, unknown>;
  output: unknown;
  error: unknown;
  children: Record<string, never>;
  matches(value: string): boolean;
  toJSON(): object;
};

export class UnsupportedMachineError extends Error {}

const STOP = "xstate.stop";

/** A snapshot as XState's Actor and the inspector read it; one object per step, its methods shared. */
class Snapshot implements FlatSnapshot {
  readonly children = {};
  constructor(
    readonly status: FlatSnapshot["status"],
    readonly value: string,
    readonly context: Record<string, unknown>,
    readonly output: unknown = undefined,
    readonly error: unknown = undefined,
  ) {}
  matches(value: string) {
    return value === this.value;
  }
  toJSON() {
    const { status, value, context, output, error } = this;
    return { status, value, context, output, error };
  }
}

/** An action's or guard's params, as XState resolves them: given, or computed from the context and event. */
const paramsOf = (ref: ActionRef | GuardRef, context: Record<string, unknown>, event: AnyEventObject) =>
  typeof ref === "object" && "params" in ref
    ? (typeof ref.params === "function" ? ref.params({ context, event }) : ref.params)
    : undefined;

/** The logic that runs `machine` without XState's general interpreter; throws for what it does not support. */
export function flatMachine(machine: AnyStateMachine): AnyActorLogic {
  const root = machine.root as unknown as StateNodeLike;
  const implementations = machine.implementations as {
    actions: Record<string, Implementation>;
    guards: Record<string, Implementation>;
  };
  const refuse = (what: string): never => {
    throw new UnsupportedMachineError(`flatMachine(${machine.id}): ${what} is not supported`);
  };
  const actionOf = (ref: ActionRef): Implementation | undefined =>
    typeof ref === "function"
      ? ref as Implementation
      : implementations.actions[typeof ref === "string" ? ref : ref.type];
  const guardOf = (ref: GuardRef): Implementation | undefined =>
    typeof ref === "function"
      ? ref as Implementation
      : implementations.guards[typeof ref === "string" ? ref : ref.type];

  const checkActions = (actions: ActionRef[], where: string) => {
    for (const ref of actions) {
      const impl = actionOf(ref);
      if (impl?.resolve && impl.type !== "xstate.assign") refuse(`the built-in action ${impl.type} (${where})`);
    }
  };
  const compileTransition = (t: TransitionDef, from: string): Transition => {
    if ((t.target?.length ?? 0) > 1) refuse(`a transition with several targets (from ${from})`);
    const target = t.target?.[0];
    if (target && target.parent !== root) refuse(`a target outside the top level (from ${from})`);
    if (target?.key === from) refuse(`a transition to its own state (${from})`);
    if (t.guard !== undefined && guardOf(t.guard)?.check) refuse(`a built-in guard (from ${from})`);
    checkActions(t.actions, `from ${from}`);
    return { target: target?.key, guard: t.guard, actions: t.actions };
  };

  if (root.type !== "compound") refuse(`a ${root.type} root`);
  if (root.transitions.size > 0 || root.always?.length) refuse("a transition on the machine itself");
  if (root.entry.length || root.exit.length || root.invoke.length || root.after.length) {
    refuse("an action, invoke or delay on the machine itself");
  }
  const nodes = new Map<string, Node>();
  for (const [key, node] of Object.entries(root.states)) {
    if (node.type !== "atomic" && node.type !== "final") refuse(`a ${node.type} state (${key})`);
    if (node.after.length || node.invoke.length) refuse(`a delay or invoke (${key})`);
    if (node.type === "final" && node.output !== undefined) refuse(`a final state's output (${key})`);
    checkActions(node.entry, `entry of ${key}`);
    checkActions(node.exit, `exit of ${key}`);
    const on = new Map<string, Transition[]>();
    for (const [type, list] of node.transitions) {
      if (type.includes("*")) refuse(`the wildcard event ${type} (${key})`);
      on.set(type, list.map((t) => compileTransition(t, key)));
    }
    nodes.set(key, {
      final: node.type === "final",
      entry: node.entry,
      exit: node.exit,
      on,
      always: (node.always ?? []).map((t) => compileTransition(t, key)),
    });
  }
  const initial = root.initial?.target[0]?.key ?? refuse("a machine without an initial state");
  const config = machine.config as { context?: unknown; output?: unknown };

  // An assign's properties, listed once per assignment rather than once per step.
  const assignmentEntries = new WeakMap<object, [string, unknown][]>();
  const entriesOf = (assignment: Record<string, unknown>) => {
    let entries = assignmentEntries.get(assignment);
    if (!entries) assignmentEntries.set(assignment, entries = Object.entries(assignment));
    return entries;
  };
  // XState's order and arguments: each action sees the context the assigns
  // before it produced; params come from the action object; effects go
  // through the actor's executor (deferred until start, reported to the inspector).
  const run = (
    actions: ActionRef[],
    context: Record<string, unknown>,
    event: AnyEventObject,
    scope: AnyActorScope,
  ): Record<string, unknown> => {
    for (const ref of actions) {
      const impl = actionOf(ref);
      const args = { context, event, self: scope.self, system: scope.system };
      const params = paramsOf(ref, context, event);
      if (impl?.type === "xstate.assign" && impl.resolve) {
        const assignment = impl.assignment as
          | ((args: unknown, params: unknown) => Record<string, unknown>)
          | Record<string, unknown>;
        if (typeof assignment === "function") {
          context = { ...context, ...assignment(args, params) };
        } else {
          // Every property sees the context from before this assign, as in XState.
          const next = { ...context };
          for (const [key, value] of entriesOf(assignment)) {
            next[key] = typeof value === "function" ? value(args, params) : value;
          }
          context = next;
        }
        continue;
      }
      const type = typeof ref === "string" ? ref : typeof ref === "object" ? ref.type : ref.name || "(anonymous)";
      scope.actionExecutor({ type, info: args, params, exec: impl as never });
    }
    return context;
  };
  const passes = (guard: GuardRef | undefined, context: Record<string, unknown>, event: AnyEventObject) => {
    if (guard === undefined) return true;
    const params = paramsOf(guard, context, event);
    const impl = guardOf(guard);
    if (!impl) {
      throw new Error(
        `Guard '${typeof guard === "string" ? guard : (guard as { type: string }).type}' is not implemented.'.`,
      );
    }
    return Boolean(impl({ context, event }, params));
  };
  const enabled = (list: Transition[] | undefined, context: Record<string, unknown>, event: AnyEventObject) =>
    list?.find((t) => passes(t.guard, context, event));

  /** Takes `t` from `value`, then every `always` transition that is enabled after it. */
  const settle = (
    value: string,
    t: Transition | undefined,
    context: Record<string, unknown>,
    event: AnyEventObject,
    scope: AnyActorScope,
  ): FlatSnapshot => {
    while (t) {
      if (t.target === undefined) {
        context = run(t.actions, context, event, scope);
      } else {
        context = run(nodes.get(value)!.exit, context, event, scope);
        context = run(t.actions, context, event, scope);
        value = t.target;
        context = run(nodes.get(value)!.entry, context, event, scope);
      }
      const node = nodes.get(value)!;
      if (node.final) return finished(value, context, scope);
      t = enabled(node.always, context, event);
    }
    return new Snapshot("active", value, context);
  };
  const finished = (value: string, context: Record<string, unknown>, scope: AnyActorScope) => {
    const output = typeof config.output === "function"
      ? config.output({ context, event: { type: `xstate.done.state.${machine.id}` }, self: scope.self })
      : config.output;
    return new Snapshot("done", value, context, output);
  };

  const logic = {
    config: machine.config,
    transition(snapshot: FlatSnapshot, event: AnyEventObject, scope: AnyActorScope): FlatSnapshot {
      if (event.type === STOP) return new Snapshot("stopped", snapshot.value, snapshot.context, snapshot.output);
      if (snapshot.status !== "active") return snapshot;
      const t = enabled(nodes.get(snapshot.value)!.on.get(event.type), snapshot.context, event);
      return t ? settle(snapshot.value, t, snapshot.context, event, scope) : snapshot;
    },
    getInitialSnapshot(scope: AnyActorScope, input: unknown): FlatSnapshot {
      const event = { type: "xstate.init", input };
      let context: Record<string, unknown> = {};
      try {
        context = (typeof config.context === "function"
          ? config.context({
            input,
            self: scope.self,
            spawn: () => refuse("spawn"),
          })
          : config.context ?? {}) as Record<string, unknown>;
        context = run(nodes.get(initial)!.entry, context, event, scope);
        if (nodes.get(initial)!.final) return finished(initial, context, scope);
        return settle(initial, enabled(nodes.get(initial)!.always, context, event), context, event, scope);
      } catch (error) {
        return new Snapshot("error", initial, context, undefined, error);
      }
    },
    getPersistedSnapshot: (snapshot: FlatSnapshot) => snapshot.toJSON(),
  };
  return logic as unknown as AnyActorLogic;
}
