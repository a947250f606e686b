#!/usr/bin/env bash
# Retakes neovim-diagnostic-hover.png from a real session: Neovim with
# editors/vim and `convoy lsp`, in xterm under Xvfb. The only scripted
# "user action" is the hover (cursor on a `conv`, then K) once the server
# has published its diagnostics.
# Needs: apt-get install neovim xvfb xterm imagemagick fonts-dejavu-core,
# and a built convoy (CONVOY_BIN, default target/debug/convoy).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$(dirname "$here")")"
bin="$(realpath "${CONVOY_BIN:-$root/target/debug/convoy}")"
tmp="$(mktemp -d)"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT

cat >"$tmp/seed.cnn" <<'EOF'
use std::blocks::dsconv

// The reference design, with random weights.
pipeline seed {
  input x: u8[16, 32, 64] pad 1

  param w_dw: i8[16, 1, 3, 3]  = random(seed: 1)
  param b_dw: i16[16]          = random(seed: 2)
  param w_pw: i8[16, 16, 1, 1] = random(seed: 3)
  param b_pw: i16[16]          = random(seed: 4)
  const factor: fixed<32, 1>   = 0.0123

  let dw: u8[16, 32, 64] = relu(b_dw + trunc(dwconv(x, w_dw, pad: 1) * factor)) as u8 wrap
  let pw = relu(b_pw + trunc(conv(dw, w_pw) * factor)) as u8
  let head = (relu(conv(dw, w_pw)) >> 8) as u8 sat
  output pw, head
}
EOF

cat >"$tmp/init.lua" <<EOF
vim.opt.runtimepath:prepend('$root/editors/vim')
vim.cmd('filetype plugin on')
vim.cmd('syntax on')
vim.opt.background = 'dark'
vim.opt.number = true
vim.opt.signcolumn = 'yes'
vim.opt.laststatus = 2
vim.cmd('hi NormalFloat ctermbg=237 ctermfg=252')
vim.cmd('hi FloatBorder ctermbg=237 ctermfg=245')
vim.lsp.handlers['textDocument/hover'] = vim.lsp.with(vim.lsp.handlers.hover, { border = 'rounded' })
vim.api.nvim_create_autocmd('FileType', {
  pattern = 'convoy',
  callback = function(args)
    local id = vim.lsp.start_client({ name = 'convoy', cmd = { '$bin', 'lsp' } })
    vim.lsp.buf_attach_client(args.buf, id)
  end,
})
vim.defer_fn(function()
  vim.fn.search('conv(dw, w_pw))')
  vim.lsp.buf.hover()
end, 2500)
EOF

display=":97"
Xvfb "$display" -screen 0 1500x820x24 >/dev/null 2>&1 &
pids+=($!)
sleep 1
(cd "$tmp" && DISPLAY="$display" TERM=xterm-256color exec xterm -geometry 168x34+0+0 \
  -fa 'DejaVu Sans Mono' -fs 10 -bg '#1c1c1c' -fg '#d0d0d0' \
  -e nvim -u "$tmp/init.lua" seed.cnn) &
pids+=($!)
sleep 6
DISPLAY="$display" import -window root "$tmp/full.png"
convert "$tmp/full.png" -crop 1350x584+0+0 +repage "$here/neovim-diagnostic-hover.png"
echo "wrote $here/neovim-diagnostic-hover.png"
