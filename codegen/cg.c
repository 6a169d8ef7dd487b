/* cg.c - emits one LLVM module per distinct program plan (plan.c), against
 * the ABI of runtime/wse_abi.h: every parameter is read from the PE's
 * parameter block at the offsets of that header, so one module serves every
 * PE of every kernel with the same plan. Modules are verified, optimized at
 * O2 for the host and kept as bitcode. */
#include "cgi.h"

#include <llvm-c/Analysis.h>
#include <llvm-c/BitReader.h>
#include <llvm-c/BitWriter.h>
#include <llvm-c/Core.h>
#include <llvm-c/Linker.h>
#include <llvm-c/Target.h>
#include <llvm-c/TargetMachine.h>
#include <llvm-c/Transforms/PassBuilder.h>

#include <math.h>
#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static bool init_ok;

static void do_init(void) {
    init_ok = !LLVMInitializeNativeTarget() && !LLVMInitializeNativeAsmPrinter();
}

void cg_llvm_init(void) {
    pthread_once(&init_once, do_init);
}

/* ------------------------------------------------------ building blocks */

typedef struct gen {
    LLVMContextRef c;              /* context of the module */
    LLVMModuleRef m;               /* module being built */
    LLVMBuilderRef b;              /* builder */
    LLVMTypeRef i1, i8, i32, i64;  /* integer types */
    LLVMTypeRef f32, f64, ptr, vd; /* float, pointer, void */
    LLVMTypeRef t_sram, t_send, t_charge, t_task, t_init, t_helper, t_void0; /* function types */
    LLVMValueRef f_sram, f_send, f_charge, f_activate;                       /* the ABI calls */
    LLVMValueRef fn;       /* function being built */
    LLVMValueRef pe, sram; /* its PE argument, its SRAM pointer */
    const cg_plan *pl;     /* what to build */
} gen;

static LLVMValueRef c32(gen *G, uint64_t v) {
    return LLVMConstInt(G->i32, v, 0);
}

static LLVMValueRef cf64(gen *G, double v) {
    return LLVMConstReal(G->f64, v);
}

/* A pointer to byte offset `off` (i32) of SRAM. */
static LLVMValueRef at(gen *G, LLVMValueRef off) {
    LLVMValueRef i = LLVMBuildZExt(G->b, off, G->i64, "");
    return LLVMBuildInBoundsGEP2(G->b, G->i8, G->sram, &i, 1, "");
}

static LLVMValueRef ld(gen *G, LLVMTypeRef t, LLVMValueRef off) {
    LLVMValueRef v = LLVMBuildLoad2(G->b, t, at(G, off), "");
    LLVMSetAlignment(v, 4);
    return v;
}

/* A field of the parameter block (a constant offset). */
static LLVMValueRef par(gen *G, size_t off) {
    return ld(G, G->i32, c32(G, off));
}

static LLVMValueRef add(gen *G, LLVMValueRef a, LLVMValueRef b) {
    return LLVMBuildAdd(G->b, a, b, "");
}

static LLVMValueRef mul(gen *G, LLVMValueRef a, LLVMValueRef b) {
    return LLVMBuildMul(G->b, a, b, "");
}

/* Byte offset of f32 element i of an array at `base`. */
static LLVMValueRef elem(gen *G, LLVMValueRef base, LLVMValueRef i) {
    return add(G, base, mul(G, i, c32(G, 4)));
}

static LLVMBasicBlockRef block(gen *G, const char *name) {
    return LLVMAppendBasicBlockInContext(G->c, G->fn, name);
}

/* A local variable in the entry block, so mem2reg makes it a register. */
static LLVMValueRef var(gen *G, LLVMTypeRef t) {
    LLVMBasicBlockRef cur = LLVMGetInsertBlock(G->b), entry = LLVMGetEntryBasicBlock(G->fn);
    LLVMValueRef first = LLVMGetFirstInstruction(entry);
    if (first)
        LLVMPositionBuilderBefore(G->b, first);
    else
        LLVMPositionBuilderAtEnd(G->b, entry);
    LLVMValueRef v = LLVMBuildAlloca(G->b, t, "");
    LLVMPositionBuilderAtEnd(G->b, cur);
    return v;
}

/* for (i = 0; i < n; i++): loop_begin returns i, loop_end closes it. */
typedef struct loop {
    LLVMValueRef iv;        /* the counter's slot */
    LLVMValueRef i;         /* its value in the body */
    LLVMBasicBlockRef cond; /* test */
    LLVMBasicBlockRef end;  /* after the loop */
} loop;

