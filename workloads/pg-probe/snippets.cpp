// The catalogue's snippets as code (catalogue.h): each entry assembled once
// as 64-bit code and twice as 32-bit code, for compatibility mode and for
// legacy protected mode (two copies, so that a VM exit's RIP says which
// mode it came from), in a section of its own, with its three labels, and
// the table that names them.
#include "workloads/pg-probe/probe.h"

#define PG_SNIPPET(label, mode, pre, insn, post)                                                        \
  ".pushsection .text.pg_snippets, \"ax\"\n" mode "\n" "pg_" label "_start:\n" pre "\n" "pg_" label \
  "_insn:\n" insn "\n" post "\n" "pg_" label "_end:\n ud2\n .code64\n .popsection\n"

// An entry without a 32-bit variant still gets its (empty) labels; the
// table leaves it out.
#define PG_EMIT(id, pre64, insn64, post64, pre32, insn32, post32, input, outputs, flags) \
  asm(PG_SNIPPET(#id "_64", ".code64", pre64, insn64, post64));                         \
  asm(PG_SNIPPET(#id "_32", ".code32", pre32, insn32, post32));                          \
  asm(PG_SNIPPET(#id "_pm", ".code32", pre32, insn32, post32));
PG_CATALOGUE(PG_EMIT)

#define PG_DECLARE(id, ...)                                                                          \
  extern "C" const char pg_##id##_64_start[], pg_##id##_64_insn[], pg_##id##_64_end[], pg_##id##_32_start[], \
      pg_##id##_32_insn[], pg_##id##_32_end[], pg_##id##_pm_start[], pg_##id##_pm_insn[], pg_##id##_pm_end[];
PG_CATALOGUE(PG_DECLARE)

namespace pg {

#define PG_ENTRY(id, pre64, insn64, post64, pre32, insn32, post32, input, outputs, flags)                 \
  Entry{#id,                                                                                         \
        insn64,                                                                                      \
        insn32,                                                                                      \
        {pg_##id##_64_start, pg_##id##_64_insn, pg_##id##_64_end},                                   \
        {sizeof(insn32) > 1 ? pg_##id##_32_start : nullptr, pg_##id##_32_insn, pg_##id##_32_end}, \
        {sizeof(insn32) > 1 ? pg_##id##_pm_start : nullptr, pg_##id##_pm_insn, pg_##id##_pm_end}, \
        input,                                                                                       \
        outputs,                                                                                     \
        flags},
const Entry CATALOGUE[] = {PG_CATALOGUE(PG_ENTRY)};
const unsigned CATALOGUE_SIZE = sizeof(CATALOGUE) / sizeof(CATALOGUE[0]);

}  // namespace pg
