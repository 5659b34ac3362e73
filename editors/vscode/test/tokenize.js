// Tokenises .sync files with the grammar, as VS Code does (vscode-textmate
// with the Oniguruma regex engine), and prints every token with its scopes
// as JSON: [{file, line, text, scopes}]. Used by
// crates/concord-lsp/tests/grammar.rs; needs vscode-textmate and
// vscode-oniguruma on NODE_PATH.
const fs = require("fs");
const path = require("path");
const vsctm = require("vscode-textmate");
const oniguruma = require("vscode-oniguruma");

async function main() {
  const wasm = fs.readFileSync(require.resolve("vscode-oniguruma/release/onig.wasm"));
  await oniguruma.loadWASM(wasm.buffer.slice(wasm.byteOffset, wasm.byteOffset + wasm.byteLength));
  const registry = new vsctm.Registry({
    onigLib: Promise.resolve({
      createOnigScanner: (patterns) => new oniguruma.OnigScanner(patterns),
      createOnigString: (s) => new oniguruma.OnigString(s),
    }),
    loadGrammar: async (scope) => {
      if (scope !== "source.sync") return null;
      const file = path.join(__dirname, "..", "syntaxes", "sync.tmLanguage.json");
      return vsctm.parseRawGrammar(fs.readFileSync(file, "utf8"), file);
    },
  });
  const grammar = await registry.loadGrammar("source.sync");
  const out = [];
  for (const file of process.argv.slice(2)) {
    let state = vsctm.INITIAL;
    fs.readFileSync(file, "utf8").split("\n").forEach((line, n) => {
      const result = grammar.tokenizeLine(line, state);
      for (const t of result.tokens) {
        out.push({ file, line: n, text: line.substring(t.startIndex, t.endIndex), scopes: t.scopes });
      }
      state = result.ruleStack;
    });
  }
  process.stdout.write(JSON.stringify(out));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
