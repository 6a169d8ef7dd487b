/* parser.y - the WSM grammar (../shared/spec/language.md). A pure parser
 * with LAC and custom syntax errors; error recovery resumes at the next ';'
 * so one file reports all its independent syntax errors. */
%require "3.6"
%define api.pure full
%define api.prefix {fe_yy}
%define parse.error custom
%define parse.lac full
%locations
%expect 0
%param {void *scanner}
%parse-param {fe_parser *p}

%code requires {
#include "ast.h"
/* Locations are byte offsets: line and column are computed only when a
 * diagnostic is printed. */
typedef struct fe_span { uint32_t begin, end; } FE_YYLTYPE;
#define FE_YYLTYPE_IS_DECLARED 1
}

%code provides {
int fe_yylex(FE_YYSTYPE *yylval, FE_YYLTYPE *yylloc, void *scanner);
}

%code {
#include <string.h>
#define YYLLOC_DEFAULT(Cur, Rhs, N)                                                                \
    do {                                                                                           \
        if (N) {                                                                                   \
            (Cur).begin = YYRHSLOC(Rhs, 1).begin;                                                  \
            (Cur).end = YYRHSLOC(Rhs, N).end;                                                      \
        } else {                                                                                   \
            (Cur).begin = (Cur).end = YYRHSLOC(Rhs, 0).end;                                        \
        }                                                                                          \
    } while (0)
#define YYLOCATION_PRINT(File, Loc) ((void)0)
/* Deeply nested input is parsed (the stack is on the heap) and refused
 * later with a located error, never a crash. */
#define YYMAXDEPTH 4000000
#define YYINITDEPTH 256

static ir_loc L(fe_parser *p, FE_YYLTYPE l) { return (ir_loc){p->file, l.begin, l.end}; }

static fe_expr *node(fe_parser *p, fe_ekind k, FE_YYLTYPE l, fe_expr *a, fe_expr *b, fe_expr *c) {
    fe_expr *e = ir_alloc(p->arena, sizeof *e);
    e->k = k;
    e->loc = L(p, l);
    e->a = a;
    e->b = b;
    e->c = c;
    int32_t d = 0;
    if (a && a->depth > d) d = a->depth;
    if (b && b->depth > d) d = b->depth;
    if (c && c->depth > d) d = c->depth;
    e->depth = d + 1;
    if (e->depth > FE_MAX_DEPTH && !p->too_deep) {
        p->too_deep = true;
        p->errors++;
        ir_error(p->diag, e->loc, "expression is nested more than %d levels deep", FE_MAX_DEPTH);
    }
    return e;
}

/* Lists and calls get their depth from their items after node() ran. */
static void recheck_depth(fe_parser *p, fe_expr *e) {
    if (e->depth > FE_MAX_DEPTH && !p->too_deep) {
        p->too_deep = true;
        p->errors++;
        ir_error(p->diag, e->loc, "expression is nested more than %d levels deep", FE_MAX_DEPTH);
    }
}

static void fe_yyerror(FE_YYLTYPE *l, void *scanner, fe_parser *p, const char *msg) {
    p->errors++;
    ir_error(p->diag, L(p, *l), "%s", msg);
}

static fe_stmt *stmt(fe_parser *p, fe_skind k, FE_YYLTYPE l) {
    fe_stmt *s = ir_alloc(p->arena, sizeof *s);
    s->k = k;
    s->loc = L(p, l);
    return s;
}

static fe_type *type(fe_parser *p, int dt, FE_YYLTYPE l, fe_expr *dims) {
    fe_type *t = ir_alloc(p->arena, sizeof *t);
    t->dtype = dt;
    t->loc = L(p, l);
    t->dims = dims;
    for (fe_expr *e = dims; e; e = e->next) t->ndims++;
    return t;
}

static int32_t list_depth(fe_expr *items) {
    int32_t d = 0;
    for (fe_expr *e = items; e; e = e->next)
        if (e->depth > d) d = e->depth;
    return d;
}

static int32_t args_depth(fe_arg *args) {
    int32_t d = 0;
    for (fe_arg *a = args; a; a = a->next)
        if (a->value->depth > d) d = a->value->depth;
    return d;
}
}

