#!/usr/bin/env node
import { parseCommandLine } from '../config/cli.js';

parseCommandLine({ program: 'hades-apicmd', specs: [] });
process.stderr.write('hades-apicmd: not available in this release yet; see docs/ROADMAP.md\n');
process.exit(2);
