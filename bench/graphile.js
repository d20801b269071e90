// bench/graphile.js: one Graphile Worker round for bench/jobs: enqueue N noop jobs, drain them, print jobs/s.
//
// usage: node graphile.js MODE N      (MODE: unbatched | batched)
// Connection: PGHOST (the socket directory), PGPORT, PGUSER, PGPASSWORD,
// PGDATABASE from the environment (bench/jobs sets them; a database of its
// own in the same PostgreSQL).  graphile-worker is resolved through
// NODE_PATH (bench/jobs installs it under bench/out/graphile).
//
// Both modes: concurrentJobs 24 on a pool of 25 connections (the settings
// of Graphile Worker's own performance page).
//   unbatched  no local queue, no completion batching: every job is fetched
//              by one get_job transaction and completed by one transaction.
//   batched    localQueue.size 500, completeJobBatchDelay 0,
//              failJobBatchDelay 0 (the batching settings of that page).
// A round: migrate (untimed), empty the queue, VACUUM ANALYZE, add N jobs in
// one add_jobs() call, start the runner, and time from the first task call
// to the moment the jobs table is seen empty (Graphile deletes a completed
// job, so that is the last completion committed).  Prints one line:
// "rate=<jobs/s> span=<s> runs=<task calls>"; exits 1 unless every job ran
// exactly once.
"use strict";

const { run, runMigrations } = require("graphile-worker");
const { Pool } = require("pg");

const mode = process.argv[2];
const n = Number(process.argv[3]);

if (!["unbatched", "batched"].includes(mode) || !Number.isInteger(n) || n < 1) {
  console.error("usage: node graphile.js unbatched|batched N");
  process.exit(2);
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function main() {
  const pool = new Pool({ max: 25 });
  const probe = new Pool({ max: 1 });
  // An idle client's connection error must not crash the round silently.
  for (const p of [pool, probe]) p.on("error", (e) => console.error(`pg pool: ${e.message}`));
  const worker = {
    concurrentJobs: 24,
    maxPoolSize: 25,
    pollInterval: 2000,
    completeJobBatchDelay: -1,
    failJobBatchDelay: -1,
  };
  if (mode === "batched") {
    worker.localQueue = { size: 500 };
    worker.completeJobBatchDelay = 0;
    worker.failJobBatchDelay = 0;
  }
  const preset = { worker };
  let calls = 0;
  let first = 0;
  let runner = null;
  let rc = 1;

  try {
    await runMigrations({ pgPool: pool, preset, logger: quietLogger() });
    await probe.query("delete from graphile_worker._private_jobs");
    await probe.query("vacuum analyze graphile_worker._private_jobs");
    await probe.query(
      "select count(*) from graphile_worker.add_jobs(array(" +
        "select row('noop', '{}'::json, null, null, null, null, null, null)" +
        "::graphile_worker.job_spec from generate_series(1, $1::int)))",
      [n],
    );
    const queued = await count(probe);
    if (queued !== n) throw new Error(`expected ${n} queued jobs, found ${queued}`);

    runner = await run({
      pgPool: pool,
      preset,
      noHandleSignals: true,
      logger: quietLogger(),
      taskList: {
        noop: async () => {
          if (calls++ === 0) first = performance.now();
        },
      },
    });
    // Bounded wait: at most 300 s for the round.
    const deadline = performance.now() + 300000;
    let last = 0;
    for (;;) {
      if (calls >= n && (await count(probe)) === 0) {
        last = performance.now();
        break;
      }
      if (performance.now() > deadline) throw new Error(`not drained: ${calls} of ${n} ran`);
      await sleep(calls >= n ? 2 : 20);
    }
    const span = (last - first) / 1000;
    console.log(`rate=${Math.round(n / span)} span=${span.toFixed(3)} runs=${calls}`);
    rc = calls === n ? 0 : 1;
    if (rc) console.error(`expected ${n} task calls, got ${calls}`);
  } catch (e) {
    console.error(`graphile round failed: ${e.message}`);
  } finally {
    if (runner) await runner.stop().catch(() => {});
    await probe.end().catch(() => {});
    await pool.end().catch(() => {});
  }
  process.exit(rc);
}

async function count(pool) {
  const r = await pool.query("select count(*)::int as c from graphile_worker._private_jobs");
  return r.rows[0].c;
}

// Warnings and errors only: the per-job info lines would cost the runner time.
function quietLogger() {
  const { Logger } = require("graphile-worker");
  return new Logger(() => (level, message) => {
    if (level === "error" || level === "warning") console.error(`graphile: ${level}: ${message}`);
  });
}

main();