%union {
    int64_t i;
    double f;
    const char *s;
    fe_expr *e;
    fe_type *t;
    fe_stmt *st;
    fe_arg *arg;
    fe_fparam *fp;
    struct { fe_expr *head, *tail; } el;
    struct { fe_arg *head, *tail; } al;
    struct { fe_stmt *head, *tail; } sl;
    struct { fe_fparam *head, *tail; } pl;
}

%token KW_MODEL "'model'" KW_IMPORT "'import'" KW_CONST "'const'" KW_INPUT "'input'"
%token KW_PARAM "'param'" KW_OUTPUT "'output'" KW_LET "'let'" KW_FN "'fn'" KW_FOR "'for'"
%token KW_IN "'in'" KW_RETURN "'return'" KW_INT "'int'" KW_FLOAT "'float'" KW_INF "'inf'"
%token <i> KW_BOOL "boolean"
%token <i> DTYPE "dtype"
%token <s> IDENT "identifier"
%token <i> INT "integer"
%token <f> FLOAT "float literal"
%token <s> STRING "string"
%token DOTDOT "'..'" ARROW "'->'"

%type <e> expr add mul unary postfix primary expr_opt
%type <el> exprs exprs_opt
%type <t> type ret_opt
%type <arg> arg
%type <al> args args_opt
%type <st> item stmt fn for init_opt
%type <sl> items stmts
%type <fp> fparam
%type <pl> fparams fparams_opt

%%

/* file = ("model" IDENT ";")? item* */
file
    : items                             { p->items = $1.head; }
    | KW_MODEL IDENT ';' items          {
          fe_stmt *m = stmt(p, S_MODEL, @$);
          m->name = $2;
          m->name_loc = L(p, @2);
          m->next = $4.head;
          p->items = m;
      }
    ;

items
    : %empty                            { $$.head = $$.tail = NULL; }
    | items item                        {
          $$ = $1;
          if ($2) {
              if ($$.tail) $$.tail->next = $2; else $$.head = $2;
              $$.tail = $2;
          }
      }
    ;

/* item = import | const | input | param | fn | stmt | output */
item
    : KW_IMPORT STRING ';'              { $$ = stmt(p, S_IMPORT, @$); $$->name = $2; $$->name_loc = L(p, @2); }
    | KW_CONST IDENT '=' expr ';'       { $$ = stmt(p, S_CONST, @$); $$->name = $2; $$->name_loc = L(p, @2); $$->e = $4; }
    | KW_INPUT IDENT ':' type ';'       { $$ = stmt(p, S_INPUT, @$); $$->name = $2; $$->name_loc = L(p, @2); $$->type = $4; }
    | KW_PARAM IDENT ':' type init_opt ';' {
          $$ = stmt(p, S_PARAM, @$); $$->name = $2; $$->name_loc = L(p, @2); $$->type = $4;
          $$->init = $5 ? $5->e : NULL;
      }
    | KW_OUTPUT IDENT ';'               { $$ = stmt(p, S_OUTPUT, @$); $$->name = $2; $$->name_loc = L(p, @2); }
    | KW_OUTPUT IDENT '=' expr ';'      { $$ = stmt(p, S_OUTPUT, @$); $$->name = $2; $$->name_loc = L(p, @2); $$->e = $4; }
    | fn
    | stmt
    | error ';'                         { $$ = NULL; yyerrok; }
    | error '}'                         { $$ = NULL; yyerrok; }
    ;

