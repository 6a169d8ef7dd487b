/* parse.c - runs the scanner and parser over one source text. */
#include "ast.h"
#include "fe.h"
#include "parser.h"
#define YYSTYPE FE_YYSTYPE
#define YYLTYPE FE_YYLTYPE
#include "lexer.h"

int fe_parse(fe_parser *p) {
    yyscan_t sc;
    if (fe_yylex_init_extra(p, &sc)) ir_internal_error("cannot start the scanner");
    YY_BUFFER_STATE b = fe_yy_scan_bytes(p->text, (int)p->len, sc);
    fe_yyparse(sc, p);
    fe_yy_delete_buffer(b, sc);
    fe_yylex_destroy(sc);
    return p->errors;
}

int fe_parse_only(const char *path, const char *text, size_t len, ir_diag *d) {
    if (len > FE_MAX_SOURCE) {
        ir_error(d, IR_NOLOC, "%s: file is larger than %d MiB", path, FE_MAX_SOURCE >> 20);
        return 1;
    }
    fe_parser p = {0};
    p.arena = ir_arena_new();
    p.diag = d;
    p.file = ir_diag_add_file(d, path, text, len);
    p.text = ir_diag_file_text(d, p.file, &p.len);
    int n = fe_parse(&p);
    ir_arena_free(p.arena);
    return n;
}
