#!/usr/bin/env node
/*
 * tests/deploy/validate.js: validates Kubernetes objects offline.
 *
 * Input: a JSON file holding a list of objects (tests/deploy/kustomize.py's
 * output). Each object is checked against a pinned schema:
 *   - Kubernetes' own kinds: the OpenAPI schemas of Kubernetes 1.33.0 as
 *     the npm package kubernetes-models 4.5.1 compiles them;
 *   - ServiceMonitor, PodMonitor, PrometheusRule: the Prometheus Operator's
 *     CRD schemas from @kubernetes-models/prometheus-operator 4.4.4;
 *   - other custom resources (CloudNativePG, its Barman Cloud plugin, the
 *     RabbitMQ Cluster Operator): the JSON schemas in tests/deploy/schemas/,
 *     written for the fields warden uses (no package ships them).
 * A kind with no schema is an error, never a pass.
 *
 * The OpenAPI schemas leave unknown fields alone, while the API server
 * (kubectl's default strict field validation) refuses them, so a misspelt
 * field would pass them and fail the deployment. Every field is therefore
 * also looked up in the TypeScript declarations the same packages generate
 * from those schemas, and an unknown one is an error.
 *
 * Prints one line per problem, "kind/name: path: message", and exits 1 if
 * there was any.
 */
"use strict";

const fs = require("fs");
const path = require("path");
const Ajv = require("ajv");

const PROMETHEUS_GROUP = "monitoring.coreos.com";

/* --- the TypeScript declarations: a small parser for what they use --- */

const declCache = new Map();

function tokenize(text) {
	const tokens = [];
	const re = /\s+|\/\*[\s\S]*?\*\/|\/\/[^\n]*|"(?:[^"\\]|\\.)*"|[A-Za-z_$][\w$]*|\d+|[{}()<>\[\];:|?,.=&]/y;
	let m;
	re.lastIndex = 0;
	while (re.lastIndex < text.length) {
		const at = re.lastIndex;
		m = re.exec(text);
		if (m === null)
			throw new Error(`cannot read declarations at offset ${at}`);
		const s = m[0];
		if (/^\s/.test(s) || s.startsWith("/*") || s.startsWith("//"))
			continue;
		tokens.push(s);
	}
	return tokens;
}

/* Parses a type expression at tokens[i]; returns [node, next index]. */
function parseType(tk, i) {
	const alts = [];
	if (tk[i] === "|")
		i++;
	for (;;) {
		let node;
		[node, i] = parsePrimary(tk, i);
		alts.push(node);
		if (tk[i] !== "|")
			break;
		i++;
	}
	return [alts.length === 1 ? alts[0] : { t: "union", of: alts }, i];
}

function parsePrimary(tk, i) {
	const s = tk[i];
	if (s === "(") {
		const [node, j] = parseType(tk, i + 1);
		return [node, j + 1];
	}
	if (s === "{")
		return parseObject(tk, i);
	if (s.startsWith("\""))
		return [{ t: "scalar" }, i + 1];
	if (s === "Array" && tk[i + 1] === "<") {
		const [of, j] = parseType(tk, i + 2);
		if (tk[j] !== ">")
			throw new Error("expected > after Array<...");
		return [{ t: "array", of }, j + 1];
	}
	if (/^[A-Za-z_$]/.test(s)) {
		let j = i + 1;
		/* IFoo["kind"]: an indexed access, always a literal here */
		if (tk[j] === "[" && tk[j + 1] && tk[j + 1].startsWith("\"") && tk[j + 2] === "]")
			return [{ t: "scalar" }, j + 3];
		if (["string", "number", "boolean", "any", "unknown", "object", "null",
			"undefined", "true", "false"].includes(s))
			return [{ t: "scalar" }, j];
		return [{ t: "ref", name: s }, j];
	}
	throw new Error(`unexpected token ${s}`);
}

