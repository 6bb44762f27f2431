#!/usr/bin/env node
import { parseCommandLine } from '../config/cli.js';

parseCommandLine({ program: 'hades', specs: [] });
process.stderr.write('hades: the DNS server is not available in this release yet; see docs/ROADMAP.md\n');
process.exit(2);
