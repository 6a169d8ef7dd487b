/* help.c - `wsc help` and the help pages of the commands, the passes and the
 * targets. Option lines come from the parser's table, so the pages cannot
 * drift from what the parser accepts. */
#include "driver.h"
#include "pass.h"

#include <string.h>

void drv_print_overview(FILE *out) {
    fputs("wsc - a compiler that maps neural-network models onto wafer-scale meshes\n\n"
          "usage: wsc COMMAND [OPTIONS] ...\n\n"
          "commands:\n",
          out);
    for (int i = 0; i < drv_ncommands; i++)
        fprintf(out, "  %-8s %s\n", drv_commands[i].name, drv_commands[i].summary);
    fputs("\n'wsc help COMMAND' describes a command and its options; 'wsc help passes' lists\n"
          "the IR passes and 'wsc help targets' the machines.\n\n"
          "exit status: 0 success, 1 bad input (a diagnostic says why), 2 bad command-line\n"
          "usage, 70 internal error (a bug in wsc)\n",
          out);
}

void drv_print_command_help(const drv_command *cmd, FILE *out) {
    fprintf(out, "usage: %s\n\n%s", cmd->usage, cmd->about);
    if (cmd->planned) {
        fprintf(out,
                "\n'wsc %s' is not implemented yet: it arrives in a later release and exits\n"
                "with status 1 until then. Its planned options:\n%s",
                cmd->name, cmd->planned);
        return;
    }
    fputs("\noptions:\n", out);
    drv_print_options(cmd->opts, cmd->name, out);
    if (cmd->opts & OPT_BIT(OPT_DUMP_AFTER))
        fputs("\n--emit kernels|llvm, --target and --fabric matter to 'compile' only;\n"
              "'wsc help passes' lists the passes, 'wsc help targets' the targets.\n\n"
              "environment:\n"
              "  WSC_VERIFY=1               verify the IR after every pass (on in debug builds)\n",
              out);
}

void drv_print_pass_names(FILE *out) {
    if (pass_count == 0) fputs("none", out);
    for (int i = 0; i < pass_count; i++)
        fprintf(out, "%s%s", i ? ", " : "", pass_table[i].name);
}

static void print_passes(FILE *out) {
    fputs("The IR pass pipeline, in the order it runs ('check' and 'eval' run all of it):\n\n",
          out);
    for (int i = 0; i < pass_count; i++)
        fprintf(out, "  %-14s %s\n", pass_table[i].name, pass_table[i].help);
    fputs("\n--dump-after PASS prints the IR after PASS (--dump-after all: after every pass)\n"
          "and --stop-after PASS ends the pipeline there; both print on standard output.\n",
          out);
}

int drv_help_main(int argc, char **argv) {
    if (argc < 2) {
        drv_print_overview(stdout);
        return IR_EXIT_OK;
    }
    if (argc > 2) return drv_usage_error(NULL, "'help' takes one topic, not %d", argc - 1);
    const char *topic = argv[1];
    if (strcmp(topic, "-h") == 0 || strcmp(topic, "--help") == 0) {
        drv_print_command_help(drv_command_lookup("help"), stdout);
        return IR_EXIT_OK;
    }
    if (strcmp(topic, "passes") == 0) {
        print_passes(stdout);
        return IR_EXIT_OK;
    }
    if (strcmp(topic, "targets") == 0) {
        ir_target_help(stdout);
        return IR_EXIT_OK;
    }
    const drv_command *cmd = drv_command_lookup(topic);
    if (!cmd)
        return drv_usage_error(NULL, "no help for '%s' (topics: a command, passes, targets)",
                               topic);
    drv_print_command_help(cmd, stdout);
    return IR_EXIT_OK;
}