/* init = "zeros" | "ones" | IDENT "(" args? ")"; kept as an expression */
init_opt
    : %empty                            { $$ = NULL; }
    | '=' IDENT                         { $$ = stmt(p, S_PARAM, @$); $$->e = node(p, E_NAME, @2, NULL, NULL, NULL); $$->e->s = $2; }
    | '=' IDENT '(' args_opt ')'        {
          $$ = stmt(p, S_PARAM, @$);
          fe_expr *callee = node(p, E_NAME, @2, NULL, NULL, NULL);
          callee->s = $2;
          FE_YYLTYPE span = {@2.begin, @5.end};
          $$->e = node(p, E_CALL, span, callee, NULL, NULL);
          $$->e->args = $4.head;
      }
    ;

/* fn = "fn" IDENT "(" fparams? ")" ("->" type)? ("=" expr ";" | body)
   body = "{" stmt* "return" expr ";" "}" */
fn
    : KW_FN IDENT '(' fparams_opt ')' ret_opt '=' expr ';' {
          $$ = stmt(p, S_FN, @$); $$->name = $2; $$->name_loc = L(p, @2);
          $$->params = $4.head; $$->type = $6; $$->ret = $8;
      }
    | KW_FN IDENT '(' fparams_opt ')' ret_opt '{' stmts KW_RETURN expr ';' '}' {
          $$ = stmt(p, S_FN, @$); $$->name = $2; $$->name_loc = L(p, @2);
          $$->params = $4.head; $$->type = $6; $$->body = $8.head; $$->ret = $10;
      }
    ;

ret_opt
    : %empty                            { $$ = NULL; }
    | ARROW type                        { $$ = $2; }
    ;

fparams_opt
    : %empty                            { $$.head = $$.tail = NULL; }
    | fparams
    ;

fparams
    : fparam                            { $$.head = $$.tail = $1; }
    | fparams ',' fparam                { $$ = $1; $$.tail->next = $3; $$.tail = $3; }
    ;

/* fparam = IDENT (":" (type | "int" | "float"))? ("=" expr)? */
fparam
    : IDENT                             { $$ = ir_alloc(p->arena, sizeof *$$); $$->name = $1; $$->loc = L(p, @$); $$->kind = P_ANY; }
    | IDENT ':' type                    { $$ = ir_alloc(p->arena, sizeof *$$); $$->name = $1; $$->loc = L(p, @$); $$->kind = P_TENSOR; $$->type = $3; }
    | IDENT ':' KW_INT                  { $$ = ir_alloc(p->arena, sizeof *$$); $$->name = $1; $$->loc = L(p, @$); $$->kind = P_INT; }
    | IDENT ':' KW_FLOAT                { $$ = ir_alloc(p->arena, sizeof *$$); $$->name = $1; $$->loc = L(p, @$); $$->kind = P_FLOAT; }
    | IDENT '=' expr                    { $$ = ir_alloc(p->arena, sizeof *$$); $$->name = $1; $$->loc = L(p, @$); $$->kind = P_ANY; $$->def = $3; }
    | IDENT ':' type '=' expr           { $$ = ir_alloc(p->arena, sizeof *$$); $$->name = $1; $$->loc = L(p, @$); $$->kind = P_TENSOR; $$->type = $3; $$->def = $5; }
    | IDENT ':' KW_INT '=' expr         { $$ = ir_alloc(p->arena, sizeof *$$); $$->name = $1; $$->loc = L(p, @$); $$->kind = P_INT; $$->def = $5; }
    | IDENT ':' KW_FLOAT '=' expr       { $$ = ir_alloc(p->arena, sizeof *$$); $$->name = $1; $$->loc = L(p, @$); $$->kind = P_FLOAT; $$->def = $5; }
    ;

stmts
    : %empty                            { $$.head = $$.tail = NULL; }
    | stmts stmt                        {
          $$ = $1;
          if ($$.tail) $$.tail->next = $2; else $$.head = $2;
          $$.tail = $2;
      }
    | stmts error ';'                   { $$ = $1; yyerrok; }
    ;

