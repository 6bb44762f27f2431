#!/usr/bin/env node
import { VERSION } from '../version.js';

const args = process.argv.slice(2);
if (args.includes('-version') || args.includes('--version')) {
  process.stdout.write(`hades ${VERSION}\n`);
  process.exit(0);
}
process.stderr.write('hades: the DNS server is not built yet (see issue "hades: the authoritative DNS server")\n');
process.exit(2);
