#!/usr/bin/env node
import { parseCommandLine } from '../config/cli.js';

parseCommandLine({ program: 'hades-schedule', specs: [] });
process.stderr.write('hades-schedule: not available in this release yet; see docs/ROADMAP.md\n');
process.exit(2);