/* stmt = "let" IDENT "=" expr ";" | IDENT "=" expr ";" | for */
stmt
    : KW_LET IDENT '=' expr ';'         { $$ = stmt(p, S_LET, @$); $$->name = $2; $$->name_loc = L(p, @2); $$->e = $4; }
    | IDENT '=' expr ';'                { $$ = stmt(p, S_ASSIGN, @$); $$->name = $1; $$->name_loc = L(p, @1); $$->e = $3; }
    | for
    ;

/* for = "for" IDENT "in" expr ".." expr "{" stmt* "}" */
for
    : KW_FOR IDENT KW_IN expr DOTDOT expr '{' stmts '}' {
          $$ = stmt(p, S_FOR, @$); $$->name = $2; $$->name_loc = L(p, @2);
          $$->e = $4; $$->e2 = $6; $$->body = $8.head;
      }
    ;

/* type = DTYPE "[" (expr ("," expr)*)? "]" */
type
    : DTYPE '[' exprs_opt ']'           { $$ = type(p, (int)$1, @$, $3.head); }
    ;

/* expr = add; add = mul (("+" | "-") mul)*; mul = unary (("*" | "/" | "@") unary)* */
expr: add ;

add
    : mul
    | add '+' mul                       { $$ = node(p, E_BIN, @$, $1, $3, NULL); $$->op = '+'; }
    | add '-' mul                       { $$ = node(p, E_BIN, @$, $1, $3, NULL); $$->op = '-'; }
    ;

mul
    : unary
    | mul '*' unary                     { $$ = node(p, E_BIN, @$, $1, $3, NULL); $$->op = '*'; }
    | mul '/' unary                     { $$ = node(p, E_BIN, @$, $1, $3, NULL); $$->op = '/'; }
    | mul '@' unary                     { $$ = node(p, E_BIN, @$, $1, $3, NULL); $$->op = '@'; }
    ;

/* unary = "-" unary | postfix */
unary
    : '-' unary                         { $$ = node(p, E_NEG, @$, $2, NULL, NULL); }
    | postfix
    ;

/* postfix = primary ("(" args? ")" | "[" index "]")*; index = expr | expr? ":" expr? */
postfix
    : primary
    | postfix '(' args_opt ')'          {
          $$ = node(p, E_CALL, @$, $1, NULL, NULL);
          $$->args = $3.head;
          int32_t d = args_depth($3.head) + 1;
          if (d > $$->depth) $$->depth = d;
          recheck_depth(p, $$);
      }
    | postfix '[' expr ']'              { $$ = node(p, E_INDEX, @$, $1, $3, NULL); }
    | postfix '[' expr_opt ':' expr_opt ']' { $$ = node(p, E_SLICE, @$, $1, $3, $5); }
    ;

expr_opt
    : %empty                            { $$ = NULL; }
    | expr
    ;

args_opt
    : %empty                            { $$.head = $$.tail = NULL; }
    | args
    ;

args
    : arg                               { $$.head = $$.tail = $1; }
    | args ',' arg                      { $$ = $1; $$.tail->next = $3; $$.tail = $3; }
    ;

/* arg = expr | IDENT ":" expr */
arg
    : expr                              { $$ = ir_alloc(p->arena, sizeof *$$); $$->value = $1; }
    | IDENT ':' expr                    { $$ = ir_alloc(p->arena, sizeof *$$); $$->name = $1; $$->name_loc = L(p, @1); $$->value = $3; }
    ;

/* primary = INT | FLOAT | "inf" | "true" | "false" | STRING | IDENT | DTYPE
           | "[" (expr ("," expr)*)? "]" | "(" expr ")" */
