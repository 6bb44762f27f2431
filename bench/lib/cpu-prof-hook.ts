/**
 * `NODE_OPTIONS="--import=<this file>"` with HADES_BENCH_CPU_PROF=<dir>: a V8 CPU profile of the
 * whole process (and of each cluster worker, which inherits the environment), written to
 * `<dir>/<pid>.cpuprofile` when the process exits. Node refuses `--cpu-prof` in NODE_OPTIONS, and
 * the benches start `hades` through test/dns/hades-proc.ts, which takes no node flags; this is
 * the same profiler through the inspector. The in-process inspector session answers
 * synchronously, so stopping it in the 'exit' handler works. SIGUSR2 restarts it.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { join } from 'node:path';

const dir = process.env.HADES_BENCH_CPU_PROF;
if (dir) {
  const session = new Session();
  session.connect();
  session.post('Profiler.enable');
  session.post('Profiler.setSamplingInterval', { interval: 200 });
  session.post('Profiler.start');
  // SIGUSR2 (bench/qps sends it after the warm-up): start over, so the profile is the steady
  // state only, not the load of the catalog
  process.on('SIGUSR2', () => {
    session.post('Profiler.stop');
    session.post('Profiler.start');
  });
  process.on('exit', () => {
    session.post('Profiler.stop', (err, res) => {
      if (err) return;
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, `${process.pid}.cpuprofile`), JSON.stringify(res.profile));
    });
  });
}
