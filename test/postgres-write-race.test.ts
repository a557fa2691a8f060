// The process-level guard lets through only postgres.js's deferred write on a
// dropped connection (test/reliability-postgres-restart.test.ts shows the
// service surviving a restart that raises it); every other error still counts.
import { test } from "node:test";
import assert from "node:assert/strict";
import { isPostgresWriteRace } from "../src/start/postgres-write-race.ts";

const raised = (message: string, stack: string) => Object.assign(new TypeError(message), { stack });

test("only postgres.js's write on a dropped connection is recognised", () => {
  const frame = "    at nextWrite (/app/node_modules/postgres/src/connection.js:255:15)";
  assert.ok(isPostgresWriteRace(raised("null is not an object (evaluating 'socket.write')", frame)));
  assert.ok(isPostgresWriteRace(raised("Cannot read properties of null (reading 'write')", frame)));
  assert.equal(
    isPostgresWriteRace(raised("Cannot read properties of null (reading 'write')", "    at ours (src/x.ts:1:1)")),
    false,
  );
  assert.equal(isPostgresWriteRace(raised("x is not a function", frame)), false);
  assert.equal(isPostgresWriteRace(new Error("null is not an object (evaluating 'socket.write')")), false);
  assert.equal(isPostgresWriteRace("socket.write"), false);
});
