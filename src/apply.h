/* The engine apply, diff and watch share: read the kernel, plan, send the
 * plan (re-planning when the ruleset moved), then write the sysctl. */
#ifndef APPLY_H
#define APPLY_H

#include <stdbool.h>
#include <stdint.h>
#include "command.h"
#include "mapping.h"

struct cgroup_resolution;
struct kernel;
struct kernel_read;
struct plan;

/* Reads the kernel (or finishes the background read), plans, and unless
 * dry_run applies, re-planning when the ruleset moved; then writes the
 * sysctl. Prints its errors. Returns 0 or -errno, and the plan: also on a
 * failure that came after the rules were applied (the sysctl), so that the
 * caller can say what was done. ret_generation (may be NULL) receives the
 * ruleset generation the kernel should be at if nobody else committed: the
 * one read, plus one for a batch sent. groups: what the mapping's owners
 * name now (operations.h's command_resolve_owners()), NULL without any. */
int apply_mapping(const struct options *options, struct kernel *kernel, struct kernel_read *background,
		  const struct mapping *desired, const struct cgroup_resolution *groups, bool dry_run,
		  struct plan **ret_plan, uint32_t *ret_generation);

/* apply and diff: load the mapping, read the kernel, plan, and either
 * print the plan (dry run) or send it and print what was done. */
enum outcome apply_run(const struct options *options, bool dry_run);

#endif
