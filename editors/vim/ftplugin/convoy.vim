" Convoy: comments and indentation as in the examples.
if exists('b:did_ftplugin')
  finish
endif
let b:did_ftplugin = 1
setlocal commentstring=//\ %s
setlocal comments=:///,://
setlocal expandtab shiftwidth=2 softtabstop=2
setlocal iskeyword=a-z,A-Z,48-57,_
let b:undo_ftplugin = 'setlocal commentstring< comments< expandtab< shiftwidth< softtabstop< iskeyword<'
