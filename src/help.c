/* portredir help [COMMAND] and portredir version (also --help and
 * --version): the command table of options.c, printed. */
#include "command.h"
#include "options.h"
#include "output.h"

enum outcome help_main(const struct options *options)
{
	output_help(options, options->topic ? command_find(options->topic) : NULL);
	return OUTCOME_OK;
}

enum outcome version_main(const struct options *options)
{
	output_version(options);
	return OUTCOME_OK;
}
