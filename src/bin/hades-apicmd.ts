#!/usr/bin/env node
// hades-apicmd: src/programs/apicmd.ts assembles it.
import { main } from '../programs/apicmd.js';

await main();
