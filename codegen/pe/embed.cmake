# Turns the kernel library's bitcode into a C array (cmake -DIN=... -DOUT=... -P embed.cmake),
# so the wsc binary carries it and needs no file at run time.
file(READ ${IN} hex HEX)
string(LENGTH "${hex}" n)
math(EXPR bytes "${n} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," body "${hex}")
file(WRITE ${OUT} "/* generated from codegen/pe/wsl.c by codegen/pe/embed.cmake */\n#include <stddef.h>\n_Alignas(16) const unsigned char cg_wsl_bitcode[] = {${body}};\nconst size_t cg_wsl_bitcode_len = ${bytes};\n")
