#!/usr/bin/env node
// meshctl: the compiled src/cli/meshctl.ts (see bin/entry.js).
import { runProgram } from './entry.js';

await runProgram('cli/meshctl');
