// The extension's wiring, without VS Code: `vscode` and the language client
// are stubbed, and activate() must start `convoy lsp` for `convoy` files.
'use strict';
const test = require('node:test');
const assert = require('node:assert');
const Module = require('node:module');

function load(settings) {
  const started = [];
  const stubs = {
    vscode: {
      workspace: {
        getConfiguration: (section) => ({ get: (key) => settings[`${section}.${key}`] }),
      },
    },
    'vscode-languageclient/node': {
      LanguageClient: class {
        constructor(id, name, server, client) {
          Object.assign(this, { id, name, server, client });
        }
        start() {
          started.push(this);
          return Promise.resolve();
        }
        stop() {
          return Promise.resolve();
        }
      },
    },
  };
  const original = Module._load;
  Module._load = function (request, ...rest) {
    return request in stubs ? stubs[request] : original.call(this, request, ...rest);
  };
  try {
    delete require.cache[require.resolve('../extension.js')];
    return { extension: require('../extension.js'), started };
  } finally {
    Module._load = original;
  }
}

test('activate starts `convoy lsp` for convoy documents', async () => {
  const { extension, started } = load({});
  await extension.activate();
  assert.strictEqual(started.length, 1);
  const client = started[0];
  assert.deepStrictEqual(client.server.run, { command: 'convoy', args: ['lsp'] });
  assert.deepStrictEqual(client.client.documentSelector, [{ language: 'convoy' }]);
  await extension.deactivate();
});

test('convoy.server.path names another binary', async () => {
  const { extension, started } = load({ 'convoy.server.path': '/opt/convoy/bin/convoy' });
  await extension.activate();
  assert.strictEqual(started[0].server.run.command, '/opt/convoy/bin/convoy');
});

test('package.json ties .cnn files to the grammar, snippets and configuration', () => {
  const pkg = require('../package.json');
  const lang = pkg.contributes.languages[0];
  assert.strictEqual(lang.id, 'convoy');
  assert.deepStrictEqual(lang.extensions, ['.cnn']);
  const grammar = pkg.contributes.grammars[0];
  assert.strictEqual(grammar.scopeName, require('../syntaxes/convoy.tmLanguage.json').scopeName);
  const config = require('../language-configuration.json');
  assert.strictEqual(config.comments.lineComment, '//');
  for (const s of Object.values(require('../snippets/convoy.json'))) {
    assert.ok(s.prefix && s.body.length > 0);
  }
});