/* { "a"?: T; ... } or { [key: string]: T; } */
function parseObject(tk, i) {
	i++;
	if (tk[i] === "[") {
		/* [ key : string ] : T ; } */
		i += 5;
		if (tk[i] !== ":")
			throw new Error("bad index signature");
		const [of, j] = parseType(tk, i + 1);
		let k = j;
		if (tk[k] === ";")
			k++;
		if (tk[k] !== "}")
			throw new Error("expected } after an index signature");
		return [{ t: "map", of }, k + 1];
	}
	const fields = {};
	while (tk[i] !== "}") {
		const name = JSON.parse(tk[i]);
		i++;
		if (tk[i] === "?")
			i++;
		if (tk[i] !== ":")
			throw new Error(`expected : after ${name}`);
		let type;
		[type, i] = parseType(tk, i + 1);
		fields[name] = type;
		if (tk[i] === ";")
			i++;
	}
	return [{ t: "object", fields }, i + 1];
}

/* Where an import's module lives, as a .d.ts file. */
function resolveModule(fromFile, spec) {
	if (spec.startsWith(".")) {
		const base = path.resolve(path.dirname(fromFile), spec);
		for (const f of [base + ".d.ts", path.join(base, "index.d.ts")])
			if (fs.existsSync(f))
				return f;
		throw new Error(`cannot find ${spec} from ${fromFile}`);
	}
	const parts = spec.split("/");
	const pkg = spec.startsWith("@") ? parts.slice(0, 2).join("/") : parts[0];
	const sub = parts.slice(pkg.split("/").length).join("/");
	for (let dir = path.dirname(fromFile); ; dir = path.dirname(dir)) {
		const root = path.join(dir, "node_modules", pkg);
		if (fs.existsSync(root)) {
			const base = sub ? path.join(root, sub) : path.join(root, "index");
			for (const f of [base + ".d.ts", path.join(base, "index.d.ts")])
				if (fs.existsSync(f))
					return f;
			throw new Error(`cannot find ${spec}`);
		}
		if (dir === path.dirname(dir))
			throw new Error(`cannot find package ${pkg}`);
	}
}

/* One declaration file: its imports, interfaces, type aliases and exports. */
function loadDecl(file) {
	if (declCache.has(file))
		return declCache.get(file);
	const tk = tokenize(fs.readFileSync(file, "utf8"));
	const decl = { file, imports: {}, types: {}, aliases: {} };
	for (let i = 0; i < tk.length; i++) {
		if (tk[i] === "import" && tk[i + 1] === "{") {
			let j = i + 2;
			const names = [];
			while (tk[j] !== "}") {
				if (tk[j] !== ",") {
					if (tk[j + 1] === "as") {
						names.push([tk[j + 2], tk[j]]);
						j += 2;
					} else
						names.push([tk[j], tk[j]]);
				}
				j++;
			}
			const spec = JSON.parse(tk[j + 2]);
			for (const [local, remote] of names)
				decl.imports[local] = { spec, remote };
			i = j + 2;
		} else if (tk[i] === "interface") {
			const name = tk[i + 1];
			let j = i + 2;
			while (tk[j] !== "{")
				j++;
			const [node, k] = parseObject(tk, j);
			decl.types[name] = node;
			i = k - 1;
		} else if (tk[i] === "type" && tk[i - 1] === "export" && tk[i + 2] === "=") {
			const [node, k] = parseType(tk, i + 3);
			decl.types[tk[i + 1]] = node;
			i = k - 1;
		} else if (tk[i] === "export" && tk[i + 1] === "{") {
			let j = i + 2;
			while (tk[j] !== "}") {
				if (tk[j + 1] === "as") {
					decl.aliases[tk[j + 2]] = tk[j];
					j += 3;
				} else
					j++;
			}
			i = j;
		}
	}
	declCache.set(file, decl);
	return decl;
}

/* The type a name stands for in a declaration file: [node, its file]. */
function resolveRef(decl, name) {
	const own = decl.aliases[name] || name;
	if (decl.types[own])
		return [decl.types[own], decl];
	const imp = decl.imports[name];
	if (imp) {
		const other = loadDecl(resolveModule(decl.file, imp.spec));
		return resolveRef(other, imp.remote);
	}
	/* ModelData, TypeMeta and the like: nothing to check against */
	return [{ t: "scalar" }, decl];
}

