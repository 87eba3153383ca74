#!/usr/bin/env node
import { run } from './commands.js';

// The product's command line: it talks to the gateway's HTTP API, like any client.
const result = await run(process.argv.slice(2), process.env.MESH_URL ?? 'http://localhost:8000');
(result.code === 0 ? process.stdout : process.stderr).write(result.out + '\n');
process.exitCode = result.code;
