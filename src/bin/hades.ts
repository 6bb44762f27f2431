#!/usr/bin/env -S node --max-semi-space-size=2
// hades: src/programs/hades.ts assembles it. The shebang's node flags are HADES_NODE_FLAGS
// (src/dns/memory.ts: why), checked by test/dns/cli.test.ts; `env -S` splits them (coreutils ≥ 8.30).
import { main } from '../programs/hades.js';

await main();