static loop loop_begin(gen *G, LLVMValueRef n) {
    loop L;
    L.iv = var(G, G->i32);
    LLVMBuildStore(G->b, c32(G, 0), L.iv);
    L.cond = block(G, "loop");
    LLVMBasicBlockRef body = block(G, "body");
    L.end = block(G, "done");
    LLVMBuildBr(G->b, L.cond);
    LLVMPositionBuilderAtEnd(G->b, L.cond);
    L.i = LLVMBuildLoad2(G->b, G->i32, L.iv, "i");
    LLVMBuildCondBr(G->b, LLVMBuildICmp(G->b, LLVMIntULT, L.i, n, ""), body, L.end);
    LLVMPositionBuilderAtEnd(G->b, body);
    return L;
}

static void loop_end(gen *G, loop *L) {
    LLVMBuildStore(G->b, add(G, L->i, c32(G, 1)), L->iv);
    LLVMBuildBr(G->b, L->cond);
    LLVMPositionBuilderAtEnd(G->b, L->end);
}

static LLVMValueRef call(gen *G, LLVMTypeRef t, LLVMValueRef f, LLVMValueRef *args, int n) {
    return LLVMBuildCall2(G->b, t, f, args, (unsigned)n, "");
}

static void charge(gen *G, LLVMValueRef cycles) {
    LLVMValueRef a[2] = {G->pe, cycles};
    call(G, G->t_charge, G->f_charge, a, 2);
}

static LLVMValueRef intrinsic(gen *G, const char *name, LLVMTypeRef t, LLVMValueRef *args, int n) {
    unsigned id = LLVMLookupIntrinsicID(name, strlen(name));
    LLVMTypeRef tys[1] = {t};
    LLVMValueRef f = LLVMGetIntrinsicDeclaration(G->m, id, tys, t ? 1 : 0);
    LLVMTypeRef ft = LLVMIntrinsicGetType(G->c, id, tys, t ? 1 : 0);
    return call(G, ft, f, args, n);
}

static void trap(gen *G) {
    intrinsic(G, "llvm.trap", NULL, NULL, 0);
    LLVMBuildUnreachable(G->b);
}

/* A libm function of one double (the interpreter evaluates transcendental
 * ops in double and rounds once; doing the same keeps results close to the
 * oracle whatever the host's float libm does). */
static LLVMValueRef libm(gen *G, const char *name, LLVMValueRef x) {
    LLVMTypeRef t = LLVMFunctionType(G->f64, &G->f64, 1, 0);
    LLVMValueRef f = LLVMGetNamedFunction(G->m, name);
    if (!f) f = LLVMAddFunction(G->m, name, t);
    return call(G, t, f, &x, 1);
}

/* Starts a function whose parameters are (pe, ...): sets pe and sram. */
static void begin(gen *G, LLVMValueRef f) {
    G->fn = f;
    LLVMPositionBuilderAtEnd(G->b, block(G, "entry"));
    G->pe = LLVMGetParam(f, 0);
    if (LLVMCountParams(f) >= 2 && LLVMTypeOf(LLVMGetParam(f, 1)) == G->ptr)
        G->sram = LLVMGetParam(f, 1);
    else
        G->sram = call(G, G->t_sram, G->f_sram, &G->pe, 1);
}

/* ----------------------------------------------------- elementwise ops */

static LLVMValueRef sigmoid_d(gen *G, LLVMValueRef x) {
    /* As the interpreter: 1 / (1 + e^-x) for x >= 0, e^x / (1 + e^x) below,
     * both from t = e^-|x|. */
    LLVMValueRef ax = intrinsic(G, "llvm.fabs", G->f64, &x, 1);
    LLVMValueRef t = libm(G, "exp", LLVMBuildFNeg(G->b, ax, ""));
    LLVMValueRef den = LLVMBuildFAdd(G->b, cf64(G, 1.0), t, "");
    LLVMValueRef pos = LLVMBuildFDiv(G->b, cf64(G, 1.0), den, "");
    LLVMValueRef neg = LLVMBuildFDiv(G->b, t, den, "");
    LLVMValueRef ge = LLVMBuildFCmp(G->b, LLVMRealOGE, x, cf64(G, 0.0), "");
    return LLVMBuildSelect(G->b, ge, pos, neg, "");
}

