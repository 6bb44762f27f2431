#!/usr/bin/env node
// hades-schedule: src/programs/schedule.ts assembles it.
import { main } from '../programs/schedule.js';

await main();
