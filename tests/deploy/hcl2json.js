#!/usr/bin/env node
/*
 * tests/deploy/hcl2json.js: parses Terraform files with HashiCorp's HCL2
 * parser (npm @cdktf/hcl2json, the Go hcl library compiled to WebAssembly)
 * and prints {"file": {...its blocks...}} as JSON. Expressions stay as
 * "${...}" strings. A file that is not valid HCL2 is named on stderr with
 * the parser's message, and the exit status is 1.
 */
"use strict";

const fs = require("fs");
const path = require("path");
const { parse } = require("@cdktf/hcl2json");

async function main() {
	const files = process.argv.slice(2);
	if (files.length === 0) {
		console.error("usage: hcl2json.js FILE.tf...");
		process.exit(2);
	}
	const out = {};
	let failed = 0;
	for (const f of files) {
		try {
			out[path.basename(f)] = await parse(path.basename(f), fs.readFileSync(f, "utf8"));
		} catch (e) {
			console.error(`${f}: ${String(e.message || e).split("\n")[0]}`);
			failed++;
		}
	}
	if (failed)
		process.exit(1);
	process.stdout.write(JSON.stringify(out, null, 1) + "\n");
}

main();
