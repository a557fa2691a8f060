// Data a view shows and keeps fresh: loaded when its inputs change, reloaded
// every `everyMs` while the view is open, and an answer that arrives after a
// newer request was made is dropped, so a slow page never overwrites a fresh one.
import { useCallback, useEffect, useRef, useState } from "preact/hooks";

/** `const { data, error, reload } = useResource(() => api.get(path), [path], 5000)` */
export function useResource(load, inputs, everyMs) {
  const [state, setState] = useState({ data: undefined, error: undefined });
  const latest = useRef(0);
  // The caller names the inputs that make `load` change, as with useEffect.
  const run = useCallback(async () => {
    const mine = ++latest.current;
    try {
      const data = await load();
      if (mine === latest.current) setState({ data, error: undefined });
    } catch (error) {
      if (mine === latest.current) setState((old) => ({ data: old.data, error }));
    }
  }, inputs);
  useEffect(() => {
    run();
    if (!everyMs) return;
    const timer = setInterval(run, everyMs);
    return () => clearInterval(timer);
  }, [run, everyMs]);
  return { ...state, reload: run };
}

/**
 * Keyset paging: a stack of cursors, reset whenever `key` (the filters)
 * changes. `cursor` is the current page's; `next(c)` and `previous()` move.
 */
export function useCursorPages(key) {
  const [state, setState] = useState({ key, stack: [undefined] });
  const stack = state.key === key ? state.stack : [undefined];
  return {
    cursor: stack[stack.length - 1],
    number: stack.length,
    next: (cursor) => setState({ key, stack: [...stack, cursor] }),
    previous: () => setState({ key, stack: stack.length > 1 ? stack.slice(0, -1) : stack }),
  };
}
