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

const char *gate_chain_name(enum gate_chain chain)
{
	return chain == GATE_CHAIN_INPUT ? INPUT_CHAIN_NAME : OWNER_CHECK_CHAIN_NAME;
}

int owned_port_compare(const struct owned_port *a, const struct owned_port *b)
{
	if (a->protocol != b->protocol)
		return a->protocol < b->protocol ? -1 : 1;
	return a->port < b->port ? -1 : a->port > b->port;
}

int owner_element_compare(const struct owner_element *a, const struct owner_element *b)
{
	if (a->protocol != b->protocol)
		return a->protocol < b->protocol ? -1 : 1;
	if (a->port != b->port)
		return a->port < b->port ? -1 : 1;
	return a->id < b->id ? -1 : a->id > b->id;
}

const char *owned_set_name(enum protocol protocol)
{
	return protocol == PROTOCOL_TCP ? "tcp_owned" : "udp_owned";
}

const char *owner_set_name(enum protocol protocol)
{
	return protocol == PROTOCOL_TCP ? "tcp_owners" : "udp_owners";
}

const char *count_set_name(enum protocol protocol)
{
	return protocol == PROTOCOL_TCP ? "tcp_counts" : "udp_counts";
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
	free(state->owned);
	free(state->owner_elements);
	free(state);
}
