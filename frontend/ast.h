/* ast.h - the syntax tree of a WSM file (internal to the front end). Nodes
 * live in the compilation's arena; sequences are singly linked through
 * `next` so the parser can build them without reallocating. */
#ifndef WSC_FE_AST_H
#define WSC_FE_AST_H

#include "ir.h"

typedef enum fe_ekind {
    E_INT,   /* i */
    E_FLOAT, /* f */
    E_BOOL,  /* i: 0 or 1 */
    E_INF,   /* the float inf */
    E_STR,   /* s */
    E_NAME,  /* s */
    E_DTYPE, /* i: ir_dtype */
    E_LIST,  /* items */
    E_BIN,   /* a op b; op is one of + - * / @ */
    E_NEG,   /* -a */
    E_CALL,  /* a(args) */
    E_INDEX, /* a[b] */
    E_SLICE, /* a[b:c], b and c optional */
} fe_ekind;

typedef struct fe_expr fe_expr;

typedef struct fe_arg {
    const char *name;    /* NULL for a positional argument */
    ir_loc name_loc;     /* where the name stands */
    fe_expr *value;      /* the argument */
    struct fe_arg *next; /* following argument */
} fe_arg;

struct fe_expr {
    fe_ekind k;     /* kind */
    ir_loc loc;     /* whole span */
    int32_t depth;  /* nesting depth (1 for a leaf) */
    int op;         /* E_BIN: the operator character */
    int64_t i;      /* integer, bool or dtype value */
    double f;       /* float value */
    const char *s;  /* name or string */
    fe_expr *a;     /* first operand, callee, indexed value */
    fe_expr *b;     /* second operand, index, slice start */
    fe_expr *c;     /* slice end */
    fe_arg *args;   /* call arguments */
    fe_expr *items; /* list items (linked by next) */
    fe_expr *next;  /* next item in a list */
};

typedef struct fe_type {
    int dtype;     /* ir_dtype */
    ir_loc loc;    /* whole type */
    fe_expr *dims; /* dimension expressions (linked) */
    int ndims;     /* count */
} fe_type;

typedef enum fe_pkind { P_ANY, P_TENSOR, P_INT, P_FLOAT } fe_pkind;

typedef struct fe_fparam {
    const char *name;       /* parameter name */
    ir_loc loc;             /* the whole parameter */
    fe_pkind kind;          /* what it accepts */
    fe_type *type;          /* P_TENSOR: declared type */
    fe_expr *def;           /* default value, or NULL */
    struct fe_fparam *next; /* following parameter */
} fe_fparam;

typedef enum fe_skind {
    S_MODEL,
    S_IMPORT,
    S_CONST,
    S_INPUT,
    S_PARAM,
    S_OUTPUT,
    S_FN,
    S_LET,
    S_ASSIGN,
    S_FOR
} fe_skind;

typedef struct fe_stmt fe_stmt;
struct fe_stmt {
    fe_skind k;        /* kind */
    ir_loc loc;        /* whole statement */
    const char *name;  /* defined or assigned name; import path */
    ir_loc name_loc;   /* where the name stands */
    fe_expr *e;        /* value; for: range start */
    fe_expr *e2;       /* for: range end */
    fe_type *type;     /* input/param type; fn result type (or NULL) */
    fe_expr *init;     /* param initializer (E_NAME or E_CALL), or NULL */
    fe_fparam *params; /* fn parameters */
    fe_stmt *body;     /* fn body / for body statements */
    fe_expr *ret;      /* fn result expression */
    fe_stmt *next;     /* following statement */
    int32_t active;    /* elaboration: calls of this fn in progress (recursion check) */
};

/* Parser state shared with the scanner. */
typedef struct fe_parser {
    ir_arena *arena;      /* where the tree goes */
    ir_diag *diag;        /* where errors go */
    int file;             /* diag file id */
    const char *text;     /* source */
    size_t len;           /* bytes */
    uint32_t off;         /* scanner position */
    fe_stmt *items;       /* parsed items */
    int errors;           /* syntax errors */
    bool too_deep;        /* the nesting limit was hit (reported once) */
    uint32_t comment_at;  /* where the open block comment starts */
    uint32_t garbage_end; /* end of the last unexpected byte reported */
    bool suppress;        /* a lexical error since the last ';': syntax errors are its echo */
} fe_parser;

/* Expressions nested deeper than this are refused: the elaborator walks
 * them recursively (on a large dedicated stack). */
#define FE_MAX_DEPTH 20000

/* Source files larger than this are refused (offsets are 32-bit). */
#define FE_MAX_SOURCE (256 << 20)

/* Parses p->text into p->items; returns the number of errors. */
int fe_parse(fe_parser *p);

#endif
