// Which slot a new worker takes (runtime/arbiter/slots.ts): with reuse_port the slot is the
// SO_REUSEPORT socket it accepts on, so a replacement must land where its predecessor was.
import assert from "node:assert/strict";
import { test } from "node:test";
import { freeSlot, retireOrder } from "../../runtime/arbiter/slots.js";
import type { WorkerRec, WorkerState } from "../../runtime/arbiter/worker-record.js";

const w = (slot: number, age: number, state: WorkerState = "serving", generation = 0) => ({ slot, age, state, generation }) as WorkerRec;

test("a new worker takes the lowest slot with the fewest staying workers of its generation", () => {
  assert.equal(freeSlot([], 0, 3), 0);
  assert.equal(freeSlot([w(0, 1), w(2, 3)], 0, 3), 1, "the dead worker's slot");
  assert.equal(freeSlot([w(0, 1), w(1, 2, "recycling"), w(2, 3)], 0, 3), 1, "a recycling worker's replacement takes its slot");
  assert.equal(freeSlot([w(0, 1), w(1, 2, "retiring"), w(2, 3)], 0, 3), 1, "a retiring worker does not hold its slot");
  assert.equal(freeSlot([w(0, 1, "booting", 1), w(0, 2), w(1, 3)], 1, 2), 1, "on reload the old generation does not count");
  assert.equal(freeSlot([w(0, 1), w(1, 2), w(2, 3)], 0, 2), 0, "a slot beyond the target (after TTOU) is never chosen");
});

test("TTOU retires the oldest (Gunicorn); with reuse_port the workers beyond the target first", () => {
  const workers = () => [w(0, 5), w(2, 9), w(1, 1)];
  assert.deepEqual(
    workers()
      .sort(retireOrder(2, false))
      .map((x) => x.age),
    [1, 5, 9],
  );
  assert.deepEqual(
    workers()
      .sort(retireOrder(2, true))
      .map((x) => x.slot),
    [2, 1, 0],
  );
});
