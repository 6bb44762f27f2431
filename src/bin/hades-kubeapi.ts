#!/usr/bin/env node
// hades-kubeapi: src/programs/kubeapi.ts assembles it.
import { main } from '../programs/kubeapi.js';

await main();
