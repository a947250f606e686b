" Headless check of the Vim files, run by editors/test.sh as
"   vim -Nu NONE -i NONE -es --cmd 'set rtp^=editors/vim' -S editors/vim/test/check.vim FILES
" For every file: the filetype is detected, the syntax loads without an
" error, and known tokens get the expected highlight group. Exits non-zero
" (cquit) on any failure, listing each one on stderr.
set nomore
filetype plugin on
syntax on

" (pattern, group): every match outside comments and strings has the group.
let s:expect = [
      \ ['\<pipeline\>', 'convoyItem'],
      \ ['@hls\>', 'convoyAttribute'],
      \ ['@hls(\zs\%(pe\|simd\)\ze:', 'convoyAttributeKey'],
      \ ['\<block\>\ze\s\+\h', 'convoyItem'],
      \ ['\<\%(input\|param\|const\|let\)\>', 'convoyDecl'],
      \ ['\<output\>', 'convoyStatement'],
      \ ['\<return\>', 'convoyStatement'],
      \ ['\<use\>', 'convoyUse'],
      \ ['\<\%(conv\|dwconv\|deconv\|dwdeconv\|upsample\|maxpool\|maxunpool\|relu\|clip\|trunc\|round\|concat\)\ze(', 'convoyStage'],
      \ ['\<\%(load\|random\)\ze(', 'convoyInit'],
      \ ['\<\%(stride\|pad\|dilation\|groups\|indices\|seed\|shift\|output_pad\)\ze:', 'convoyNamedArg'],
      \ ['\<[ui]\d\+\>', 'convoyIntType'],
      \ ['\<as\>', 'convoyCast'],
      \ ['\<as\s\+[ui]\d\+\s\+\zs\%(sat\|wrap\)\>', 'convoyOverflow'],
      \ ['\<\%(rnd\|sat\|rnd_conv\)\ze\s*[,>]', 'convoyModeContained'],
      \ ['\<\%(nearest\|bilinear\|true\)\ze\s*)', 'convoyWord'],
      \ ['\<pad\ze\s\+\d', 'convoyPad'],
      \ ['|>\|>>', 'convoyOperator'],
      \ ['\<\d\+\>\ze\s*[,\])]', 'convoyNumber'],
      \ ['^\s*\zs///', 'convoyDocComment'],
      \ ['^\s*\zs//[^/]', 'convoyComment'],
      \ ]

let s:failures = []
let s:checked = 0

function! s:group(l, c) abort
  return synIDattr(synID(a:l, a:c, 1), 'name')
endfunction

for s:file in argv()
  let v:errmsg = ''
  try
    execute 'silent edit' fnameescape(s:file)
    if &filetype !=# 'convoy'
      call add(s:failures, s:file . ': filetype is "' . &filetype . '"')
    endif
    if get(b:, 'current_syntax', '') !=# 'convoy'
      call add(s:failures, s:file . ': the convoy syntax did not load')
    endif
    for [s:pattern, s:want] in s:expect
      call cursor(1, 1)
      let s:flags = 'cW'
      while 1
        let [s:l, s:c] = searchpos(s:pattern, s:flags)
        let s:flags = 'W'
        if s:l == 0
          break
        endif
        let s:got = s:group(s:l, s:c)
        if s:got =~# 'Comment$' && s:want !~# 'Comment$' || s:got ==# 'convoyString'
          continue
        endif
        let s:checked += 1
        if s:got !=# s:want
          call add(s:failures, printf('%s:%d:%d: %s is %s, expected %s',
                \ s:file, s:l, s:c, matchstr(getline(s:l), s:pattern, s:c - 1), s:got, s:want))
        endif
      endwhile
    endfor
  catch
    call add(s:failures, s:file . ': ' . v:exception)
  endtry
  if v:errmsg !=# ''
    call add(s:failures, s:file . ': ' . v:errmsg)
  endif
endfor

if s:checked == 0
  call add(s:failures, 'no token was checked')
endif
" Output goes through Vim's own stdout and stderr (`:print` and `:verbose
" echo` in silent Ex mode): opening /dev/stdout anew would not share the
" caller's file offset.
if empty(s:failures)
  enew
  call setline(1, printf('vim: %d files, %d tokens checked', argc(), s:checked))
  print
  qall!
endif
for s:line in s:failures
  verbose echo s:line
endfor
cquit
