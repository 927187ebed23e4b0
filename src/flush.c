/* portredir flush: delete the managed table, and only it. Idempotent. */
#include <errno.h>
#include "command.h"
#include "kernel.h"

enum outcome flush_main(const struct options *options)
{
	struct kernel_error error = { "", "" };
	struct kernel *kernel = NULL;
	enum outcome outcome = OUTCOME_ERROR;
	int r;

	r = kernel_open(&kernel, &error);
	if (r < 0) {
		print_kernel_error("cannot open a netfilter netlink socket", r, &error, true);
		goto out;
	}
	/* Not bound to a generation: deleting is right whatever else changed. */
	r = kernel_delete_table(kernel, 0, &error);
	if (r == -ENOENT) {
		print_verbose(options, "table inet portredir does not exist; nothing to do");
		outcome = OUTCOME_OK;
		goto out;
	}
	if (r < 0) {
		print_kernel_error("cannot delete table inet portredir", r, &error, true);
		goto out;
	}
	if (!options->quiet && !options->json)
		printf("- table inet portredir\n");
	outcome = OUTCOME_OK;
out:
	kernel_close(kernel);
	return outcome;
}
