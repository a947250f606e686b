" Vim syntax file
" Language: Convoy (.cnn), fixed-point CNN pipelines
" Tokens follow grammar/convoy.pest; groups link to the standard ones.

if exists('b:current_syntax')
  finish
endif

syn case match

" Comments: `///` documents the block below it.
syn keyword convoyTodo contained TODO FIXME XXX NOTE
syn match convoyComment "//.*$" contains=convoyTodo,@Spell
syn match convoyDocComment "///.*$" contains=convoyTodo,@Spell

syn region convoyString start=+"+ end=+"\|$+ oneline

" Items and statements.
syn keyword convoyItem pipeline block nextgroup=convoyItemName skipwhite
syn match convoyItemName "\<\h\w*\>" contained
syn keyword convoyUse use nextgroup=convoyPath skipwhite
syn match convoyPath "\<\h\w*\%(::\h\w*\)*" contained contains=convoyPathSep
syn match convoyPathSep "::" contained
syn keyword convoyDecl input param const let nextgroup=convoyDeclName skipwhite
syn match convoyDeclName "\<\h\w*\>" contained
syn keyword convoyStatement output return
syn match convoyPad "\<pad\>\ze\s\+\d"
syn keyword convoyCast as

" `test NAME { ... }`: its words are keywords only inside it.
syn region convoyTest matchgroup=convoyItem start="^\s*\zstest\ze\s\+\h\w*\s*{" end="}" transparent contains=ALLBUT,convoyItemName,convoyDeclName,convoyPathSep,convoyTodo,convoyModeContained
syn keyword convoyTestWord run with expect fits no in snapshot contained containedin=convoyTest

" Attributes above a `let`: `@hls(pe: 16, simd: 4)` (src/builtins.rs lists them).
syn match convoyAttributeError "@\h\=\w*"
syn match convoyAttribute "@\%(hls\)\>"
syn keyword convoyAttributeKey pe simd contained
syn region convoyAttributeArgs start="\%(@\h\w*\s*\)\@<=(" end=")" oneline transparent contains=convoyNumber,convoyAttributeKey

" Types: u8, i12, fixed<16, 6, rnd, sat>, ufixed<8, 3>.
syn match convoyIntType "\<[ui]\d\+\>"
syn region convoyFixed matchgroup=convoyType start="\<u\=fixed\s*<" end=">" oneline contains=convoyNumber,convoyModeContained,convoyBadMode
syn match convoyBadMode "\<\h\w*\>" contained
syn keyword convoyModeContained contained trn trn_zero rnd rnd_zero rnd_inf rnd_min_inf rnd_conv wrap sat sat_zero sat_sym
syn keyword convoyOverflow wrap sat sat_zero sat_sym

" Calls: stages, initializers, blocks; named arguments `stride:`.
syn keyword convoyStage conv dwconv deconv dwdeconv upsample maxpool maxunpool relu clip max min floor round trunc concat table
syn keyword convoyStage avgpool global_avgpool dense sum argmax
syn keyword convoyStage depth_to_space space_to_depth flatten reshape slice
syn keyword convoyInit load random
syn match convoyCall "\<\h\w*\ze\s*("
" `pad` is also a buffer's halo (`pad 1`) and a named argument (`pad: 1`): a stage only
" when a call follows (after convoyCall, so that it wins).
syn match convoyStage "\<pad\ze\s*("
syn match convoyNamedArg "\<\h\w*\ze\s*:\%(:\)\@!"
syn keyword convoyWord nearest bilinear true false sigmoid tanh exp log sqrt reciprocal softplus gelu silu dcr crd

syn match convoyNumber "\<\d\+\%(\.\d\+\)\=\%([eE][+-]\=\d\+\)\=\>"
syn match convoyNumber "-\d\+" contained

syn match convoyOperator "|>\|>>\|<<\|==\|\.\.\|[-+*=]"
syn match convoyError ";"

hi def link convoyTodo Todo
hi def link convoyComment Comment
hi def link convoyDocComment SpecialComment
hi def link convoyString String
hi def link convoyItem Structure
hi def link convoyItemName Function
hi def link convoyUse Include
hi def link convoyPath Identifier
hi def link convoyPathSep Delimiter
hi def link convoyDecl StorageClass
hi def link convoyDeclName Identifier
hi def link convoyStatement Statement
hi def link convoyPad Keyword
hi def link convoyCast Operator
hi def link convoyTestWord Keyword
hi def link convoyAttribute PreProc
hi def link convoyAttributeError Error
hi def link convoyAttributeKey Label
hi def link convoyIntType Type
hi def link convoyType Type
hi def link convoyModeContained Constant
hi def link convoyBadMode Error
hi def link convoyOverflow Constant
hi def link convoyStage Function
hi def link convoyInit Function
hi def link convoyCall Function
hi def link convoyNamedArg Label
hi def link convoyWord Constant
hi def link convoyNumber Number
hi def link convoyOperator Operator
hi def link convoyError Error

let b:current_syntax = 'convoy'
