#!/usr/bin/env node
// hades-scanner: src/programs/scanner.ts assembles it.
import { main } from '../programs/scanner.js';

await main();
