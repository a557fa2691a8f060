// What every refused setting must give at start-up, for the configuration
// tests: a ConfigError that names the variable, in one line.
import assert from "node:assert/strict";
import { ConfigError, loadConfig } from "../../src/start/config.ts";

/** loadConfig refuses `name=value` with a one-line ConfigError naming `name`; `also` checks that error further. */
export function assertConfigRefused(name: string, value: string, also: (error: ConfigError) => void = () => {}) {
  assert.throws(() => loadConfig({ [name]: value }), (error: unknown) => {
    assert.ok(error instanceof ConfigError);
    assert.equal(error.variable, name);
    assert.ok(!error.message.includes("\n"));
    also(error);
    return true;
  });
}
