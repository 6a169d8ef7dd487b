/* cgi.h - codegen's internals shared by its files (plan.c decides, cg.c
 * emits LLVM, jit.c runs it). Not for use outside codegen/. */
#ifndef WSC_CGI_H
#define WSC_CGI_H

#include "cg.h"

#include "../runtime/wse_abi.h"

#define CG_MAX_OPS 32

/* Where an operand of a fused op comes from. */
typedef enum cg_form {
    CG_CHAIN,  /* the previous op's result (the kernel's value so far) */
    CG_STREAM, /* streamed source idx, buffered for the pass (wse_source) */
    CG_SCALAR, /* immediate: ep.opnd[idx].imm */
    CG_VECTOR, /* resident [N] broadcast along rows: opnd[idx].off holds this PE's columns */
    CG_FULL,   /* resident of the output's shape: opnd[idx].off holds rows x this PE's columns */
} cg_form;

typedef struct cg_arg {
    cg_form form; /* where it comes from */
    int idx;      /* source index or operand slot */
} cg_arg;

typedef struct cg_fop {
    ir_op op;    /* elementwise op */
    bool approx; /* gelu: the tanh form */
    int nin;     /* operands */
    cg_arg a[3]; /* their forms */
} cg_fop;

typedef struct cg_plan {
    ir_kkind kind;                    /* kernel kind */
    ir_dtype dtype;                   /* element type of the kernel's value */
    bool supported;                   /* false: the program is a trap */
    char why[160];                    /* reason when unsupported */
    bool bias;                        /* gemv: linear adds a bias */
    int row_op;                       /* row: WSE_ROW_*, else -1 */
    ir_op gen_op;                     /* generic: the op */
    int nplan;                        /* sources the fused ops read (library sources 0..nplan-1) */
    ir_ref gemv_x;                    /* gemv: its streamed input (not usable in its epilogue) */
    int nops;                         /* fused elementwise ops */
    cg_fop ops[CG_MAX_OPS];           /* in order */
    int nsrc;                         /* streamed sources */
    ir_ref src[WSE_MAX_SRC];          /* their IR values */
    int nslots;                       /* resident / immediate operand slots used */
    ir_ref slot_ref[WSE_MAX_OPERAND]; /* the IR value of each slot */
    char key[1024];                   /* program identity */
} cg_plan;

void cg_plan_kernel(const ir_graph *g, const ir_kernel *k, cg_plan *p);

/* Registers the native target once (thread-safe). */
void cg_llvm_init(void);

#endif