primary
    : INT                               { $$ = node(p, E_INT, @$, NULL, NULL, NULL); $$->i = $1; }
    | FLOAT                             { $$ = node(p, E_FLOAT, @$, NULL, NULL, NULL); $$->f = $1; }
    | KW_INF                            { $$ = node(p, E_INF, @$, NULL, NULL, NULL); }
    | KW_BOOL                           { $$ = node(p, E_BOOL, @$, NULL, NULL, NULL); $$->i = $1; }
    | STRING                            { $$ = node(p, E_STR, @$, NULL, NULL, NULL); $$->s = $1; }
    | IDENT                             { $$ = node(p, E_NAME, @$, NULL, NULL, NULL); $$->s = $1; }
    | DTYPE                             { $$ = node(p, E_DTYPE, @$, NULL, NULL, NULL); $$->i = $1; }
    | '[' exprs_opt ']'                 {
          $$ = node(p, E_LIST, @$, NULL, NULL, NULL);
          $$->items = $2.head;
          int32_t d = list_depth($2.head) + 1;
          if (d > $$->depth) $$->depth = d;
          recheck_depth(p, $$);
      }
    | '(' expr ')'                      { $$ = node(p, $2->k, @$, NULL, NULL, NULL); *$$ = *$2; $$->loc = L(p, @$); $$->depth = $2->depth + 1; }
    ;

exprs_opt
    : %empty                            { $$.head = $$.tail = NULL; }
    | exprs
    ;

exprs
    : expr                              { $$.head = $$.tail = $1; }
    | exprs ',' expr                    { $$ = $1; $$.tail->next = $3; $$.tail = $3; }
    ;

%%

/* Bison names string aliases with their double quotes; drop them. */
static void symbol_text(yysymbol_kind_t k, char *buf, size_t n) {
    const char *s = yysymbol_name(k);
    size_t len = strlen(s);
    if (len >= 2 && s[0] == '"' && s[len - 1] == '"') {
        s++;
        len -= 2;
    }
    if (k == YYSYMBOL_YYEOF) s = "end of file", len = strlen(s);
    snprintf(buf, n, "%.*s", (int)len, s);
}

/* Lists what may come next. When many tokens could (after an operand
 * almost any operator can), only the closing punctuation is named: that is
 * what the user most likely forgot. */
static int yyreport_syntax_error(const yypcontext_t *ctx, void *scanner, fe_parser *p) {
    p->errors++;
    /* The scanner already reported what went wrong here. */
    if (p->suppress) return 0;
    enum { MAX = 64 };
    yysymbol_kind_t all[MAX], shown[MAX];
    int n = yypcontext_expected_tokens(ctx, all, MAX), k = 0;
    if (n > 4) {
        for (int i = 0; i < n; i++) {
            const char *s = yysymbol_name(all[i]);
            if (!strcmp(s, "')'") || !strcmp(s, "']'") || !strcmp(s, "';'") || !strcmp(s, "','") || !strcmp(s, "'}'"))
                shown[k++] = all[i];
        }
    } else {
        for (int i = 0; i < n; i++) shown[k++] = all[i];
    }
    char got[64], msg[512];
    symbol_text(yypcontext_token(ctx), got, sizeof got);
    bool operand = false;
    for (int i = 0; i < n; i++) operand |= all[i] == YYSYMBOL_INT;
    size_t len = 0;
    if (k == 0 && operand) {
        snprintf(msg, sizeof msg, "expected an expression before %s", got);
    } else if (k > 0) {
        len += (size_t)snprintf(msg + len, sizeof msg - len, "expected ");
        for (int i = 0; i < k; i++) {
            char e[64];
            symbol_text(shown[i], e, sizeof e);
            len += (size_t)snprintf(msg + len, sizeof msg - len, "%s%s", i == 0 ? "" : i == k - 1 ? " or " : ", ", e);
        }
        snprintf(msg + len, sizeof msg - len, " before %s", got);
    } else {
        snprintf(msg, sizeof msg, "unexpected %s", got);
    }
    ir_error(p->diag, L(p, *yypcontext_location(ctx)), "%s", msg);
    return 0;
}