static LLVMValueRef unary(gen *G, const cg_fop *f, LLVMValueRef xf) {
    LLVMBuilderRef b = G->b;
    if (f->op == IR_RELU) {
        LLVMValueRef lt = LLVMBuildFCmp(b, LLVMRealOLT, xf, LLVMConstReal(G->f32, 0.0), "");
        return LLVMBuildSelect(b, lt, LLVMConstReal(G->f32, 0.0), xf, "");
    }
    LLVMValueRef x = LLVMBuildFPExt(b, xf, G->f64, ""), r = NULL;
    switch (f->op) {
    case IR_NEG: r = LLVMBuildFNeg(b, x, ""); break;
    case IR_ABS: r = intrinsic(G, "llvm.fabs", G->f64, &x, 1); break;
    case IR_EXP: r = libm(G, "exp", x); break;
    case IR_LOG: r = libm(G, "log", x); break;
    case IR_SQRT: r = libm(G, "sqrt", x); break;
    case IR_RSQRT: r = LLVMBuildFDiv(b, cf64(G, 1.0), libm(G, "sqrt", x), ""); break;
    case IR_SIN: r = libm(G, "sin", x); break;
    case IR_COS: r = libm(G, "cos", x); break;
    case IR_TANH: r = libm(G, "tanh", x); break;
    case IR_ERF: r = libm(G, "erf", x); break;
    case IR_SIGMOID: r = sigmoid_d(G, x); break;
    case IR_SILU: r = LLVMBuildFMul(b, x, sigmoid_d(G, x), ""); break;
    case IR_GELU:
        if (f->approx) {
            /* x * sigmoid(2 beta (x + kappa x^3)), the interpreter's form. */
            const double beta = M_SQRT2 * M_2_SQRTPI * 0.5, kappa = 0.044715;
            LLVMValueRef c = LLVMBuildFMul(b, cf64(G, kappa), x, "");
            c = LLVMBuildFMul(b, LLVMBuildFMul(b, c, x, ""), x, "");
            LLVMValueRef z = LLVMBuildFMul(b, cf64(G, 2.0 * beta), LLVMBuildFAdd(b, x, c, ""), "");
            r = LLVMBuildFMul(b, x, sigmoid_d(G, z), "");
        } else {
            /* 0.5 x erfc(-x / sqrt 2): no cancellation for negative x. */
            LLVMValueRef h = LLVMBuildFMul(b, cf64(G, 0.5), x, "");
            LLVMValueRef z = LLVMBuildFMul(b, LLVMBuildFNeg(b, x, ""), cf64(G, M_SQRT1_2), "");
            r = LLVMBuildFMul(b, h, libm(G, "erfc", z), "");
        }
        break;
    default: ir_internal_error("codegen: %s is not a unary op", ir_ops[f->op].name);
    }
    return LLVMBuildFPTrunc(b, r, G->f32, "");
}

static LLVMValueRef binary(gen *G, ir_op op, LLVMValueRef x, LLVMValueRef y) {
    LLVMBuilderRef b = G->b;
    switch (op) {
    case IR_ADD: return LLVMBuildFAdd(b, x, y, "");
    case IR_SUB: return LLVMBuildFSub(b, x, y, "");
    case IR_MUL: return LLVMBuildFMul(b, x, y, "");
    case IR_DIV: return LLVMBuildFDiv(b, x, y, "");
    case IR_POW: {
        LLVMValueRef xd = LLVMBuildFPExt(b, x, G->f64, ""), yd = LLVMBuildFPExt(b, y, G->f64, "");
        LLVMTypeRef t2 = LLVMFunctionType(G->f64, (LLVMTypeRef[]){G->f64, G->f64}, 2, 0);
        LLVMValueRef f = LLVMGetNamedFunction(G->m, "pow");
        if (!f) f = LLVMAddFunction(G->m, "pow", t2);
        LLVMValueRef r = call(G, t2, f, (LLVMValueRef[]){xd, yd}, 2);
        return LLVMBuildFPTrunc(b, r, G->f32, "");
    }
    case IR_MAXIMUM:
    case IR_MINIMUM: {
        /* NaN propagates from either side, as in the interpreter. */
        LLVMValueRef cmp = LLVMBuildFCmp(b, op == IR_MAXIMUM ? LLVMRealOGT : LLVMRealOLT, x, y, "");
        LLVMValueRef nan = LLVMBuildFCmp(b, LLVMRealUNO, x, x, "");
        return LLVMBuildSelect(b, LLVMBuildOr(b, cmp, nan, ""), x, y, "");
    }
    default: ir_internal_error("codegen: %s is not a binary op", ir_ops[op].name);
    }
}

