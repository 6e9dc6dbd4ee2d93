#!/usr/bin/env node
// meshcp-dp: the compiled src/agent/meshcp-dp.ts (see bin/entry.js).
import { runProgram } from './entry.js';

await runProgram('agent/meshcp-dp');
