" Convoy pipelines: *.cnn
autocmd BufRead,BufNewFile *.cnn setfiletype convoy