/* Offset of field `off` of the parameter block (a constant). */
#define PAR(field) par(G, offsetof(wse_params, field))

/* Operand a of element e of row `row` (v: the chain value). */
static LLVMValueRef fetch(gen *G, const cg_arg *a, LLVMValueRef row, LLVMValueRef e,
                          LLVMValueRef chain) {
    switch (a->form) {
    case CG_CHAIN: return chain;
    case CG_STREAM: {
        size_t s = offsetof(wse_params, src) + sizeof(wse_source) * (size_t)a->idx;
        LLVMValueRef width = LLVMBuildSub(G->b, par(G, s + offsetof(wse_source, c1)),
                                          par(G, s + offsetof(wse_source, c0)), "");
        LLVMValueRef base = par(G, s + offsetof(wse_source, off_buf));
        return ld(G, G->f32, elem(G, base, add(G, mul(G, row, width), e)));
    }
    case CG_SCALAR:
        return ld(G, G->f32,
                  c32(G, offsetof(wse_params, opnd) + sizeof(wse_operand) * (size_t)a->idx +
                             offsetof(wse_operand, imm)));
    case CG_VECTOR:
    case CG_FULL: {
        LLVMValueRef i = e;
        if (a->form == CG_FULL) i = add(G, mul(G, row, PAR(n)), e);
        LLVMValueRef base =
            par(G, offsetof(wse_params, opnd) + sizeof(wse_operand) * (size_t)a->idx +
                       offsetof(wse_operand, off));
        return ld(G, G->f32, elem(G, base, i));
    }
    }
    return NULL;
}

/* ------------------------------------------------------------ programs */

/* wsc_ep(pe, sram, row, n, v): the fused ops over a row slice, in place. */
static void emit_epilogue(gen *G, LLVMValueRef f) {
    const cg_plan *pl = G->pl;
    begin(G, f);
    LLVMValueRef row = LLVMGetParam(f, 2), n = LLVMGetParam(f, 3), v = LLVMGetParam(f, 4);
    if (pl->nops) {
        loop L = loop_begin(G, n);
        LLVMValueRef i64 = LLVMBuildZExt(G->b, L.i, G->i64, "");
        LLVMValueRef slot = LLVMBuildInBoundsGEP2(G->b, G->f32, v, &i64, 1, "");
        LLVMValueRef x = LLVMBuildLoad2(G->b, G->f32, slot, "");
        for (int i = 0; i < pl->nops; i++) {
            const cg_fop *op = &pl->ops[i];
            LLVMValueRef a = fetch(G, &op->a[0], row, L.i, x);
            if (op->op == IR_CAUSAL_MASK) {
                /* column j > i + (S - T) of each [T, S] matrix is -inf */
                LLVMValueRef T = PAR(mat_rows), S = PAR(out_ncol);
                LLVMValueRef r = LLVMBuildURem(G->b, row, T, "");
                LLVMValueRef j = add(G, PAR(out_c0), L.i);
                LLVMValueRef lim = LLVMBuildSub(G->b, add(G, r, S), T, "");
                LLVMValueRef masked = LLVMBuildICmp(G->b, LLVMIntSGT, j, lim, "");
                x = LLVMBuildSelect(G->b, masked, LLVMConstReal(G->f32, -INFINITY), a, "");
                continue;
            }
            x = op->nin == 1 ? unary(G, op, a)
                             : binary(G, op->op, a, fetch(G, &op->a[1], row, L.i, x));
        }
        LLVMBuildStore(G->b, x, slot);
        loop_end(G, &L);
        charge(G, mul(G, n, c32(G, (uint64_t)pl->nops)));
    }
    LLVMBuildRetVoid(G->b);
}

/* The kernel library (codegen/pe/wsl.c as bitcode, embedded at build time). */
extern const unsigned char cg_wsl_bitcode[];
extern const size_t cg_wsl_bitcode_len;

/* Links the library into the module; its functions become internal so O2
 * specializes them for this program and drops what it does not use. */
