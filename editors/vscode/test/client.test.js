// The protocol library the extension bundles (vscode-jsonrpc, under
// vscode-languageclient) against the real `convoy lsp`: what VS Code sends
// and expects, without VS Code. CONVOY_BIN names the binary (editors/test.sh
// builds it); the test is skipped without it.
'use strict';
const test = require('node:test');
const assert = require('node:assert');
const { spawn } = require('node:child_process');
const rpc = require('vscode-jsonrpc/node');

const bin = process.env.CONVOY_BIN;

test('diagnostics and hover through the extension\'s client library', { skip: !bin && 'CONVOY_BIN is not set', timeout: 60000 }, async () => {
  const server = spawn(bin, ['lsp'], { stdio: ['pipe', 'pipe', 'inherit'] });
  const connection = rpc.createMessageConnection(
    new rpc.StreamMessageReader(server.stdout),
    new rpc.StreamMessageWriter(server.stdin),
  );
  const published = [];
  let notify;
  connection.onNotification('textDocument/publishDiagnostics', (p) => {
    published.push(p);
    if (notify) notify();
  });
  connection.listen();
  const next = () => new Promise((resolve) => { notify = resolve; });

  const init = await connection.sendRequest('initialize', { processId: process.pid, rootUri: null, capabilities: {} });
  assert.strictEqual(init.serverInfo.name, 'convoy');
  await connection.sendNotification('initialized', {});

  const uri = 'file:///tmp/convoy-vscode-test/a.cnn';
  const text = 'pipeline a {\n  input x: u8[2, 4, 4]\n  let y = x + 1 as u8\n  output y\n}\n';
  let arrived = next();
  await connection.sendNotification('textDocument/didOpen', { textDocument: { uri, languageId: 'convoy', version: 1, text } });
  await arrived;
  const diagnostics = published.at(-1).diagnostics;
  assert.strictEqual(diagnostics.length, 1);
  assert.strictEqual(diagnostics[0].code, 'E150');
  assert.deepStrictEqual(diagnostics[0].range, { start: { line: 2, character: 10 }, end: { line: 2, character: 15 } });

  const hover = await connection.sendRequest('textDocument/hover', { textDocument: { uri }, position: { line: 1, character: 8 } });
  assert.match(hover.contents.value, /x: u8\[2, 4, 4\]/);

  arrived = next();
  await connection.sendNotification('textDocument/didChange', { textDocument: { uri, version: 2 }, contentChanges: [{ text: text.replace('as u8', 'as u8 sat') }] });
  await arrived;
  assert.deepStrictEqual(published.at(-1).diagnostics, []);

  await connection.sendRequest('shutdown');
  const exited = new Promise((resolve) => server.on('exit', resolve));
  await connection.sendNotification('exit');
  assert.strictEqual(await exited, 0);
  connection.dispose();
});
