#!/usr/bin/env node
// Lists the names the declarations in a folder (default: js-api/) give to the JS values of
// Weir, one per line, in the notation tests/tests/js_api.rs compares with the runtime:
//
//   global NAME              a global value (function, class, namespace, constant)
//   member PATH.NAME         a property of a declared value (static members of classes too)
//   member PATH#NAME         a member of the instances of a declared class
//   member pipy()#NAME       a member of the configuration `pipy()` returns
//   standard NAME            a global of the ECMAScript library (not Weir's)
//   augmented NAME           a standard global the declarations add members to
//   standard NAME.MEMBER     a member the library declares on an augmented global
//
// Properties are listed one level below a global, and further only below objects that
// have methods (namespaces), as the runtime side does. Standard globals are the library's
// business, except for the members the declarations add to them (`JSON.decode`).
//
// Usage: node api-names.js [folder]. Exits 1, printing the errors, if the declarations do
// not type-check.

'use strict';

const fs = require('fs');
const path = require('path');
const ts = require('typescript');

const dir = path.resolve(process.argv[2] || path.join(__dirname, '..'));
const files = fs
  .readdirSync(dir)
  .filter((f) => f.endsWith('.d.ts'))
  .map((f) => path.join(dir, f));

// The compiler options editors use: the workspace's jsconfig.json.
const configPath = path.join(__dirname, '..', '..', 'jsconfig.json');
const config = ts.getParsedCommandLineOfConfigFile(configPath, {}, {
  ...ts.sys,
  onUnRecoverableConfigFileDiagnostic: (d) => {
    throw new Error(ts.flattenDiagnosticMessageText(d.messageText, '\n'));
  },
});
const program = ts.createProgram(files, config.options);
const diagnostics = ts.getPreEmitDiagnostics(program);
if (diagnostics.length > 0) {
  const host = { getCanonicalFileName: (f) => f, getCurrentDirectory: () => process.cwd(), getNewLine: () => '\n' };
  process.stderr.write(ts.formatDiagnostics(diagnostics, host));
  process.exit(1);
}
const checker = program.getTypeChecker();

const ours = new Set(files.map((f) => path.resolve(f)));
const isOurs = (decl) => ours.has(path.resolve(decl.getSourceFile().fileName));
const out = new Set();

const callable = (type) => type.getCallSignatures().length > 0;
const isClass = (sym) => (sym.flags & ts.SymbolFlags.Class) !== 0;

/** A namespace-like value: an object (or function) with at least one method or class. */
function hasMethods(type) {
  if ((type.flags & ts.TypeFlags.Object) === 0) return false;
  // Arrays, strings and the like are the standard library's, not namespaces.
  if (type.symbol && !(type.symbol.declarations || []).some(isOurs)) return false;
  return checker.getPropertiesOfType(type).some((p) => isClass(p) || callable(checker.getTypeOfSymbol(p)));
}

function instanceMembers(sym, at) {
  for (const p of checker.getPropertiesOfType(checker.getDeclaredTypeOfSymbol(sym))) {
    out.add(`member ${at}#${p.name}`);
  }
}

function members(type, at) {
  for (const p of checker.getPropertiesOfType(type)) {
    if (p.name === 'prototype') continue;
    const where = `${at}.${p.name}`;
    out.add(`member ${where}`);
    if (isClass(p)) instanceMembers(p, where);
    const t = checker.getTypeOfSymbol(p);
    // A class's statics are walked even when none is a method (`http.Directory.defaultContentTypes`).
    if (!callable(t) && (hasMethods(t) || isClass(p))) members(t, where);
  }
}

/** A standard global the declarations add to: the members they add, and the library's. */
function augmented(sym) {
  out.add(`augmented ${sym.name}`);
  const type = checker.getTypeOfSymbol(sym);
  const mine = (p) => (p.declarations || []).every(isOurs);
  for (const p of checker.getPropertiesOfType(type)) {
    if (p.name !== 'prototype') out.add(`${mine(p) ? 'member' : 'standard'} ${sym.name}.${p.name}`);
  }
  for (const sig of type.getConstructSignatures().slice(0, 1)) {
    for (const p of checker.getPropertiesOfType(sig.getReturnType())) {
      out.add(`${mine(p) ? 'member' : 'standard'} ${sym.name}#${p.name}`);
    }
  }
}

const anchor = program.getSourceFile(files[0]);
for (const sym of checker.getSymbolsInScope(anchor, ts.SymbolFlags.Value)) {
  const decl = sym.valueDeclaration;
  if (!decl) continue;
  if (!isOurs(decl)) {
    out.add(`standard ${sym.name}`);
    if ((sym.declarations || []).some(isOurs)) augmented(sym);
    continue;
  }
  out.add(`global ${sym.name}`);
  const type = checker.getTypeOfSymbol(sym);
  if (callable(type) || isClass(sym) || hasMethods(type)) members(type, sym.name);
  if (isClass(sym)) instanceMembers(sym, sym.name);
  if (sym.name === 'pipy') {
    for (const p of checker.getPropertiesOfType(type.getCallSignatures()[0].getReturnType())) {
      out.add(`member pipy()#${p.name}`);
    }
  }
}

// Symbol-keyed members (`__@iterator@52`) have no name to compare.
const names = [...out].filter((line) => !line.includes('__@')).sort();
process.stdout.write(names.join('\n') + '\n');
