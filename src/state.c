/* Names of the managed objects, and the kernel state's destructor. */
#include <stdlib.h>
#include "state.h"

const char *chain_name(enum chain chain)
{
	return chain == CHAIN_PREROUTING ? "prerouting" : "output";
}

const char *map_name(enum protocol protocol)
{
	return protocol == PROTOCOL_TCP ? "tcp_redirects" : "udp_redirects";
}

const char *owned_set_name(enum protocol protocol)
{
	return protocol == PROTOCOL_TCP ? "tcp_owned" : "udp_owned";
}

const char *owner_set_name(enum protocol protocol)
{
	return protocol == PROTOCOL_TCP ? "tcp_owners" : "udp_owners";
}

struct table_state *table_state_new(void)
{
	struct table_state *state = calloc(1, sizeof(*state));

	if (!state)
		return NULL;
	state->mapping = mapping_new();
	if (!state->mapping) {
		free(state);
		return NULL;
	}
	return state;
}

void table_state_free(struct table_state *state)
{
	if (!state)
		return;
	mapping_free(state->mapping);
	free(state);
}
