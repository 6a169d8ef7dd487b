/* cg.h - PE program generation through LLVM (docs/codegen.md): one LLVM
 * module per distinct program (kernel kind, element type, fused ops and the
 * forms of their operands), verified, optimized at O2 and kept as bitcode
 * for the artifact's PROG section. LLVM's headers stay inside codegen/. */
#ifndef WSC_CG_H
#define WSC_CG_H

#include "ir.h"

typedef struct cg_program {
    ir_kkind kind;    /* the kernel kind it runs */
    ir_dtype dtype;   /* element type */
    char *key;        /* identity: kind, dtype, fused ops and operand forms */
    bool supported;   /* false: wse_task traps (wsc_unsupported_*) */
    char *why;        /* when unsupported: the reason */
    uint8_t *bitcode; /* the optimized module */
    size_t len;       /* bytes of bitcode */
    int32_t *kernels; /* kernels that run it (indices into the kernel graph) */
    int32_t nkernels; /* count */
} cg_program;

typedef struct cg_programs {
    cg_program *p;        /* distinct programs */
    int32_t n;            /* count */
    int32_t *prog_of;     /* kernel -> program index */
    int32_t nk;           /* kernels */
    char **names;         /* kernel names (copied), for printing */
    int32_t *unsupported; /* kernels whose program is a trap */
    int32_t nunsupported; /* count */
} cg_programs;

/* Generates every kernel's program. Unsupported kernels still get a (trap)
 * program and are listed in out->unsupported; returns false only when the
 * host has no LLVM target (reported on d). A module that fails
 * LLVMVerifyModule is a bug (exit 70). */
bool cg_generate(const ir_graph *g, const ir_kgraph *kg, const ir_target *t, cg_programs *out,
                 ir_diag *d);
void cg_programs_free(cg_programs *p);

/* Every PE's initial SRAM image and the host I/O map (image.c), from the
 * placed kernel graph and its routed nets. False (reported) when a PE's
 * parameters, weights and buffers do not fit its SRAM or it would receive
 * more nets than it has data tasks. Kernels whose program is unsupported
 * get images without segments. */
typedef struct rt_routes rt_routes;
typedef struct rt_images rt_images;
bool cg_build_images(const ir_graph *g, const ir_kgraph *kg, const ir_target *t,
                     const cg_programs *progs, const rt_routes *routes, rt_images *im, ir_diag *d);

/* `wsc compile --emit llvm`: every module as text, each after a line
 * `; program N: KIND DTYPE, used by kernels NAME, ...`. */
void cg_print_llvm(const cg_programs *p, FILE *out);

#endif