static void link_library(gen *G) {
    LLVMMemoryBufferRef mb = LLVMCreateMemoryBufferWithMemoryRange((const char *)cg_wsl_bitcode,
                                                                   cg_wsl_bitcode_len, "wsl", 0);
    LLVMModuleRef lib;
    if (LLVMParseBitcodeInContext2(G->c, mb, &lib))
        ir_internal_error("codegen: the embedded kernel library does not parse");
    LLVMDisposeMemoryBuffer(mb);
    char *triple = LLVMGetTarget(G->m) ? ir_xstrdup(LLVMGetTarget(G->m)) : NULL;
    LLVMSetTarget(lib, triple ? triple : "");
    LLVMSetDataLayout(lib, LLVMGetDataLayoutStr(G->m));
    free(triple);
    if (LLVMLinkModules2(G->m, lib))
        ir_internal_error("codegen: linking the kernel library failed");
    for (LLVMValueRef f = LLVMGetFirstFunction(G->m); f; f = LLVMGetNextFunction(f)) {
        size_t len;
        const char *name = LLVMGetValueName2(f, &len);
        if (LLVMIsDeclaration(f) || !strcmp(name, "wse_init") || !strcmp(name, "wse_task"))
            continue;
        LLVMSetLinkage(f, LLVMInternalLinkage);
    }
}

static void build(gen *G) {
    const cg_plan *pl = G->pl;
    LLVMValueRef f_init = LLVMAddFunction(G->m, "wse_init", G->t_init);
    LLVMValueRef f_task = LLVMAddFunction(G->m, "wse_task", G->t_task);

    if (!pl->supported) {
        /* A named trap: the runtime (or a debugger) sees which kind is missing. */
        char name[64];
        snprintf(name, sizeof name, "wsc_unsupported_%s", ir_kkind_name(pl->kind));
        LLVMValueRef f_trap = LLVMAddFunction(G->m, name, G->t_void0);
        LLVMAddAttributeAtIndex(
            f_trap, LLVMAttributeFunctionIndex,
            LLVMCreateEnumAttribute(G->c, LLVMGetEnumAttributeKindForName("noinline", 8), 0));
        LLVMAddAttributeAtIndex(
            f_trap, LLVMAttributeFunctionIndex,
            LLVMCreateEnumAttribute(G->c, LLVMGetEnumAttributeKindForName("cold", 4), 0));
        G->fn = f_trap;
        LLVMPositionBuilderAtEnd(G->b, block(G, "entry"));
        trap(G);
        G->fn = f_init;
        LLVMPositionBuilderAtEnd(G->b, block(G, "entry"));
        LLVMBuildRetVoid(G->b);
        G->fn = f_task;
        LLVMPositionBuilderAtEnd(G->b, block(G, "entry"));
        call(G, G->t_void0, f_trap, NULL, 0);
        LLVMBuildUnreachable(G->b);
        return;
    }

    LLVMTypeRef t_ep =
        LLVMFunctionType(G->vd, (LLVMTypeRef[]){G->ptr, G->ptr, G->i32, G->i32, G->ptr}, 5, 0);
    LLVMValueRef f_ep = LLVMAddFunction(G->m, "wsc_ep", t_ep);
    emit_epilogue(G, f_ep);

    /* The entry points call the library's code for the kernel's kind with
     * the number of sources the fused ops read (a constant O2 folds in). */
    LLVMTypeRef t_lib =
        LLVMFunctionType(G->vd, (LLVMTypeRef[]){G->ptr, G->i32, G->i32, G->i32, G->i32}, 5, 0);
    LLVMValueRef f_lib = LLVMAddFunction(G->m, "wsl_task", t_lib);
    LLVMValueRef f_linit = LLVMAddFunction(G->m, "wsl_init", G->t_init);
    G->fn = f_init;
    LLVMPositionBuilderAtEnd(G->b, block(G, "entry"));
    G->pe = LLVMGetParam(f_init, 0);
    call(G, G->t_init, f_linit, &G->pe, 1);
    LLVMBuildRetVoid(G->b);
    G->fn = f_task;
    LLVMPositionBuilderAtEnd(G->b, block(G, "entry"));
    G->pe = LLVMGetParam(f_task, 0);
    LLVMValueRef args[5] = {G->pe, LLVMGetParam(f_task, 1), LLVMGetParam(f_task, 2),
                            c32(G, (uint64_t)pl->nplan), c32(G, (uint64_t)pl->kind)};
    call(G, t_lib, f_lib, args, 5);
    LLVMBuildRetVoid(G->b);
    link_library(G);
}