/* Collects unknown fields of value against type node into errors. */
function strict(value, node, decl, where, errors) {
	if (value === null || value === undefined)
		return;
	switch (node.t) {
		case "scalar":
			return;
		case "ref": {
			const [n, d] = resolveRef(decl, node.name);
			strict(value, n, d, where, errors);
			return;
		}
		case "array":
			if (Array.isArray(value))
				value.forEach((v, i) => strict(v, node.of, decl, `${where}/${i}`, errors));
			return;
		case "map":
			if (typeof value === "object" && !Array.isArray(value))
				for (const [k, v] of Object.entries(value))
					strict(v, node.of, decl, `${where}/${k}`, errors);
			return;
		case "object":
			if (typeof value !== "object" || Array.isArray(value))
				return;
			for (const [k, v] of Object.entries(value)) {
				if (!(k in node.fields))
					errors.push(`${where}/${k}: unknown field`);
				else
					strict(v, node.fields[k], decl, `${where}/${k}`, errors);
			}
			return;
		case "union": {
			if (typeof value !== "object")
				return;
			/* an object must fit one of the object-typed alternatives */
			let best = null;
			for (const alt of node.of) {
				const e = [];
				strict(value, alt, decl, where, e);
				if (e.length === 0)
					return;
				if (best === null || e.length < best.length)
					best = e;
			}
			errors.push(...best);
			return;
		}
		default:
			throw new Error(`unknown type node ${node.t}`);
	}
}

/* --- the models ----------------------------------------------------------- */

function modelModule(apiVersion, kind) {
	const [group, version] = apiVersion.includes("/") ? apiVersion.split("/") : ["", apiVersion];
	if (group === PROMETHEUS_GROUP)
		return `@kubernetes-models/prometheus-operator/${group}/${version}/${kind}`;
	if (group === "" || !group.includes(".") || group.endsWith(".k8s.io"))
		return `kubernetes-models/${group ? group + "/" : ""}${version}/${kind}`;
	return null;
}

function checkModel(obj, mod, errors, where) {
	let exported;
	try {
		exported = require(mod);
	} catch (e) {
		errors.push(`${where}: no schema for ${obj.apiVersion} ${obj.kind} (${mod})`);
		return;
	}
	const Cls = exported[obj.kind];
	if (typeof Cls !== "function") {
		errors.push(`${where}: no model ${obj.kind} in ${mod}`);
		return;
	}
	try {
		new Cls(obj).validate();
	} catch (e) {
		for (const line of String(e.message).split(", "))
			errors.push(`${where}: ${line}`);
	}
	const decl = loadDecl(resolveModule(path.join(__dirname, "x.js"), mod));
	const iface = "I" + obj.kind;
	if (!decl.types[iface]) {
		errors.push(`${where}: no declaration ${iface} in ${mod}`);
		return;
	}
	const unknown = [];
	strict(obj, decl.types[iface], decl, "", unknown);
	for (const e of unknown)
		errors.push(`${where}: ${e}`);
}

const ajv = new Ajv({ allErrors: true, strict: true });
const crdValidators = new Map();

function checkCustom(obj, errors, where, schemaDir) {
	const [group, version] = obj.apiVersion.split("/");
	const file = path.join(schemaDir, `${group}_${version}_${obj.kind}.json`);
	if (!fs.existsSync(file)) {
		errors.push(`${where}: no schema for ${obj.apiVersion} ${obj.kind}`);
		return;
	}
	if (!crdValidators.has(file))
		crdValidators.set(file, ajv.compile(JSON.parse(fs.readFileSync(file, "utf8"))));
	const validate = crdValidators.get(file);
	if (!validate(obj))
		for (const e of validate.errors)
			errors.push(`${where}: ${e.instancePath || "/"} ${e.message}` +
				(e.params && e.params.additionalProperty ? ` (${e.params.additionalProperty})` : ""));
}

function main() {
	const args = process.argv.slice(2);
	if (args.length !== 1) {
		console.error("usage: validate.js OBJECTS.json");
		process.exit(2);
	}
	const objs = JSON.parse(fs.readFileSync(args[0], "utf8"));
	const schemaDir = path.join(__dirname, "schemas");
	const errors = [];
	for (const obj of objs) {
		const where = `${obj.kind}/${obj.metadata && obj.metadata.name}`;
		const mod = modelModule(obj.apiVersion, obj.kind);
		if (mod)
			checkModel(obj, mod, errors, where);
		else
			checkCustom(obj, errors, where, schemaDir);
	}
	for (const e of errors)
		console.log(e);
	console.log(`validated ${objs.length} objects: ${errors.length} problems`);
	process.exit(errors.length === 0 ? 0 : 1);
}

main();
