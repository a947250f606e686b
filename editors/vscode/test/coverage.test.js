// Every character of every example and stdlib module (outside whitespace)
// gets a scope from the grammar beyond the root `source.convoy`, and none
// is `invalid`: the grammar covers every token the language has.
'use strict';
const test = require('node:test');
const assert = require('node:assert');
const fs = require('node:fs');
const path = require('node:path');
const textmate = require('vscode-textmate');
const oniguruma = require('vscode-oniguruma');

const root = path.join(__dirname, '..', '..', '..');

async function registry() {
  const wasm = fs.readFileSync(require.resolve('vscode-oniguruma/release/onig.wasm'));
  await oniguruma.loadWASM(wasm.buffer.slice(wasm.byteOffset, wasm.byteOffset + wasm.byteLength));
  return new textmate.Registry({
    onigLib: Promise.resolve({
      createOnigScanner: (sources) => new oniguruma.OnigScanner(sources),
      createOnigString: (s) => new oniguruma.OnigString(s),
    }),
    loadGrammar: async (scope) => {
      if (scope !== 'source.convoy') return null;
      const file = path.join(__dirname, '..', 'syntaxes', 'convoy.tmLanguage.json');
      return textmate.parseRawGrammar(fs.readFileSync(file, 'utf8'), file);
    },
  });
}

function sources() {
  const files = [];
  for (const dir of ['examples', 'stdlib']) {
    for (const name of fs.readdirSync(path.join(root, dir)).sort()) {
      if (name.endsWith('.cnn')) files.push(path.join(dir, name));
    }
  }
  return files;
}

test('every token of every example and stdlib module has a scope', async () => {
  const grammar = await (await registry()).loadGrammar('source.convoy');
  const files = sources();
  assert.ok(files.length >= 9, `only ${files.length} files found under ${root}`);
  const problems = [];
  for (const file of files) {
    const lines = fs.readFileSync(path.join(root, file), 'utf8').split('\n');
    let state = textmate.INITIAL;
    lines.forEach((line, i) => {
      const r = grammar.tokenizeLine(line, state);
      state = r.ruleStack;
      for (const t of r.tokens) {
        const text = line.slice(t.startIndex, t.endIndex);
        if (text.trim() === '') continue;
        const where = `${file}:${i + 1}:${t.startIndex + 1} \`${text}\``;
        if (t.scopes.length < 2) problems.push(`${where} has no scope`);
        if (t.scopes.some((s) => s.startsWith('invalid'))) problems.push(`${where} is ${t.scopes.join(' ')}`);
      }
    });
  }
  assert.deepStrictEqual(problems, []);
});

test('a wrong token is marked invalid', async () => {
  const grammar = await (await registry()).loadGrammar('source.convoy');
  const line = '  const k: fixed<8, 2, rnd, bogus> = 1;';
  const r = grammar.tokenizeLine(line, textmate.INITIAL);
  const scopes = (word) => r.tokens.find((t) => line.slice(t.startIndex, t.endIndex) === word).scopes;
  assert.ok(scopes('bogus').includes('invalid.illegal.mode.convoy'));
  assert.ok(scopes(';').includes('invalid.illegal.semicolon.convoy'));
});