/* --------------------------------------------------------- the driver */

static LLVMTargetMachineRef host_machine(ir_diag *d) {
    cg_llvm_init();
    if (!init_ok) {
        ir_error(d, IR_NOLOC, "LLVM has no native target on this host");
        return NULL;
    }
    char *triple = LLVMGetDefaultTargetTriple(), *err = NULL;
    LLVMTargetRef target;
    if (LLVMGetTargetFromTriple(triple, &target, &err)) {
        ir_error(d, IR_NOLOC, "LLVM target '%s': %s", triple, err);
        LLVMDisposeMessage(err), LLVMDisposeMessage(triple);
        return NULL;
    }
    /* A generic CPU: the bitcode must not depend on the compiling host's
     * features (the runtime's JIT picks its own). */
    LLVMTargetMachineRef tm = LLVMCreateTargetMachine(
        target, triple, "generic", "", LLVMCodeGenLevelDefault, LLVMRelocPIC, LLVMCodeModelDefault);
    LLVMDisposeMessage(triple);
    return tm;
}

static void generate(const cg_plan *pl, LLVMTargetMachineRef tm, int index, cg_program *out) {
    gen G = {0};
    G.pl = pl;
    G.c = LLVMContextCreate();
    char name[32];
    snprintf(name, sizeof name, "wsc_program_%d", index);
    G.m = LLVMModuleCreateWithNameInContext(name, G.c);
    char *triple = LLVMGetTargetMachineTriple(tm);
    LLVMSetTarget(G.m, triple);
    LLVMDisposeMessage(triple);
    LLVMTargetDataRef td = LLVMCreateTargetDataLayout(tm);
    LLVMSetModuleDataLayout(G.m, td);
    LLVMDisposeTargetData(td);
    G.b = LLVMCreateBuilderInContext(G.c);
    G.i1 = LLVMInt1TypeInContext(G.c);
    G.i8 = LLVMInt8TypeInContext(G.c);
    G.i32 = LLVMInt32TypeInContext(G.c);
    G.i64 = LLVMInt64TypeInContext(G.c);
    G.f32 = LLVMFloatTypeInContext(G.c);
    G.f64 = LLVMDoubleTypeInContext(G.c);
    G.ptr = LLVMPointerTypeInContext(G.c, 0);
    G.vd = LLVMVoidTypeInContext(G.c);
    G.t_sram = LLVMFunctionType(G.ptr, &G.ptr, 1, 0);
    G.t_send = LLVMFunctionType(G.vd, (LLVMTypeRef[]){G.ptr, G.i32, G.i32}, 3, 0);
    G.t_charge = LLVMFunctionType(G.vd, (LLVMTypeRef[]){G.ptr, G.i32}, 2, 0);
    G.t_task = G.t_send;
    G.t_init = LLVMFunctionType(G.vd, &G.ptr, 1, 0);
    G.t_helper = LLVMFunctionType(G.vd, (LLVMTypeRef[]){G.ptr, G.ptr}, 2, 0);
    G.t_void0 = LLVMFunctionType(G.vd, NULL, 0, 0);
    G.f_sram = LLVMAddFunction(G.m, "wse_sram", G.t_sram);
    G.f_send = LLVMAddFunction(G.m, "wse_send", G.t_send);
    G.f_charge = LLVMAddFunction(G.m, "wse_charge", G.t_charge);
    G.f_activate = LLVMAddFunction(G.m, "wse_activate", G.t_charge);
    build(&G);

    char *msg = NULL;
    if (LLVMVerifyModule(G.m, LLVMReturnStatusAction, &msg))
        ir_internal_error("codegen: program %d (%s) does not verify: %s", index, pl->key, msg);
    LLVMDisposeMessage(msg);
    LLVMPassBuilderOptionsRef po = LLVMCreatePassBuilderOptions();
    LLVMErrorRef e = LLVMRunPasses(G.m, "default<O2>", tm, po);
    LLVMDisposePassBuilderOptions(po);
    if (e) {
        char *em = LLVMGetErrorMessage(e);
        ir_internal_error("codegen: optimizing program %d failed: %s", index, em);
    }
    msg = NULL;
    if (LLVMVerifyModule(G.m, LLVMReturnStatusAction, &msg))
        ir_internal_error("codegen: program %d does not verify after O2: %s", index, msg);
    LLVMDisposeMessage(msg);

    LLVMMemoryBufferRef mb = LLVMWriteBitcodeToMemoryBuffer(G.m);
    out->len = LLVMGetBufferSize(mb);
    out->bitcode = ir_xmalloc(out->len + 1);
    memcpy(out->bitcode, LLVMGetBufferStart(mb), out->len);
    LLVMDisposeMemoryBuffer(mb);
    LLVMDisposeBuilder(G.b);
    LLVMDisposeModule(G.m);
    LLVMContextDispose(G.c);
}

