// Starts `convoy lsp` for .cnn files; everything else (diagnostics, hover,
// completion, definitions, formatting) is the language server's.
'use strict';
const vscode = require('vscode');
const { LanguageClient } = require('vscode-languageclient/node');

let client;

function activate() {
  const command = vscode.workspace.getConfiguration('convoy').get('server.path') || 'convoy';
  const server = { command, args: ['lsp'] };
  client = new LanguageClient(
    'convoy',
    'Convoy language server',
    { run: server, debug: server },
    { documentSelector: [{ language: 'convoy' }] },
  );
  return client.start();
}

function deactivate() {
  return client ? client.stop() : undefined;
}

module.exports = { activate, deactivate };
