#!/usr/bin/env node
// hades: the DNS server (src/dns/main.ts assembles it; src/dns/README.md describes it).
import { main } from '../dns/main.js';

await main();
