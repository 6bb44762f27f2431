#!/usr/bin/env node
import { parseCommandLine } from '../config/cli.js';

parseCommandLine({ program: 'hades-scanner', specs: [] });
process.stderr.write('hades-scanner: not available in this release yet; see docs/ROADMAP.md\n');
process.exit(2);
