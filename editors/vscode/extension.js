// Starts the app's language server (`<app> lsp`, by default through
// `cargo run -- lsp` in the workspace folder) for .sync files.
const vscode = require("vscode");
const { LanguageClient } = require("vscode-languageclient/node");

let client;

function activate(context) {
  const config = vscode.workspace.getConfiguration("concord.server");
  const folder = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
  const run = {
    command: config.get("command"),
    args: config.get("args"),
    options: { cwd: folder },
  };
  client = new LanguageClient(
    "concord",
    "Concord",
    { run, debug: run },
    { documentSelector: [{ scheme: "file", language: "sync" }] },
  );
  context.subscriptions.push({ dispose: () => client.stop() });
  return client.start();
}

function deactivate() {
  return client?.stop();
}

module.exports = { activate, deactivate };