bool cg_generate(const ir_graph *g, const ir_kgraph *kg, const ir_target *t, cg_programs *out,
                 ir_diag *d) {
    memset(out, 0, sizeof *out);
    LLVMTargetMachineRef tm = host_machine(d);
    if (!tm) return false;
    out->nk = kg->nk;
    out->prog_of = ir_xcalloc((size_t)kg->nk + 1, sizeof *out->prog_of);
    out->names = ir_xcalloc((size_t)kg->nk + 1, sizeof *out->names);
    out->unsupported = ir_xcalloc((size_t)kg->nk + 1, sizeof *out->unsupported);
    out->p = ir_xcalloc((size_t)kg->nk + 1, sizeof *out->p);
    cg_plan *plans = ir_xcalloc((size_t)kg->nk + 1, sizeof *plans);
    cg_plan *pl = ir_xmalloc(sizeof *pl);
    for (int32_t i = 0; i < kg->nk; i++) {
        out->names[i] = ir_xstrdup(kg->k[i].name);
        cg_plan_kernel(g, &kg->k[i], pl);
        int32_t j = 0;
        while (j < out->n && strcmp(out->p[j].key, pl->key) != 0)
            j++;
        if (j == out->n) {
            cg_program *p = &out->p[out->n++];
            plans[j] = *pl;
            p->kind = pl->kind;
            p->dtype = pl->dtype;
            p->key = ir_xstrdup(pl->key);
            p->supported = pl->supported;
            p->why = pl->supported ? NULL : ir_xstrdup(pl->why);
            p->kernels = ir_xmalloc(sizeof(int32_t) * ((size_t)kg->nk + 1));
        }
        cg_program *p = &out->p[j];
        p->kernels[p->nkernels++] = i;
        out->prog_of[i] = j;
        if (!p->supported) out->unsupported[out->nunsupported++] = i;
    }
    for (int32_t j = 0; j < out->n; j++)
        generate(&plans[j], tm, j, &out->p[j]);
    free(pl);
    free(plans);
    LLVMDisposeTargetMachine(tm);
    return true;
}

void cg_programs_free(cg_programs *p) {
    for (int32_t j = 0; j < p->n; j++) {
        free(p->p[j].key), free(p->p[j].why), free(p->p[j].bitcode), free(p->p[j].kernels);
    }
    for (int32_t i = 0; i < p->nk; i++)
        free(p->names ? p->names[i] : NULL);
    free(p->names), free(p->p), free(p->prog_of), free(p->unsupported);
    memset(p, 0, sizeof *p);
}

void cg_print_llvm(const cg_programs *p, FILE *out) {
    for (int32_t j = 0; j < p->n; j++) {
        const cg_program *q = &p->p[j];
        fprintf(out, "; program %d: %s %s, used by kernels", j, ir_kkind_name(q->kind),
                ir_dtype_name(q->dtype));
        for (int32_t i = 0; i < q->nkernels; i++)
            fprintf(out, "%s %s", i ? "," : "", p->names[q->kernels[i]]);
        fprintf(out, "\n; key: %s\n", q->key);
        if (!q->supported) fprintf(out, "; unsupported: %s\n", q->why);
        LLVMContextRef c = LLVMContextCreate();
        LLVMMemoryBufferRef mb =
            LLVMCreateMemoryBufferWithMemoryRangeCopy((const char *)q->bitcode, q->len, "prog");
        LLVMModuleRef m;
        if (LLVMParseBitcodeInContext2(c, mb, &m))
            ir_internal_error("codegen: program %d's bitcode does not read back", j);
        char *text = LLVMPrintModuleToString(m);
        fputs(text, out);
        fputc('\n', out);
        LLVMDisposeMessage(text);
        LLVMDisposeModule(m);
        LLVMDisposeMemoryBuffer(mb);
        LLVMContextDispose(c);
    }
}
