/* jit.c - the runtime's one JIT interface: compiles a PE program's bitcode
 * natively with LLVM's ORC LLJIT (the only use of LLVM outside codegen/).
 * The ABI calls resolve to the caller's implementations (the simulator's,
 * or a test's), math functions to the host process (libm). */
#include "rt.h"

#include <llvm-c/Target.h>
#include <pthread.h>

#include <llvm-c/BitReader.h>
#include <llvm-c/Core.h>
#include <llvm-c/LLJIT.h>
#include <llvm-c/Orc.h>

#include <stdlib.h>
#include <string.h>

struct rt_jit {
    LLVMOrcLLJITRef jit; /* owns the compiled module */
};

static char *take_error(LLVMErrorRef e) {
    char *m = LLVMGetErrorMessage(e);
    char *s = ir_xstrdup(m);
    LLVMDisposeErrorMessage(m);
    return s;
}

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static bool init_ok;

static void do_init(void) {
    init_ok = !LLVMInitializeNativeTarget() && !LLVMInitializeNativeAsmPrinter();
}

rt_jit *rt_jit_load(const void *bitcode, size_t len, const rt_symbol *imports, int nimports,
                    char **err) {
    *err = NULL;
    pthread_once(&init_once, do_init);
    if (!init_ok) {
        *err = ir_xstrdup("LLVM has no native target on this host");
        return NULL;
    }
    LLVMOrcLLJITRef jit;
    LLVMErrorRef e = LLVMOrcCreateLLJIT(&jit, LLVMOrcCreateLLJITBuilder());
    if (e) {
        *err = take_error(e);
        return NULL;
    }
    LLVMOrcJITDylibRef jd = LLVMOrcLLJITGetMainJITDylib(jit);
    LLVMOrcDefinitionGeneratorRef host;
    e = LLVMOrcCreateDynamicLibrarySearchGeneratorForProcess(
        &host, LLVMOrcLLJITGetGlobalPrefix(jit), NULL, NULL);
    if (!e) {
        LLVMOrcJITDylibAddGenerator(jd, host);
        LLVMOrcCSymbolMapPair *syms = ir_xcalloc((size_t)nimports + 1, sizeof *syms);
        for (int i = 0; i < nimports; i++) {
            syms[i].Name = LLVMOrcLLJITMangleAndIntern(jit, imports[i].name);
            syms[i].Sym.Address = (LLVMOrcExecutorAddress)(uintptr_t)imports[i].addr;
            syms[i].Sym.Flags.GenericFlags =
                LLVMJITSymbolGenericFlagsExported | LLVMJITSymbolGenericFlagsCallable;
        }
        e = LLVMOrcJITDylibDefine(jd, LLVMOrcAbsoluteSymbols(syms, (size_t)nimports));
        free(syms);
    }
    if (!e) {
        LLVMOrcThreadSafeContextRef tsc = LLVMOrcCreateNewThreadSafeContext();
        LLVMMemoryBufferRef mb =
            LLVMCreateMemoryBufferWithMemoryRangeCopy((const char *)bitcode, len, "program");
        LLVMModuleRef m;
        if (LLVMParseBitcodeInContext2(LLVMOrcThreadSafeContextGetContext(tsc), mb, &m)) {
            LLVMDisposeMemoryBuffer(mb);
            LLVMOrcDisposeThreadSafeContext(tsc);
            LLVMOrcDisposeLLJIT(jit);
            *err = ir_xstrdup("the program's bitcode does not parse");
            return NULL;
        }
        LLVMDisposeMemoryBuffer(mb);
        LLVMOrcThreadSafeModuleRef tsm = LLVMOrcCreateNewThreadSafeModule(m, tsc);
        LLVMOrcDisposeThreadSafeContext(tsc);
        e = LLVMOrcLLJITAddLLVMIRModule(jit, jd, tsm);
    }
    if (e) {
        *err = take_error(e);
        LLVMOrcDisposeLLJIT(jit);
        return NULL;
    }
    rt_jit *j = ir_xcalloc(1, sizeof *j);
    j->jit = jit;
    return j;
}

void *rt_jit_entry(rt_jit *j, const char *name) {
    LLVMOrcExecutorAddress a = 0;
    LLVMErrorRef e = LLVMOrcLLJITLookup(j->jit, &a, name);
    if (e) {
        LLVMConsumeError(e);
        return NULL;
    }
    return (void *)(uintptr_t)a;
}

void rt_jit_free(rt_jit *j) {
    if (!j) return;
    LLVMErrorRef e = LLVMOrcDisposeLLJIT(j->jit);
    if (e) LLVMConsumeError(e);
    free(j);
}
