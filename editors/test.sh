#!/usr/bin/env bash
# Editor support, tested on a fresh machine with node/npm (vim is installed
# with apt-get when missing):
#   - both grammars list exactly the built-in stages, words and attributes of
#     src/builtins.rs (three Rust tests of tests/it/builtins.rs, when cargo is here);
#   - VS Code: the TextMate grammar against assertion copies of the examples
#     (vscode-tmgrammar-test), every token of every example and stdlib module
#     scoped, the extension's wiring, its client library against the real
#     `convoy lsp`, and the extension packaged offline (vsce);
#   - Vim: headless Vim loads the syntax on every example without errors and
#     highlights known tokens, and the same check fails on a broken file.
# npm packages go into editors/vscode/node_modules (gitignored), pinned by
# package-lock.json; the npm registry is the only network access.
set -euo pipefail
editors="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$editors")"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
passed=0
step() { echo "== $*"; }
ok() { passed=$((passed + 1)); }

step "tools"
for tool in node npm; do
  command -v "$tool" >/dev/null || { echo "$tool is required (Node.js 20 or later)" >&2; exit 1; }
done
if ! command -v vim >/dev/null; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq vim >/dev/null
fi
echo "node $(node --version), npm $(npm --version), $(vim --version | head -1)"

step "convoy binary (for the client test)"
if [ -z "${CONVOY_BIN:-}" ]; then
  (cd "$root" && cargo build --quiet --bin convoy)
  CONVOY_BIN="$(cd "$root" && realpath "${CARGO_TARGET_DIR:-target}/debug/convoy")"
fi
CONVOY_BIN="$(realpath "$CONVOY_BIN")"
export CONVOY_BIN
"$CONVOY_BIN" --version

step "grammars list exactly the built-in stages and words (tests/it/builtins.rs)"
if command -v cargo >/dev/null; then
  out="$(cd "$root" && cargo test --quiet --test it builtins::editor_grammar 2>&1)" \
    || { echo "$out" >&2; exit 1; }
  if ! grep -q "test result: ok. 3 passed" <<<"$out"; then
    echo "$out" >&2
    echo "expected the three editor_grammar tests of tests/it/builtins.rs to run" >&2
    exit 1
  fi
  ok
elif [ "${CI:-}" = true ]; then
  echo "cargo is required in CI" >&2
  exit 1
else
  echo "skipped: no cargo here (make test runs tests/it/builtins.rs)"
fi

step "vscode: npm packages"
cd "$editors/vscode"
npm ci --no-audit --no-fund --loglevel=error

step "vscode: assertion copies match the files they copy"
for t in test/*.cnn; do
  source_file="$(head -1 "$t" | sed -n 's/^\/\/ SYNTAX TEST "source.convoy" "\(\(examples\|stdlib\)\/[^"]*\)"$/\1/p')"
  [ -n "$source_file" ] || continue
  if [ ! -e "$root/$source_file" ]; then
    echo "note: $t copies $source_file, which is not there: skipped"
    continue
  fi
  if ! diff <(tail -n +2 "$t" | grep -vE '^// *(\^|<[~-])') "$root/$source_file" >"$tmp/diff"; then
    echo "$t is out of date with $source_file:" >&2
    cat "$tmp/diff" >&2
    exit 1
  fi
done
for f in "$root"/examples/*.cnn; do
  [ -e "test/$(basename "$f")" ] || echo "note: $(basename "$f") has no assertion copy (the coverage test still scopes all its tokens)"
done
ok

step "vscode: grammar assertions"
npx --no-install vscode-tmgrammar-test --compact 'test/*.cnn'
ok

step "vscode: token coverage, extension wiring, client against convoy lsp"
node --test test/*.test.js
ok

step "vscode: package (offline)"
npx --no-install vsce package --skip-license --allow-missing-repository -o "$tmp/convoy.vsix" >"$tmp/vsce.log" 2>&1 \
  || { cat "$tmp/vsce.log" >&2; exit 1; }
python3 - "$tmp/convoy.vsix" <<'EOF'
import sys, zipfile
names = set(zipfile.ZipFile(sys.argv[1]).namelist())
need = ["extension/package.json", "extension/extension.js",
        "extension/language-configuration.json",
        "extension/syntaxes/convoy.tmLanguage.json", "extension/snippets/convoy.json",
        "extension/node_modules/vscode-languageclient/node.js"]
missing = [n for n in need if n not in names]
stray = [n for n in names if "/test/" in n and n.startswith("extension/test")]
if missing or stray:
    sys.exit(f"vsix: missing {missing}, unwanted {stray}")
print(f"convoy.vsix: {len(names)} files")
EOF
ok

step "vim: syntax on every example"
cd "$root"
check_vim() {
  vim -Nu NONE -i NONE -es --cmd "set rtp^=$1" -S "$editors/vim/test/check.vim" \
    examples/*.cnn stdlib/*.cnn editors/vscode/test/syntax.cnn </dev/null
}
check_vim "$editors/vim"
ok

step "vim: the check fails on a broken syntax file"
cp -r "$editors/vim" "$tmp/vim-broken"
echo 'syn match convoyBroken "\(unclosed"' >>"$tmp/vim-broken/syntax/convoy.vim"
if check_vim "$tmp/vim-broken" 2>/dev/null; then
  echo "the Vim check passed a broken syntax file" >&2
  exit 1
fi
ok

echo "editors: $passed passed, 0 failed"
