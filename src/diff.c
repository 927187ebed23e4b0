/* portredir diff: what apply would change, with exit 1 when anything
 * would. Exactly apply --dry-run. */
#include "apply.h"
#include "command.h"

enum outcome diff_main(const struct options *options)
{
	return apply_run(options, true);
}
